"""The `lantern` command. Every settings flag and its help text is generated from `Settings`.

Exit codes: 0 everything worked, 1 some input failed or the command could not finish,
2 a usage or settings error. Library exceptions never reach the user as tracebacks.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, get_type_hints

from core.errors import FilterError, LanternError, SettingsError
from core.settings import TOPICS, Settings, offline_environment
from core.text import terminal_safe

# The settings topics each command reads; its --help lists only those (core.settings.TOPICS).
COMMAND_TOPICS: dict[str, tuple[str, ...]] = {
    "ingest": ("store", "embed", "chunk"),
    "status": ("store",),
    "doctor": ("store", "embed"),
    "ask": ("store", "embed", "search", "answer", "llm"),
    "chat": ("store", "embed", "search", "answer", "llm", "chat"),
    "ui": tuple(t for t in TOPICS if t != "serve"),
    "serve": ("store", "embed", "search", "answer", "llm", "chat", "serve"),
    "mcp": ("store", "embed", "search", "answer", "llm", "serve"),
    "eval": ("store", "embed", "search", "answer", "llm"),
    "draft-questions": ("store", "llm"),
    "settings": TOPICS,
}


def _settings_parent(command: str) -> argparse.ArgumentParser:
    """The settings flags of one command (its topics only), generated from `Settings`."""
    topics = COMMAND_TOPICS[command]
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("settings (defaults < config file < LANTERN_* environment < these flags)")
    group.add_argument("--config-file", dest="config_file", metavar="FILE",
                       help="TOML settings file (default: $LANTERN_CONFIG or ./lantern.toml)")
    hints = get_type_hints(Settings)
    for f in fields(Settings):
        if f.metadata["topic"] not in topics:
            continue
        flag = "--" + f.name.replace("_", "-")
        env = f"LANTERN_{f.name.upper()}"
        help_text = f"{f.metadata['help']} [env {env}; default {f.default!s}]"
        kind = hints[f.name]
        if kind is bool:
            group.add_argument(flag, dest=f.name, default=None, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            group.add_argument(flag, dest=f.name, default=None, metavar=f.name.split("_")[-1].upper(),
                               choices=f.metadata.get("choices"), help=help_text)
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lantern",
        description="Cited answers from anti-trafficking handbooks, guidance and reports.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", parents=[_settings_parent("ingest")], help="add files, folders or resource-library URLs to the store")
    p.add_argument("paths", nargs="+", metavar="PATH", help="PDF, Markdown, text or HTML files, folders of them, or URLs")
    p.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    p.add_argument("--json", action="store_true", help="print one JSON summary and no progress bar")
    p.add_argument("--max-pages", type=int, default=50, help="URL ingest: most pages to fetch")
    p.add_argument("--crawl-interval", type=float, default=1.0, metavar="SECONDS",
                   help="URL ingest: least time between two requests to one host")
    p.add_argument("--same-site", action=argparse.BooleanOptionalAction, default=True,
                   help="URL ingest: follow links only on the starting site (default on)")
    p.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="parse, chunk and embed files on this Ray cluster (host:port of its head, or ray://host:10001; "
                        "needs `pip install 'lantern[ray]'` here and on every node); this machine still writes the store")
    p.set_defaults(run=_cmd_ingest)

    p = sub.add_parser("status", parents=[_settings_parent("status")], help="what is in the store")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_status)

    p = sub.add_parser("doctor", parents=[_settings_parent("doctor")],
                       help="check the store against its ledger (exit 1 if damaged); --repair rebuilds it")
    p.add_argument("--repair", action="store_true", help="rebuild Chroma and the keyword index from the ledger")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_doctor)

    p = sub.add_parser("ask", parents=[_settings_parent("ask")], help="ask one question and print a cited answer")
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="filter: source, publisher, language, doc_type, title, year, year_min, year_max (repeatable)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.set_defaults(run=_cmd_ask)

    p = sub.add_parser("chat", parents=[_settings_parent("chat")], help="an interactive conversation (follow-up questions welcome)")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", help="filter, as for ask")
    p.add_argument("--json", action="store_true", help="print each answer as JSON")
    p.set_defaults(run=_cmd_chat)

    p = sub.add_parser("ui", parents=[_settings_parent("ui")], help="start the chat UI in a browser")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=7860, help="port to listen on")
    p.set_defaults(run=_cmd_ui)

    p = sub.add_parser("serve", parents=[_settings_parent("serve")],
                       help="serve the HTTP API (OpenAI-compatible chat, ask, search) on serve_host:serve_port")
    p.set_defaults(run=_cmd_serve)

    p = sub.add_parser("mcp", parents=[_settings_parent("mcp")], help="serve Lantern's tools to MCP clients (stdio by default)")
    p.add_argument("--http", action="store_true",
                   help="streamable HTTP on serve_host:serve_port at /mcp instead of stdio")
    p.set_defaults(run=_cmd_mcp)

    p = sub.add_parser("eval", parents=[_settings_parent("eval")], help="score Lantern against a gold question set")
    p.add_argument("questions", type=Path, help="gold questions, JSONL")
    p.add_argument("--out", type=Path, default=None, help="folder for report.json, report.md and charts")
    p.add_argument("--json", action="store_true", help="print report.json to stdout")
    p.add_argument("--config", dest="configs", action="append", default=[], metavar="NAME",
                   help="configuration(s) to compare (repeatable); see `lantern eval --list-configs`")
    p.add_argument("--list-configs", action="store_true", help="list the named configurations and exit")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.set_defaults(run=_cmd_eval)

    p = sub.add_parser("draft-questions", parents=[_settings_parent("draft-questions")], help="draft gold questions from the store with an LLM")
    p.add_argument("--n", type=int, default=10, help="how many questions")
    p.add_argument("--out", type=Path, default=Path("drafted_questions.jsonl"), help="output JSONL")
    p.set_defaults(run=_cmd_draft)

    p = sub.add_parser("settings", parents=[_settings_parent("settings")], help="show the effective settings and where each can be set")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_settings)
    return parser


def _settings_from(args: argparse.Namespace) -> Settings:
    flags = {f.name: getattr(args, f.name, None) for f in fields(Settings)}
    return Settings.load(config=args.config_file, **flags)


def main(argv: list[str] | None = None) -> int:
    offline_environment()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings_from(args)
        return int(args.run(args, settings) or 0)
    except (SettingsError, FilterError) as exc:  # the user asked for something malformed
        print(f"lantern: {terminal_safe(str(exc))}", file=sys.stderr)
        return 2
    except LanternError as exc:
        print(f"lantern: {terminal_safe(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lantern: interrupted", file=sys.stderr)
        return 130


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# --- commands -----------------------------------------------------------------------

def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    urls = [p for p in args.paths if p.startswith(("http://", "https://"))]
    paths = [Path(p) for p in args.paths if p not in urls]
    from ingest.pipeline import IngestReport, ingest, print_progress

    progress = None if args.json else print_progress()
    report = ingest(paths, settings, prune=args.prune, progress=progress, ray_address=args.ray) if paths else IngestReport()
    if urls:
        from ingest.web import CrawlOptions, ingest_urls

        web = ingest_urls(urls, settings, max_pages=args.max_pages, same_site=args.same_site, progress=progress,
                          options=CrawlOptions(min_interval=args.crawl_interval))
        report = web.merged_with(report) if paths else web
    if args.json:
        _print_json(report.to_dict())
    else:
        # names come from the disk or the web: escaped, so each stays one line that cannot drive the terminal
        for failure in report.failed:
            print(f"failed: {terminal_safe(failure['path'])}: {terminal_safe(failure['error'])}", file=sys.stderr)
        for skip in report.skipped:
            print(f"skipped: {terminal_safe(skip['path'])}: {terminal_safe(skip['reason'])}", file=sys.stderr)
        for line in report.repaired:
            print(f"repaired: {terminal_safe(line)}", file=sys.stderr)
        print(
            f"{report.documents} documents in {settings.store} ({report.chunks} chunks): "
            f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.removed} removed, {len(report.failed)} failed, in {report.seconds:.1f} s"
        )
    return 1 if report.failed else 0


def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.status import store_status

    status = store_status(settings)
    if args.json:
        _print_json(status)
        return 0
    print(f"{settings.store}: {status['documents']} documents, {status['chunks']} chunks, embedder {status['embedder']}")
    for s in status["sources"]:
        print(f"  {terminal_safe(s['source'])}  ({s['pages']} pages, {s['chunks']} chunks, {s['ingested_at']})  "
              f"{terminal_safe(str(s['title']))}")
    for s in status.get("pending", []):
        print(f"  {terminal_safe(s)}  (incomplete: the next ingest finishes it)")
    for problem in status["problems"]:
        print(f"problem: {terminal_safe(problem['message'])}")
    if status["fix"]:
        print(f"to fix: {status['fix']}")
    return 0


def _cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from core.store import Store
    from core.store_check import check, fix_command
    from ingest.pipeline import print_progress, repair, vector_probe

    repaired = repair(settings, progress=None if args.json else print_progress()) if args.repair else []
    store = Store.open(settings)
    try:
        problems = check(store, embed=vector_probe(store, settings))
        fix = fix_command(store)
    finally:
        store.close()
    if args.json:
        _print_json({"store": str(settings.store), "repaired": repaired, "problems": [p.to_dict() for p in problems]})
    else:
        for line in repaired:
            print(f"repaired: {terminal_safe(line)}")
        for problem in problems:
            print(f"problem: {terminal_safe(problem.message)}")
        if problems and not args.repair:
            print(f"to fix: {fix}")
        if not problems:
            print(f"{settings.store}: Chroma, the keyword index and the file copies agree with the ledger")
    return 1 if problems else 0


def parse_where(items: list[str]) -> dict[str, str]:
    """`--where key=value` pairs as a dict; a malformed pair is a usage error."""
    filters: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SettingsError(f"--where {item!r}: expected KEY=VALUE, e.g. --where publisher='UK Home Office'")
        filters[key.strip()] = value.strip()
    return filters


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.api import Lantern

    from .render import render_answer_text

    lantern = Lantern.open(settings=settings)
    answer = lantern.ask(args.question, filters=parse_where(args.where))
    if args.json:
        _print_json(answer.to_dict())
    else:
        print(render_answer_text(answer))
    return 0


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.api import Lantern

    from .render import render_answer_text

    lantern = Lantern.open(settings=settings)
    conversation = lantern.chat(filters=parse_where(args.where))
    interactive = sys.stdin.isatty()
    if interactive:
        print("Ask a question (empty line or Ctrl-D to quit; /new starts over).")
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            break
        question = line.strip()
        if not question:
            if interactive:
                break
            continue
        if question == "/new":
            conversation.reset()
            continue
        answer = conversation.ask(question)
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False, default=str), flush=True)
        else:
            print(render_answer_text(answer), flush=True)
    return 0


def _cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    from .ui import launch

    launch(settings, host=args.host, port=args.port)
    return 0


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from .serve import serve

    serve(settings)
    return 0


def _cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    from .mcp_server import run_mcp

    run_mcp(settings, http=args.http)
    return 0


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """`lantern eval`: run the evaluation, write the report files, print the summary (or report.json)."""
    import contextlib

    from eval.report import summary_markdown
    from eval.run import list_configs, run_eval

    if args.list_configs:
        print(list_configs())
        return 0
    out: Path | None = args.out if args.out is not None else (None if args.json else Path("eval-report"))
    # With --json, stdout carries the report and nothing else: stray prints go to stderr.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        report = run_eval(settings, args.questions, out, args.configs, limit=args.limit)
    if args.json:
        print(json.dumps(report.data, indent=2, ensure_ascii=False))
        if report.written:
            print("wrote " + ", ".join(str(p) for p in report.written), file=sys.stderr, flush=True)
    else:
        print(summary_markdown(report.data))
        for path in report.written:
            print(f"wrote {path}")
    return 0


def _cmd_draft(args: argparse.Namespace, settings: Settings) -> int:
    from eval.draft import draft_questions

    path = draft_questions(settings, n=args.n, out=args.out)
    count = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    print(f"wrote {count} draft questions to {path} (marked synthetic: review them before use)")
    return 0


def _cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    rows = [
        {"name": name, "value": getattr(settings, name), "env": env, "default": default, "help": help_}
        for name, env, default, help_ in Settings.help_rows()
    ]
    for row in rows:
        if "key" in row["name"] and row["value"]:
            row["value"] = "***"
    if args.json:
        _print_json(rows)
    else:
        for row in rows:
            print(f"{row['name']:<20} {row['value']!s:<30} {row['env']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
