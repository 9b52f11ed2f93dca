"""Servers started on this machine for tests and bench/scale.py: a free loopback port, a real
`chroma run` on one, and ending a server that was started.

One place for these so the test fixtures and `bench/scale.py` start Chroma the same way (the
same command, environment and readiness check) and a fix reaches both.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"
CHROMA = Path(sys.executable).parent / "chroma"  # the CLI installed beside this Python


class ServerDidNotStart(RuntimeError):
    """The server exited or did not answer in time; the message ends with its log's tail."""


def free_port() -> int:
    """A TCP port nobody listens on now, on 127.0.0.1 (also a port to find closed)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_chroma(path: Path, log: Path, wait_s: float) -> tuple[subprocess.Popen[bytes], str]:
    """`chroma run` over the database folder `path` on a free loopback port, its output in `log`;
    returns the process and "host:port" once its heartbeat answers. Raises ServerDidNotStart
    (after killing it) when it exits or has not answered within `wait_s` seconds."""
    import httpx

    port = free_port()
    path.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:  # the child keeps its own copy of the handle
        proc = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", HOST, "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if httpx.get(f"http://{HOST}:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return proc, f"{HOST}:{port}"
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise ServerDidNotStart(log.read_text()[-2000:])
        time.sleep(0.2)


def stop_process(proc: subprocess.Popen, timeout: float = 15, group: bool = False) -> None:
    """End a server that was started: ask, then kill if it has not gone within `timeout` s.
    `group`: the server was started with `start_new_session=True` and everything in its process
    group goes (a wrapper such as strace leaves its child running when only it is ended)."""
    def send(sig: int) -> bool:
        """Signal the process (or its group); False once nothing is left to signal."""
        try:
            os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
        except ProcessLookupError:
            return False
        return True

    send(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + timeout
    while group and send(0) and time.monotonic() < deadline:  # the rest of the group, ending on SIGTERM
        time.sleep(0.2)
    if group:
        send(signal.SIGKILL)
