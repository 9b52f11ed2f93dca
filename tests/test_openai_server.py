"""The scripted OpenAI-compatible server speaks the protocol the real clients expect.

Other tests rely on this server to stand in for an LLM endpoint, so it is checked here against
the real ``openai`` client and llama-index's ``OpenAILike``, not against hand-built requests.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

try:  # `python -m pytest` puts the repo root on sys.path; plain `pytest` puts tests/ there.
    from tests.support.openai_server import ScriptedOpenAIServer, split_into_deltas
except ImportError:  # pragma: no cover - depends on how pytest was started
    from support.openai_server import ScriptedOpenAIServer, split_into_deltas


def _client(srv: ScriptedOpenAIServer, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0, **kwargs)


def _ask(client: openai.OpenAI, prompt: str, **kwargs: Any) -> Any:
    return client.chat.completions.create(
        model="test-model", messages=[{"role": "user", "content": prompt}], **kwargs
    )


def test_non_streaming_reply() -> None:
    with ScriptedOpenAIServer(replies=["Victims get a 30-day recovery period [1]."]) as srv:
        resp = _ask(_client(srv), "How long is the recovery period?")
    assert resp.choices[0].message.content == "Victims get a 30-day recovery period [1]."
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.object == "chat.completion"
    assert resp.usage is not None and resp.usage.total_tokens > 0
    assert srv.requests[0]["_path"] == "/v1/chat/completions"
    assert srv.requests[0]["messages"][0]["content"] == "How long is the recovery period?"


def test_replies_are_consumed_in_order_then_default() -> None:
    with ScriptedOpenAIServer(replies=["first"], default="fallback") as srv:
        client = _client(srv)
        srv.script("second")
        answers = [_ask(client, "q").choices[0].message.content for _ in range(3)]
        assert srv.pending == 0
    assert answers == ["first", "second", "fallback"]


def test_streamed_reply_reassembles_to_scripted_text() -> None:
    text = "Children under 18 are always referred; their consent is not needed [2].\nSee the checklist."
    with ScriptedOpenAIServer(replies=[text], words_per_chunk=2) as srv:
        stream = _ask(_client(srv), "Do children need to consent?", stream=True)
        chunks = list(stream)
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(contents) > 3  # really split into several deltas
    assert "".join(contents) == text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" for c in chunks)


def test_stream_include_usage_sends_final_usage_chunk() -> None:
    with ScriptedOpenAIServer(replies=["one two three four five"]) as srv:
        chunks = list(_ask(_client(srv), "count", stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
    assert all(c.usage is None for c in chunks[:-1])


def test_split_into_deltas_is_lossless() -> None:
    for text in ["", "one", "  leading and trailing  ", "a\n\nb c\td  e"]:
        assert "".join(split_into_deltas(text, 2)) == text


def test_callable_reply_sees_the_prompt() -> None:
    def answer(request: dict[str, Any]) -> str:
        prompt = request["messages"][-1]["content"]
        return "The recovery period is 30 days [1]." if "recovery" in prompt else "I don't know."

    with ScriptedOpenAIServer(default=answer) as srv:
        client = _client(srv)
        yes = _ask(client, "What is the recovery period?").choices[0].message.content
        no = _ask(client, "Something else").choices[0].message.content
        assert srv.last_user_message() == "Something else"
    assert yes == "The recovery period is 30 days [1]."
    assert no == "I don't know."


def test_scripted_500_raises_internal_server_error() -> None:
    with ScriptedOpenAIServer(replies=[{"status": 500}, "recovered"]) as srv:
        client = _client(srv)
        with pytest.raises(openai.InternalServerError):
            _ask(client, "q")
        assert _ask(client, "q").choices[0].message.content == "recovered"


def test_scripted_delay_triggers_client_timeout() -> None:
    with ScriptedOpenAIServer(replies=[{"delay": 5.0, "content": "too late"}]) as srv:
        client = _client(srv, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            _ask(client, "q")
        assert time.monotonic() - started < 3


def test_api_key_is_enforced_only_when_configured() -> None:
    with ScriptedOpenAIServer(api_key="secret") as srv:
        with pytest.raises(openai.AuthenticationError):
            _ask(_client(srv), "q")  # sends "Bearer x"
        good = openai.OpenAI(base_url=srv.base_url, api_key="secret", max_retries=0)
        assert _ask(good, "q").choices[0].message.content == "OK"
        assert httpx.get(f"{srv.base_url}/models").status_code == 401


def test_models_lists_the_configured_model() -> None:
    with ScriptedOpenAIServer(model="lantern-test") as srv:
        ids = [m.id for m in _client(srv).models.list()]
    assert ids == ["lantern-test"]


def test_embeddings_shape_and_determinism() -> None:
    texts = ["forced labour indicators", "recovery and reflection period", "forced labour indicators"]
    with ScriptedOpenAIServer(embedding_dim=64) as srv:
        client = _client(srv)
        many = client.embeddings.create(model="emb", input=texts)  # base64 on the wire by default
        as_float = client.embeddings.create(model="emb", input=texts[0], encoding_format="float")
    assert [d.index for d in many.data] == [0, 1, 2]
    vectors = [d.embedding for d in many.data]
    assert all(len(v) == 64 for v in vectors)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-5) for v in vectors)
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
    assert as_float.data[0].embedding == pytest.approx(vectors[0], abs=1e-6)


@pytest.fixture
def offline_llama_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline settings from STACK_NOTES, applied before llama-index is imported."""
    import importlib.util

    spec = importlib.util.find_spec("llama_index.core")
    assert spec is not None and spec.origin is not None
    cache = Path(spec.origin).parent / "_static" / "tiktoken_cache"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", os.environ.get("TIKTOKEN_CACHE_DIR", str(cache)))


def test_llama_index_openai_like_chat_and_stream_chat(offline_llama_env: None) -> None:
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

    text = "Forced labour has 11 ILO indicators, including debt bondage [1]."
    with ScriptedOpenAIServer(replies=[text, text]) as srv:
        llm = OpenAILike(
            model="test-model", api_base=srv.base_url, api_key="not-needed", is_chat_model=True, max_retries=0
        )
        messages = [ChatMessage(role="user", content="How many indicators?")]
        reply = llm.chat(messages)
        streamed = list(llm.stream_chat(messages))
        assert srv.chat_requests()[1].get("stream") is True
    assert reply.message.content == text
    assert len(streamed) > 1
    assert streamed[-1].message.content == text
    assert "".join(r.delta or "" for r in streamed) == text
