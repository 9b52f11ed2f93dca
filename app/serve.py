"""`lantern serve`: Lantern over HTTP, for scripts and for OpenAI-compatible chat front-ends.

    POST /v1/ask               {"question", "filters"?, "top_k"?} -> `lantern ask --json`'s answer
    POST /v1/search            same body -> {"question", "retrieved": [passage, ...]}
    POST /v1/chat/completions  the OpenAI chat API (streamed or not); answer text with [n] markers,
                               `citations` on the response and on the message, and a Markdown
                               source list appended to the content for clients that show text only
    GET  /v1/models            lists the one model, "lantern"
    GET  /v1/documents[/{source}], GET /v1/status, GET /openapi.json

Bound to a loopback address it is open; bound anywhere else it refuses to start unless API keys
are configured, and then every /v1 request needs `Authorization: Bearer <key>`. Request bodies
over 64 KiB get a 413. Every error is JSON in OpenAI's shape: {"error": {"message", "type", "code"}}.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import LanternError, SettingsError
from core.settings import Settings

from .service import MODEL_ID, LanternService, ServiceError, sources_markdown, status_of

if TYPE_CHECKING:
    from assistant.api import Lantern

MAX_BODY_BYTES = 64 * 1024
_BEARER = HTTPBearer(auto_error=False, description="one of the configured api_keys")


# --- request and response bodies ------------------------------------------------------------
class AskRequest(BaseModel):
    question: str = Field(min_length=1, description="the question")
    filters: dict[str, str | int] | None = Field(
        None, description="source, publisher, language, doc_type, title, year, year_min, year_max")
    top_k: int | None = Field(None, ge=1, le=50, description="sources to draw on (default: the top_k setting)")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # OpenAI content parts: keep the text ones
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, ... are accepted and ignored
    model: str = Field(description="must be 'lantern' (see GET /v1/models)")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    filters: dict[str, str | int] | None = Field(None, description="Lantern extension: as for /v1/ask")


class CitedMessage(BaseModel):
    role: str = "assistant"
    content: str
    citations: list[dict[str, Any]] = Field(description="Lantern extension: the checked [n] citations")


class Choice(BaseModel):
    index: int = 0
    message: CitedMessage
    finish_reason: str = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: str = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[Choice]
    citations: list[dict[str, Any]] = Field(description="Lantern extension: same as choices[0].message.citations")
    abstained: bool = Field(description="Lantern extension: true when the documents do not answer the question")


# --- exposure and keys ----------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    """Refuse to listen beyond this machine without an API key."""
    if not is_loopback(settings.serve_host) and not settings.api_key_list:
        raise SettingsError(
            f"refusing to listen on {settings.serve_host} without an API key: set api_keys "
            "(LANTERN_API_KEYS=key1,key2) or bind to 127.0.0.1")


class BodyLimit:
    """413 for a request body over `limit` bytes, whether declared up front or streamed.

    The body is read here, up to the limit, and replayed to the app: no route streams its
    request, and FastAPI would turn an error raised mid-read into a vague 400."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = bool(message.get("more_body"))
            if size > self.limit:
                await self._reject(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error(413, f"request body over {self.limit // 1024} KiB", "request_too_large")
        await response(scope, receive, send)


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status == 401:
        kind = "authentication_error"
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}}, status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    for err in errors:
        if err.get("type") == "json_invalid":
            return 400, f"the request body is not valid JSON: {err.get('ctx', {}).get('error', err.get('msg'))}", \
                "invalid_json"
    if any(tuple(err.get("loc", ())) == ("body",) and err.get("type") == "model_attributes_type" for err in errors):
        return 400, "the request body must be a JSON object sent with content-type: application/json", "invalid_json"
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"missing field '{where}'" if err.get("type") == "missing" else f"{where}: {err.get('msg')}")
    return 422, "; ".join(parts), "invalid_fields"


# --- the app --------------------------------------------------------------------------------
def create_app(lantern: Lantern, settings: Settings | None = None) -> FastAPI:
    """The FastAPI app over one open Lantern (shared by all requests; it is thread-safe)."""
    settings = settings or lantern.settings
    service = LanternService(lantern)
    keys = settings.api_key_list
    def authorised(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> None:
        if not keys:
            return
        given = credentials.credentials if credentials else ""
        if not any(hmac.compare_digest(given.encode(), k.encode()) for k in keys):
            raise ServiceError("missing or wrong API key: send Authorization: Bearer <key>", 401, "invalid_api_key")

    app = FastAPI(title="Lantern", version="1", dependencies=[Depends(authorised)],
                  description="Cited answers over your documents. Errors: {'error': {'message', 'type', 'code'}}.")
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(LanternError)
    async def lantern_error(request: Request, exc: LanternError) -> JSONResponse:
        status, code = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return _error(status, str(exc), code, headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(*_validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, str(exc.detail), code)

    @app.post("/v1/ask", summary="Answer a question with checked citations (as `lantern ask --json`)")
    def ask(body: AskRequest) -> dict[str, Any]:
        return service.ask(body.question, body.filters, body.top_k)

    @app.post("/v1/search", summary="The passages an answer would draw on, best first")
    def search(body: AskRequest) -> dict[str, Any]:
        return service.search(body.question, body.filters, body.top_k)

    @app.get("/v1/documents", summary="The documents in the store (as `lantern status --json` sources)")
    def documents() -> dict[str, Any]:
        return {"object": "list", "data": service.documents()}

    @app.get("/v1/documents/{source:path}", summary="One document and its pages")
    def document(source: str) -> dict[str, Any]:
        return service.document(source)

    @app.get("/v1/status", summary="What the store holds (as `lantern status --json`)")
    def status() -> dict[str, Any]:
        return service.status() | {"mode": lantern.mode}

    @app.get("/v1/models", summary="The OpenAI model list: one model, 'lantern'")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "lantern"}]}

    @app.post("/v1/chat/completions", response_model=ChatCompletion,
              summary="OpenAI chat completions; with stream=true, server-sent events")
    def chat_completions(body: ChatRequest) -> Any:
        if body.model != MODEL_ID:
            raise ServiceError(f"unknown model {body.model!r}: this server has one model, {MODEL_ID!r}", 404,
                               "model_not_found")
        stream = service.chat_stream([(m.role, m.text()) for m in body.messages], body.filters)
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.stream:
            return StreamingResponse(_sse(stream, reply_id, created), media_type="text/event-stream")
        text = "".join(stream)
        answer = stream.answer
        assert answer is not None
        citations = answer.to_dict()["citations"]
        content = _with_sources(text, sources_markdown(answer))
        return ChatCompletion(id=reply_id, created=created, citations=citations, abstained=answer.abstained,
                              choices=[Choice(message=CitedMessage(content=content, citations=citations))])

    return app


def _with_sources(text: str, sources: str) -> str:
    return f"{text.strip()}\n\n{sources}" if sources else text.strip()


def _sse(stream: Any, reply_id: str, created: int) -> Iterator[str]:
    """OpenAI's chunk events: the text as it comes, then the source list, then citations."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        for piece in stream:
            yield chunk({"content": piece})
    except LanternError as exc:
        status, code = status_of(exc)
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error', 'code': code}})}\n\n"
        yield "data: [DONE]\n\n"
        return
    answer = stream.answer
    sources = sources_markdown(answer)
    if sources:
        yield chunk({"content": "\n\n" + sources})
    citations = answer.to_dict()["citations"]
    yield chunk({}, "stop", citations=citations, abstained=answer.abstained)
    yield "data: [DONE]\n\n"


def serve(settings: Settings) -> None:
    """Open the store and serve until interrupted (`lantern serve`)."""
    import uvicorn

    from assistant.api import Lantern

    check_exposure(settings)
    lantern = Lantern.open(settings=settings)
    try:
        where = f"http://{settings.serve_host}:{settings.serve_port}"
        print(f"Lantern API on {where}/v1 (OpenAI base URL; model 'lantern'), schema at {where}/openapi.json",
              flush=True)
        uvicorn.run(create_app(lantern, settings), host=settings.serve_host, port=settings.serve_port,
                    log_level="warning")
    finally:
        lantern.close()
