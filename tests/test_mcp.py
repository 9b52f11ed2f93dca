"""`lantern mcp` driven by the official MCP SDK's client: over stdio, as a subprocess."""

from __future__ import annotations

import json
import os
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from assistant.spans import clean
from core.settings import Settings

pytestmark = pytest.mark.integration  # the MCP server as a subprocess and over HTTP

try:  # `python -m pytest` puts the repo root on sys.path; plain `pytest` puts tests/ there.
    from tests.conftest import lantern_command
except ImportError:  # pragma: no cover
    from conftest import lantern_command  # type: ignore[no-redef]

QUESTION = "What does the non-punishment principle say about victims of trafficking?"


def _stdio(settings: Settings) -> StdioServerParameters:
    command, *args = lantern_command()
    env = {k: v for k, v in os.environ.items() if k.startswith(("PYTHON", "HF_", "LANTERN_", "TIKTOKEN"))}
    return StdioServerParameters(command=command, args=[*args, "mcp", "--store", str(settings.store)], env=env)


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return dict(result.structured_content)
    return json.loads(result.content[0].text)


def test_stdio_tools_list_and_answer_with_citations(sample_store: Settings) -> None:
    async def session() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with Client(_stdio(sample_store), read_timeout_seconds=120) as client:
            out["tools"] = {t.name: t for t in (await client.list_tools()).tools}
            out["ask"] = _data(await client.call_tool("ask", {"question": QUESTION}))
            out["search"] = _data(await client.call_tool("search", {"question": QUESTION, "top_k": 2}))
            out["docs"] = _data(await client.call_tool("list_documents", {}))
            chunk_id = out["ask"]["citations"][0]["chunk_id"]
            out["passage"] = _data(await client.call_tool("get_passage", {"chunk_id": chunk_id}))
            out["page"] = _data(await client.call_tool("get_passage", {"source": "first-responder-checklist.pdf",
                                                                       "page": 2}))
            out["unknown"] = await client.call_tool("get_passage", {"source": "missing.pdf"})
            out["no_match"] = await client.call_tool("ask", {"question": QUESTION, "filters": {"source": "nope"}})
        return out

    out = anyio.run(session)
    assert set(out["tools"]) == {"ask", "search", "list_documents", "get_passage"}
    assert "question" in out["tools"]["ask"].input_schema["required"]
    ask = out["ask"]
    assert "[1]" in ask["answer"] and not ask["abstained"]
    citation = ask["citations"][0]
    assert citation["source"] == "victim-support.md" and clean(citation["quote"]) in ask["answer"]  # shown as read
    assert citation["quote"] in out["passage"]["text"] and out["passage"]["source"] == "victim-support.md"
    assert len(out["search"]["retrieved"]) == 2
    assert len(out["docs"]["documents"]) == 6
    assert out["page"]["page"] == 2 and out["page"]["text"]
    for failed, says in ((out["unknown"], "missing.pdf"), (out["no_match"], "nope")):
        assert failed.is_error and says in failed.content[0].text


@pytest.mark.parametrize("host", ["0.0.0.0"])
def test_mcp_http_refuses_a_public_address_without_keys(lantern_cli: Any, sample_store: Settings, host: str) -> None:
    done = lantern_cli("mcp", "--http", "--store", sample_store.store, "--serve-host", host, timeout=60)
    assert done.returncode == 2 and "without an API key" in done.stderr


def test_streamable_http_with_a_key(sample_store: Settings) -> None:
    import socket
    import subprocess
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LANTERN_API_KEYS": "secret"}
    proc = subprocess.Popen([*lantern_command(), "mcp", "--http", "--store", str(sample_store.store),
                             "--serve-port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                refused = httpx.post(url, json={})
                break
            except httpx.ConnectError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.2)
        assert refused.status_code == 401

        async def session() -> dict[str, Any]:
            import httpx2  # the MCP SDK's HTTP client
            from mcp.client.streamable_http import streamable_http_client

            http = httpx2.AsyncClient(headers={"Authorization": "Bearer secret"}, timeout=60)
            async with http, Client(streamable_http_client(url, http_client=http)) as client:
                return _data(await client.call_tool("ask", {"question": QUESTION}))

        answer = anyio.run(session)
        assert answer["citations"][0]["source"] == "victim-support.md"
    finally:
        proc.terminate()
        proc.wait(10)
