"""`lantern mcp`: Lantern's tools for MCP clients (Claude Desktop, IDEs, agents).

Tools: `ask` (a checked answer with citations), `search` (passages, best first),
`list_documents`, and `get_passage` (a cited passage by `chunk_id`, or one page of a
document). Results are the same JSON as `lantern ask --json` and the HTTP API, returned as
structured content (and as JSON text for clients that read only text), citations included.

stdio by default (the client starts `lantern mcp` itself); `--http` serves streamable HTTP at
/mcp on serve_host:serve_port, with the same API-key rule as `lantern serve`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.types import ASGIApp, Receive, Scope, Send

from core.errors import LanternError
from core.settings import Settings

from .service import LanternService

if TYPE_CHECKING:
    from assistant.api import Lantern

T = TypeVar("T")

INSTRUCTIONS = (
    "Lantern answers questions from a store of anti-trafficking handbooks, guidance and reports. "
    "Use `ask` for a checked answer whose every [n] marker is backed by a verbatim quote from a cited page; "
    "quote those citations to the user. If `abstained` is true, the documents do not answer the question: "
    "say so rather than answering from memory. Use `search` for raw passages and `get_passage` to read "
    "around a citation (pass its chunk_id)."
)


async def _call(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking Lantern call off the event loop; Lantern errors become tool errors."""
    try:
        return await anyio.to_thread.run_sync(fn, *args)
    except LanternError as exc:
        raise ToolError(str(exc)) from exc


def build_server(lantern: Lantern) -> MCPServer:
    """An MCP server exposing Lantern's four tools over one open store."""
    service = LanternService(lantern)
    server: MCPServer = MCPServer(name="lantern", instructions=INSTRUCTIONS)

    @server.tool()
    async def ask(question: str, filters: dict[str, str] | None = None, top_k: int | None = None) -> dict[str, Any]:
        """Answer a question from the documents with checked citations ([n] -> source, page, verbatim quote).
        filters: source, publisher, language, doc_type, title, year, year_min, year_max."""
        return await _call(service.ask, question, filters, top_k)

    @server.tool()
    async def search(question: str, filters: dict[str, str] | None = None, top_k: int | None = None) -> dict[str, Any]:
        """The passages an answer would draw on, best first (source, title, page, score, text)."""
        return await _call(service.search, question, filters, top_k)

    @server.tool()
    async def list_documents() -> dict[str, Any]:
        """The documents in the store: source, title, publisher, year, language, pages, chunks, url."""
        return {"documents": await _call(service.documents)}

    @server.tool()
    async def get_passage(chunk_id: str | None = None, source: str | None = None,
                          page: int | None = None) -> dict[str, Any]:
        """A cited passage by its chunk_id (from a citation), or the whole text of page `page` of
        document `source` (omit page for a document without pages, e.g. Markdown)."""
        return await _call(service.passage, chunk_id, source, page)

    return server


class BearerKeys:
    """401 unless the request carries `Authorization: Bearer <one of keys>` (no keys: open)."""

    def __init__(self, app: ASGIApp, keys: list[str]):
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.keys:
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            given = header[7:] if header.lower().startswith("bearer ") else ""
            if not any(hmac.compare_digest(given.encode(), k.encode()) for k in self.keys):
                from starlette.responses import JSONResponse

                body = {"error": {"message": "missing or wrong API key", "type": "authentication_error",
                                  "code": "invalid_api_key"}}
                await JSONResponse(body, 401, headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def run_mcp(settings: Settings, http: bool = False) -> None:
    """Serve until the client disconnects (stdio) or until interrupted (HTTP)."""
    from assistant.api import Lantern

    if http:
        from .serve import check_exposure

        check_exposure(settings)
    lantern = Lantern.open(settings=settings)
    try:
        server = build_server(lantern)
        if not http:
            server.run("stdio")
            return
        import uvicorn

        app = server.streamable_http_app(host=settings.serve_host)
        print(f"Lantern MCP on http://{settings.serve_host}:{settings.serve_port}/mcp", flush=True)
        uvicorn.run(BearerKeys(app, settings.api_key_list), host=settings.serve_host, port=settings.serve_port,
                    log_level="warning")
    finally:
        lantern.close()
