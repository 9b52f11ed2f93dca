"""Several processes on one library: two `lantern serve` processes over the same store and the
same `chroma run`, while a third process ingests more documents into it. Every request during
the ingest must succeed, and once it ends both servers (and a fresh `lantern ask`) must answer
each question from the same sources, the new documents included: each server notices the
ledger's new generation, reloads its keyword index and reads the new vectors from the server."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import (
    CORPUS,
    copy_with_manifest,
    lantern_command,
    run_lantern,
    unavailable,
)

from core.local_server import free_port, stop_process

pytestmark = pytest.mark.integration

FIRST = ("unodc-human-trafficking-indicators.pdf",)  # in the library before the servers start
LATER = ("fbi-ucr-human-trafficking-2014.pdf", "uk-home-office-nrm-first-responder-form-offline-prompt-sheet-2026.pdf")
QUESTIONS = (  # (question, the document that answers it)
    ("Which signs suggest that a person may be a victim of trafficking?", FIRST[0]),
    ("How many human trafficking offenses did police agencies report to the FBI?", LATER[0]),
    ("What should a first responder record on the referral form?", LATER[1]),
)


def _sources(reply: dict) -> list[tuple[str, int | None]]:
    return [(hit["source"], hit["page"]) for hit in reply["retrieved"]]


class Server:
    """`lantern serve` in its own process, on a free loopback port."""

    def __init__(self, store: Path, chroma: str, log: Path):
        self.port = free_port()
        self.log = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*lantern_command(), "serve", "--store", str(store), "--chroma", chroma, "--serve-port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=120)
        self.logfile = log

    def wait_ready(self, deadline: float) -> None:
        while True:
            try:
                if self.http.get("/v1/status").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"lantern serve did not start: {self.logfile.read_text()[-2000:]}")
            time.sleep(0.3)

    def ask(self, question: str) -> dict:
        reply = self.http.post("/v1/ask", json={"question": question})
        assert reply.status_code == 200, reply.text[:500]
        return reply.json()

    def stop(self) -> None:
        self.http.close()
        stop_process(self.proc, 20)
        self.log.close()


@pytest.fixture
def library(tmp_path: Path, chroma_server: str) -> Path:
    """A store on the Chroma server holding FIRST; LATER waits in another folder."""
    if not CORPUS.is_dir():
        unavailable("shared corpus not beside the checkout")
    copy_with_manifest(CORPUS / "pdf", FIRST, tmp_path / "first")
    copy_with_manifest(CORPUS / "pdf", LATER, tmp_path / "later")
    done = run_lantern("ingest", tmp_path / "first", "--store", tmp_path / "store", "--chroma", chroma_server, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    return tmp_path


@pytest.fixture
def servers(library: Path, chroma_server: str) -> Iterator[list[Server]]:
    started = [Server(library / "store", chroma_server, library / f"serve{i}.log") for i in (1, 2)]
    try:
        deadline = time.monotonic() + 180
        for server in started:
            server.wait_ready(deadline)
        yield started
    finally:
        for server in started:
            server.stop()


def test_two_servers_and_an_ingest_share_one_library(library: Path, chroma_server: str, servers: list[Server]) -> None:
    before = [_sources(s.ask(QUESTIONS[0][0])) for s in servers]
    assert before[0] == before[1] and before[0]

    ingest = subprocess.Popen(
        [*lantern_command(), "ingest", str(library / "later"), "--store", str(library / "store"),
         "--chroma", chroma_server, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    answered = 0
    deadline = time.monotonic() + 600
    while ingest.poll() is None and time.monotonic() < deadline:  # questions while the ingest writes
        for server in servers:
            for question, _ in QUESTIONS:
                reply = server.ask(question)  # asserts a 200
                assert reply["retrieved"] or reply["abstained"]
                answered += 1
        time.sleep(0.5)  # steady traffic, not a load test: leave the ingest its CPU
    out, err = ingest.communicate(timeout=60)
    assert ingest.returncode == 0, err[-2000:]
    report = json.loads(out)
    assert report["added"] == len(LATER) and report["documents"] == len(FIRST) + len(LATER)
    assert answered >= len(QUESTIONS) * len(servers), "some questions were asked while the ingest ran"

    for server in servers:
        status = server.http.get("/v1/status").json()
        assert status["documents"] == len(FIRST) + len(LATER)
    for question, answering_document in QUESTIONS:
        replies = [server.ask(question) for server in servers]
        fresh = run_lantern("ask", question, "--store", library / "store", "--chroma", chroma_server, "--json")
        assert fresh.returncode == 0, fresh.stderr[-2000:]
        sources = [_sources(r) for r in (*replies, json.loads(fresh.stdout))]
        assert sources[0] == sources[1] == sources[2], question
        assert sources[0][0][0].endswith(answering_document), (question, sources[0][:3])
        assert [c["source"] for c in replies[0]["citations"]] == [c["source"] for c in replies[1]["citations"]]
