"""`lantern serve` driven by real clients: the `openai` package against the chat API (streamed
and not), httpx against the REST routes, on a uvicorn server listening on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from assistant.api import Lantern
from core.local_server import free_port
from core.settings import Settings

pytestmark = pytest.mark.integration  # uvicorn servers on 127.0.0.1 driven by real clients

QUESTION = "What does the non-punishment principle say about victims of trafficking?"


class RunningServer:
    """A uvicorn server in a thread of this process, over one open Lantern."""

    def __init__(self, lantern: Lantern, settings: Settings):
        import uvicorn

        from app.serve import create_app

        self.port = free_port()
        config = uvicorn.Config(create_app(lantern, settings), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def lantern(sample_store: Settings) -> Iterator[Lantern]:
    with Lantern.open(settings=sample_store) as opened:
        yield opened


@pytest.fixture(scope="module")
def server(lantern: Lantern, sample_store: Settings) -> Iterator[RunningServer]:
    with RunningServer(lantern, sample_store) as running:
        yield running


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def _openai(server: RunningServer, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=60)


# --- the OpenAI chat API ----------------------------------------------------------------------
def test_openai_client_gets_a_cited_answer(server: RunningServer, lantern: Lantern) -> None:
    reply = _openai(server).chat.completions.create(model="lantern", messages=[{"role": "user", "content": QUESTION}])
    content = reply.choices[0].message.content or ""
    expected = lantern.ask(QUESTION)
    assert content.startswith(expected.text)
    assert "[1]" in content and "**Sources**" in content
    citations = (reply.model_extra or {})["citations"]
    assert citations and citations == (reply.choices[0].message.model_extra or {})["citations"]
    first = citations[0]
    assert first["source"] == "victim-support.md" and first["quote"] in content
    assert "not be prosecuted or punished" in content


def test_openai_client_streams_the_same_answer(server: RunningServer) -> None:
    client = _openai(server)
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    whole = client.chat.completions.create(model="lantern", messages=messages).choices[0].message.content
    pieces, last = [], None
    for event in client.chat.completions.create(model="lantern", messages=messages, stream=True):
        pieces.append(event.choices[0].delta.content or "")
        last = event
    assert len([p for p in pieces if p]) > 1, "streamed in more than one piece"
    assert "".join(pieces) == whole
    assert last is not None and last.choices[0].finish_reason == "stop"
    assert (last.model_extra or {})["citations"][0]["source"] == "victim-support.md"


def test_follow_up_uses_the_conversation(server: RunningServer) -> None:
    client = _openai(server)
    first = client.chat.completions.create(
        model="lantern", messages=[{"role": "user", "content": "What is a reasonable-grounds decision?"}])
    follow = client.chat.completions.create(model="lantern", messages=[
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "What is a reasonable-grounds decision?"},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "how many working days should it take?"},
    ])
    assert "5 working days" in (follow.choices[0].message.content or "")


def test_models_lists_lantern_and_other_models_are_refused(server: RunningServer) -> None:
    client = _openai(server)
    assert [m.id for m in client.models.list()] == ["lantern"]
    with pytest.raises(openai.NotFoundError, match="unknown model"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])


# --- the REST routes ----------------------------------------------------------------------------
def test_ask_and_search_return_the_cli_json(http: httpx.Client, lantern: Lantern) -> None:
    got = http.post("/v1/ask", json={"question": QUESTION, "top_k": 3}).json()
    want = lantern.ask(QUESTION, top_k=3).to_dict()
    got.pop("timings_ms"), want.pop("timings_ms")
    assert got == want and got["citations"]
    search = http.post("/v1/search", json={"question": QUESTION, "filters": {"source": "victim-support.md"}}).json()
    assert search["retrieved"] == [h.to_dict() for h in lantern.retrieve(QUESTION, {"source": "victim-support.md"})]
    assert {r["source"] for r in search["retrieved"]} == {"victim-support.md"}


def test_documents_status_and_schema(http: httpx.Client) -> None:
    docs = http.get("/v1/documents").json()["data"]
    assert len(docs) == 6 and "first-responder-checklist.pdf" in {d["source"] for d in docs}
    one = http.get("/v1/documents/first-responder-checklist.pdf").json()
    assert [p["page"] for p in one["pages"]] == [1, 2]
    assert http.get("/v1/status").json()["documents"] == 6
    schema = http.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/search", "/v1/chat/completions", "/v1/models", "/v1/documents"} <= set(schema["paths"])


@pytest.mark.parametrize(("request_args", "status", "code", "says"), [
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "invalid_json", "not valid JSON"),
    ({"content": b'{"question": "x"}', "headers": {"content-type": "text/plain"}}, 400, "invalid_json",
     "application/json"),
    ({"json": {"filters": {}}}, 422, "invalid_fields", "missing field 'question'"),
    ({"json": {"question": "x", "top_k": 0}}, 422, "invalid_fields", "top_k"),
    ({"json": {"question": "x", "filters": {"source": "nope.pdf"}}}, 404, "unknown_document", "nope.pdf"),
    ({"json": {"question": "x", "filters": {"colour": "red"}}}, 400, "invalid_filter", "colour"),
    ({"json": {"question": "x" * 70_000}}, 413, "request_too_large", "64 KiB"),
])
def test_bad_requests_get_clear_json_errors(http: httpx.Client, request_args: dict[str, Any], status: int, code: str,
                                            says: str) -> None:
    response = http.post("/v1/ask", **request_args)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and says in error["message"]


def test_oversized_streamed_body_without_length_is_refused(http: httpx.Client) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(80):
            yield b" " * 1024

    response = http.post("/v1/search", content=body(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


def test_unknown_document_and_route_are_404(http: httpx.Client) -> None:
    response = http.get("/v1/documents/missing.pdf")
    assert response.status_code == 404 and "missing.pdf" in response.json()["error"]["message"]
    assert http.get("/v1/nothing").json()["error"]["code"] == "not_found"


# --- keys and exposure --------------------------------------------------------------------------
def test_api_keys_are_required_once_configured(lantern: Lantern, sample_store: Settings) -> None:
    keyed = sample_store.with_overrides(api_keys="k1, secret")
    with RunningServer(lantern, keyed) as running:
        assert httpx.get(running.url + "/v1/models").status_code == 401
        wrong = httpx.get(running.url + "/v1/models", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        assert httpx.get(running.url + "/openapi.json").status_code == 200
        with pytest.raises(openai.AuthenticationError):
            _openai(running, "nope").models.list()
        assert [m.id for m in _openai(running, "secret").models.list()] == ["lantern"]


def test_serve_refuses_a_public_address_without_keys(lantern_cli: Any, sample_store: Settings) -> None:
    done = lantern_cli("serve", "--store", sample_store.store, "--serve-host", "0.0.0.0", timeout=60)
    assert done.returncode == 2 and "without an API key" in done.stderr
