"""Ingest spread over a Ray cluster (`lantern ingest PATH --ray ADDRESS`, `pip install lantern[ray]`).

Only the expensive part moves: each file's bytes (and its MANIFEST.csv row) go to a Ray task
that parses, chunks and embeds it on whichever node has a free CPU, with that node's own
embedding plan (`embed_backend = auto` uses a GPU node's GPU). The driver keeps everything
that makes a run safe to kill: it hashes the files, skips unchanged ones, and writes each
result to the store as a local ingest does (mark pending, replace vectors, one SQLite
transaction), so the ledger stays the source of truth and a killed run, driver or worker, is
completed by the next. Nodes need no shared filesystem and never touch the store.
"""

from __future__ import annotations

import csv
import logging
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import IngestError, LanternError, SettingsError
from core.settings import Settings, offline_environment

from .load import SourceFile, _manifest

IN_FLIGHT_PER_CPU = 2  # tasks queued per cluster CPU: enough to keep nodes busy, bounded driver memory
MANIFEST_FIELDS = ("file", "title", "publisher", "year", "language", "license_note")

Item = tuple[SourceFile, str, bool]  # (file, content hash, already in the ledger)


def _manifest_row(path: Path) -> dict[str, str] | None:
    """The file's MANIFEST.csv row, to travel with its bytes (the loader reads it beside the file)."""
    return _manifest(path.resolve().parent).get(path.name)


def remote_work(source: str, name: str, data: bytes | None, text: str | None, metadata: dict[str, Any],
                manifest: dict[str, str] | None, sha256: str, settings: Settings):
    """One file in a Ray task: rebuilt in a private folder under its own name (with its manifest
    row), then loaded, chunked and embedded exactly as a local worker does."""
    offline_environment()  # before the model and splitter load: a Ray worker has the node's environment
    from .pipeline import _work

    with tempfile.TemporaryDirectory(prefix="lantern-ray-") as folder:
        path = Path(folder) / name
        if data is not None:
            path.write_bytes(data)
        if manifest:
            with open(Path(folder) / "MANIFEST.csv", "w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS, extrasaction="ignore")
                writer.writeheader()
                writer.writerow({**manifest, "file": name})
        return _work(SourceFile(path, source, metadata, text), sha256, settings, threads=1)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds when nothing listens at the address (Ray itself retries for minutes)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        if address == "auto":  # Ray finds the cluster this machine belongs to
            return
        raise SettingsError(f"--ray {address!r}: expected HOST:PORT (the head's GCS port, e.g. 10.0.0.5:6379) "
                            "or ray://HOST:PORT (Ray Client, port 10001)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise LanternError(f"cannot join the Ray cluster at {address}: nothing answers at {host}:{port} "
                           f"({exc.strerror or exc}); start its head with `ray start --head`") from None


class _Pending:
    """A Ray result with `Future.result()`'s shape: the task's own exception, re-raised here."""

    def __init__(self, ray: Any, ref: Any, address: str):
        self.ray, self.ref, self.address = ray, ref, address

    def result(self):
        try:
            return self.ray.get(self.ref)
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            raise (cause if isinstance(cause, Exception) else LanternError(str(exc).splitlines()[0])) from None
        except self.ray.exceptions.RayError as exc:  # a node or worker lost, after Ray's retries
            first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise LanternError(f"Ray cluster {self.address}: {first}") from None


class _Failed:
    """A file that never reached the cluster."""

    def __init__(self, error: Exception):
        self.error = error

    def result(self):
        raise self.error


class RayCluster:
    """A connection to a running Ray cluster for one ingest; `results` stands in for the
    process pool. Usage statistics stay off: Ray never reaches the internet from here."""

    def __init__(self, address: str):
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        try:
            import ray
        except ImportError:
            raise SettingsError("--ray needs Ray on this machine and on every node: pip install 'lantern[ray]'") from None
        self.ray = ray
        self.address = address
        _check_reachable(address)
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
                     configure_logging=True, ignore_reinit_error=True)
        except Exception as exc:  # ConnectionError, RuntimeError, ValueError: all mean "no cluster there"
            first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise LanternError(f"cannot join the Ray cluster at {address}: {first}") from None
        self.task = ray.remote(num_cpus=1)(remote_work)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.in_flight = max(2, IN_FLIGHT_PER_CPU * cpus)

    def results(self, todo: list[Item], settings: Settings) -> Iterator[tuple[Item, _Pending | _Failed]]:
        """(item, pending result) as tasks finish; at most `in_flight` files are on their way at once."""
        queue = list(reversed(todo))
        running: dict[Any, Item] = {}
        while queue or running:
            while queue and len(running) < self.in_flight:
                item = queue.pop()
                try:
                    running[self._submit(item, settings)] = item
                except OSError as exc:  # gone or unreadable since it was hashed
                    yield item, _Failed(IngestError(str(item[0].path), f"cannot read: {exc.strerror or exc}"))
            if not running:
                continue
            ready, _ = self.ray.wait(list(running), num_returns=1)
            for ref in ready:
                yield running.pop(ref), _Pending(self.ray, ref, self.address)

    def _submit(self, item: Item, settings: Settings) -> Any:
        sf, sha, _ = item
        data = None if sf.text is not None else sf.path.read_bytes()
        manifest = None if sf.text is not None else _manifest_row(sf.path)
        return self.task.remote(sf.source, sf.path.name, data, sf.text, dict(sf.metadata), manifest, sha, settings)

    def close(self) -> None:
        """Leave the cluster (it keeps running for other jobs)."""
        self.ray.shutdown()

