"""A scripted, OpenAI-compatible HTTP server for tests.

Lantern talks to generators and embedders through the real ``openai`` client (directly and via
llama-index's ``OpenAILike``). Mocking the client would skip exactly the parts that break in
practice: request shapes, SSE streaming, error mapping, timeouts. This server speaks the wire
protocol on 127.0.0.1 instead, with replies scripted by the test, using only the standard library.

Usage::

    with ScriptedOpenAIServer(replies=["Hello [1]."]) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0)
        client.chat.completions.create(model="m", messages=[...])
        assert srv.requests[-1]["_path"] == "/v1/chat/completions"

A reply is one of:

* ``str``: the assistant message content;
* a callable ``(request_json) -> reply``: answers depending on the request (e.g. cite ``[1]``);
* a ``dict`` with optional keys ``status`` (HTTP error status, e.g. 500 or 429), ``message``
  (error text), ``delay`` (seconds to wait before answering), ``chunk_delay`` (seconds between
  streamed chunks), ``content`` (text when no status is given) and ``finish_reason``.

Only ``POST /v1/chat/completions`` consumes scripted replies; when the script is empty the
``default`` reply is used.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import math
import re
import struct
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = str | dict[str, Any] | Callable[[dict[str, Any]], Any]

_CREATED = 1_767_225_600  # fixed timestamp (2026-01-01) so responses are reproducible
_WORD = re.compile(r"[a-z0-9]+")
_PIECE_BOUNDARY = re.compile(r"(?<=\s)(?=\S)")


def fake_embedding(text: str, dim: int = 64) -> list[float]:
    """Deterministic unit vector built by feature-hashing the words of ``text``.

    Hashing words (rather than the whole string) means texts that share words get similar
    vectors, so retrieval over fake embeddings still behaves plausibly in tests.
    """
    vec = [0.0] * dim
    words = _WORD.findall(text.lower()) or [text]
    for word in words:
        digest = hashlib.sha256(word.encode("utf-8")).digest()
        index = int.from_bytes(digest[:4], "little") % dim
        vec[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0.0:  # words cancelled out: fall back to a pure hash of the string
        digest = hashlib.shake_256(text.encode("utf-8")).digest(2 * dim)
        vec = [int.from_bytes(digest[2 * i : 2 * i + 2], "little") / 32767.5 - 1.0 for i in range(dim)]
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def _count_tokens(text: str) -> int:
    """Rough token count (words); usage numbers only need to be plausible, not exact."""
    return len(text.split())


def _prompt_text(body: dict[str, Any]) -> str:
    """Concatenate message contents, including list-of-parts content, for usage counting."""
    parts: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


def split_into_deltas(text: str, words_per_chunk: int) -> list[str]:
    """Split ``text`` into pieces of a few words whose concatenation is exactly ``text``."""
    if not text:
        return []
    pieces = _PIECE_BOUNDARY.split(text)
    n = max(1, words_per_chunk)
    return ["".join(pieces[i : i + n]) for i in range(0, len(pieces), n)]


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the owning ScriptedOpenAIServer; one instance per request."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the openai client (httpx) expects
    disable_nagle_algorithm = True  # headers and body go out in separate writes; avoid 40 ms stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from base class
        """Keep test output quiet."""

    # ----- plumbing -------------------------------------------------------------------------
    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req-scripted-{self.server.owner._next_id()}")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(self, status: int, message: str, err_type: str = "invalid_request_error") -> None:
        self._send_json(
            status, {"error": {"message": message, "type": err_type, "param": None, "code": None}}
        )

    def _read_json(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None

    def _authorised(self) -> bool:
        key = self.server.owner.api_key
        if key is None:
            return True
        if self.headers.get("Authorization", "") == f"Bearer {key}":
            return True
        self._send_error(401, "Incorrect API key provided.", "invalid_request_error")
        return False

    # ----- routes ---------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        """Serve ``/v1/models``."""
        owner = self.server.owner
        path = self.path.split("?", 1)[0].rstrip("/")
        owner._record(path, "GET", {})
        if not self._authorised():
            return
        if path == "/v1/models":
            model = {"id": owner.model, "object": "model", "created": _CREATED, "owned_by": "lantern-tests"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_error(404, f"Unknown path {path}")

    def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        """Serve chat completions and embeddings."""
        owner = self.server.owner
        path = self.path.split("?", 1)[0].rstrip("/")
        body = self._read_json()
        owner._record(path, "POST", body if body is not None else {})
        if not self._authorised():
            return
        if body is None:
            self._send_error(400, "Request body is not a JSON object.")
        elif path == "/v1/chat/completions":
            self._chat(body)
        elif path == "/v1/embeddings":
            self._embeddings(body)
        else:
            self._send_error(404, f"Unknown path {path}")

    def _chat(self, body: dict[str, Any]) -> None:
        owner = self.server.owner
        reply = owner._resolve(owner._next_reply(), body)
        if reply.get("delay"):
            owner._sleep(float(reply["delay"]))
        status = int(reply.get("status", 200))
        if status >= 400:
            err_type = "rate_limit_exceeded" if status == 429 else "server_error"
            self._send_error(status, str(reply.get("message", f"scripted failure ({status})")), err_type)
            return
        content = str(reply.get("content", ""))
        finish = str(reply.get("finish_reason", "stop"))
        model = str(body.get("model") or owner.model)
        prompt_tokens = _count_tokens(_prompt_text(body))
        completion_tokens = _count_tokens(content)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        completion_id = f"chatcmpl-scripted-{owner._next_id()}"
        if not body.get("stream"):
            message = {"role": "assistant", "content": content, "refusal": None}
            choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            self._send_json(
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": _CREATED,
                    "model": model,
                    "choices": [choice],
                    "usage": usage,
                    "system_fingerprint": None,
                },
            )
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self._stream(completion_id, model, content, finish, usage if include_usage else None, reply)

    def _stream(
        self,
        completion_id: str,
        model: str,
        content: str,
        finish: str,
        usage: dict[str, int] | None,
        reply: dict[str, Any],
    ) -> None:
        """Send SSE chunks with chunked transfer encoding, flushing each so clients see them arrive."""
        owner = self.server.owner
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
            payload: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": _CREATED,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
            }
            if usage is not None:
                payload["usage"] = None
            return payload

        events: list[dict[str, Any]] = [chunk({"role": "assistant", "content": ""}, None)]
        events += [
            chunk({"content": piece}, None) for piece in split_into_deltas(content, owner.words_per_chunk)
        ]
        events.append(chunk({}, finish))
        if usage is not None:
            events.append(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": _CREATED,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        chunk_delay = float(reply.get("chunk_delay", 0.0))
        try:
            for i, event in enumerate(events):
                if chunk_delay and i:
                    owner._sleep(chunk_delay)
                self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())
            self._write_chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # client gave up (e.g. its timeout)
            self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _embeddings(self, body: dict[str, Any]) -> None:
        owner = self.server.owner
        raw = body.get("input", "")
        inputs: list[Any] = [raw] if isinstance(raw, str) else list(raw)
        # Token-id inputs (lists of ints) are hashed via their repr; tests only need determinism.
        texts = [item if isinstance(item, str) else json.dumps(item) for item in inputs]
        dim = int(body.get("dimensions") or owner.embedding_dim)
        as_base64 = body.get("encoding_format") == "base64"  # the openai client asks for base64 by default
        data = []
        for i, text in enumerate(texts):
            vec = fake_embedding(text, dim)
            encoded: Any = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode() if as_base64 else vec
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        tokens = sum(_count_tokens(t) for t in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": str(body.get("model") or owner.model),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its owner and never blocks shutdown on a slow handler."""

    daemon_threads = True
    block_on_close = False
    owner: ScriptedOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up mid-reply (timeouts are part of what tests script)."""


class ScriptedOpenAIServer:
    """OpenAI-compatible server on 127.0.0.1 whose chat replies are scripted by the test.

    Constructor arguments:
        replies: initial queue of replies, consumed in order by chat completions.
        default: reply used when the queue is empty.
        model: model id reported by ``/v1/models`` (and echoed when a request names none).
        api_key: if set, requests must carry ``Authorization: Bearer <api_key>`` (else 401).
        embedding_dim: length of fake embedding vectors (a request's ``dimensions`` overrides it).
        words_per_chunk: words per streamed content delta.
        host, port: where to listen; port 0 lets the OS pick a free one.
    """

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        default: Reply = "OK",
        model: str = "scripted-model",
        api_key: str | None = None,
        embedding_dim: int = 64,
        words_per_chunk: int = 3,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.default = default
        self.model = model
        self.api_key = api_key
        self.embedding_dim = embedding_dim
        self.words_per_chunk = words_per_chunk
        self.requests: list[dict[str, Any]] = []
        self._replies: collections.deque[Reply] = collections.deque(replies)
        self._lock = threading.Lock()
        self._ids = 0
        self._closing = threading.Event()
        self._host, self._port = host, port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle ----------------------------------------------------------------------------
    def start(self) -> ScriptedOpenAIServer:
        """Bind and serve in a daemon thread; binding here keeps an unused instance socket-free."""
        if self._httpd is not None:
            return self
        self._closing.clear()
        httpd = _Server((self._host, self._port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="scripted-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; pending ``delay`` sleeps are cut short so tests never wait on teardown."""
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----- public helpers ---------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (the OS-chosen one when constructed with port 0)."""
        if self._httpd is None:
            raise RuntimeError(
                "ScriptedOpenAIServer is not running; use it as a context manager or call start()"
            )
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url``/``api_base``: the root plus ``/v1``."""
        return f"{self.url}/v1"

    def script(self, *replies: Reply) -> None:
        """Append replies to the queue consumed by chat completions."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not yet consumed."""
        with self._lock:
            return len(self._replies)

    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies received on ``/v1/chat/completions``, in order."""
        with self._lock:
            return [r for r in self.requests if r["_path"] == "/v1/chat/completions"]

    def last_user_message(self) -> str:
        """Content of the last user message of the last chat request (what the model was asked)."""
        for request in reversed(self.chat_requests()):
            for message in reversed(request.get("messages") or []):
                if message.get("role") == "user":
                    return _prompt_text({"messages": [message]})
        raise LookupError("no chat request with a user message has been received")

    # ----- internals used by the handler ------------------------------------------------------
    def _record(self, path: str, method: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append({**body, "_path": path, "_method": method})

    def _next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._replies.popleft() if self._replies else self.default

    def _resolve(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        """Normalise a reply to a dict, calling callables (which may themselves return a dict)."""
        for _ in range(5):  # a callable may return another callable; stop runaway chains
            if callable(reply):
                reply = reply(body)
                continue
            if isinstance(reply, str):
                return {"content": reply}
            if isinstance(reply, dict):
                return reply
            raise TypeError(f"unsupported scripted reply {reply!r}")
        raise TypeError("scripted reply callables nested too deeply")

    def _sleep(self, seconds: float) -> None:
        """Wait, but wake at once when the server is stopping."""
        self._closing.wait(seconds)
