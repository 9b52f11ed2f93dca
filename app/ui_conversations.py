"""Conversations kept on the server, one folder per user: listed, renamed, deleted, exported.

A conversation in the browser's storage alone is lost with the browser (another device, a
cleared profile, a server restart that changes the storage key) and, on a shared computer,
would be shown to whoever signs in next. Here each user's conversations live under the store:

    <store>/conversations/<user folder>/<id>.json

The user folder is derived from the signed-in name on the server (`user_folder`), never from
anything the browser sends, and every operation takes that name: one user cannot list, open,
rename, delete or export another's conversation, even with its id. Without a users file the UI
serves 127.0.0.1 only and has one anonymous user (folder `_local`). Ids are random hex (checked
before they touch a path); files are written whole and swapped in (`os.replace`), so a crash
never leaves half a conversation.

A file holds the chat as the browser keeps it (`Session.saved`: the messages, the turns
follow-ups need, and one record per answer with its citations), plus the name and times.
`export_markdown` and `export_json` turn it into something to keep: each question, its answer
as plain text, and the numbered sources under it (document, article or section, page, quote,
link). Pure file operations: `app.ui_logic` calls them for the signed-in user.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import secrets
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from .ui_render import cite_url, where_label

FOLDER = "conversations"
LOCAL_USER = "_local"  # the one user of an open UI (no users file, 127.0.0.1 only)
MAX_LISTED = 100  # conversations listed per user, most recent first
MAX_NAME = 80  # characters of a conversation's name
_ID = re.compile(r"^[0-9a-f]{32}$")


def user_folder(username: str | None) -> str:
    """A folder name for a user: readable, and distinct for distinct names (a hash suffix)."""
    if not username:
        return LOCAL_USER
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", username)[:40].strip("._") or "user"
    return f"{readable}-{hashlib.sha256(username.encode('utf-8')).hexdigest()[:12]}"


def default_name(first_question: str) -> str:
    """A conversation's first name: its first question, cut at a word boundary."""
    text = " ".join(first_question.split())
    if len(text) <= MAX_NAME:
        return text or "Conversation"
    return text[: MAX_NAME - 1].rsplit(" ", 1)[0] + "…"


def message_text(content: Any) -> str:
    """A chat message's text: Gradio gives a string, or a list of parts ({"type": "text", "text": ...})."""
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Conversations:
    """The conversations under one store, for every user (each call names the user)."""

    def __init__(self, store: str | Path):
        self.root = Path(store) / FOLDER
        self._lock = threading.Lock()

    def browser_key(self) -> str:
        """The key the browser's copy of the open conversation is encrypted with (Gradio's
        BrowserState), kept here so that a restarted server can still read it: Gradio's own
        default is new at every start, and a reload after a restart showed an empty chat."""
        path = self.root / ".browser-key"
        with self._lock:
            try:
                key = path.read_text(encoding="ascii").strip()
            except OSError:
                key = ""
            if len(key) < 32:
                key = secrets.token_urlsafe(32)
                self.root.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".browser-key.{uuid.uuid4().hex[:8]}.tmp")
                tmp.write_text(key, encoding="ascii")
                tmp.chmod(0o600)
                os.replace(tmp, path)
            return key

    def _path(self, username: str | None, conversation_id: str) -> Path | None:
        if not isinstance(conversation_id, str) or not _ID.match(conversation_id):
            return None
        return self.root / user_folder(username) / f"{conversation_id}.json"

    def get(self, username: str | None, conversation_id: str | None) -> dict[str, Any] | None:
        """One of the user's conversations, or None (not theirs, deleted, unreadable)."""
        path = self._path(username, conversation_id or "")
        if path is None or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("chat"), dict) else None

    def save(self, username: str | None, conversation_id: str | None, chat: dict[str, Any]) -> dict[str, Any]:
        """Write the chat (`Session.saved`) as the user's conversation; a new one when the id is
        None or unknown. Returns the stored record (id, name, created, updated, chat)."""
        with self._lock:
            record = self.get(username, conversation_id) if conversation_id else None
            if record is None:
                first = next((m.get("content") for m in chat.get("history") or []
                              if isinstance(m, dict) and m.get("role") == "user"), "")
                record = {"id": uuid.uuid4().hex, "name": default_name(message_text(first)), "created": _now()}
            record.update(updated=_now(), chat=chat)
            self._write(username, record)
            return record

    def _write(self, username: str | None, record: dict[str, Any]) -> None:
        path = self._path(username, record["id"])
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, path)

    def listing(self, username: str | None) -> list[dict[str, Any]]:
        """The user's conversations, most recently updated first: id, name, updated, questions."""
        folder = self.root / user_folder(username)
        out = []
        for path in folder.glob("*.json") if folder.is_dir() else []:
            record = self.get(username, path.stem)
            if record is None:
                continue
            questions = sum(1 for m in record["chat"].get("history") or []
                            if isinstance(m, dict) and m.get("role") == "user")
            out.append({"id": record["id"], "name": record.get("name") or "Conversation",
                        "updated": record.get("updated") or "", "questions": questions})
        out.sort(key=lambda r: r["updated"], reverse=True)
        return out[:MAX_LISTED]

    def rename(self, username: str | None, conversation_id: str | None, name: str) -> dict[str, Any] | None:
        """Give one of the user's conversations a new name (None when it is not theirs)."""
        clean = " ".join((name or "").split())[:MAX_NAME]
        if not clean:
            raise ValueError("a conversation needs a name")
        with self._lock:
            record = self.get(username, conversation_id)
            if record is None:
                return None
            record["name"] = clean
            self._write(username, record)
            return record

    def delete(self, username: str | None, conversation_id: str | None) -> bool:
        """Delete one of the user's conversations; False when there was none."""
        path = self._path(username, conversation_id or "")
        with self._lock:
            if path is None or not path.is_file():
                return False
            path.unlink()
            return True


# --- exports ------------------------------------------------------------------------------------

def _plain(content: Any) -> str:
    """A chat message as plain text (the UI's HTML answers reduced to their words)."""
    text = re.sub(r"<div class=\"lantern-sources\".*", "", message_text(content), flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(html.unescape(text).replace("\\#", "#").split())


def exchanges(record: dict[str, Any], served: set[str], origin: str = "") -> list[dict[str, Any]]:
    """Each question of a conversation with its answer and numbered sources (dicts, for export)."""
    chat = record.get("chat") or {}
    history = [m for m in chat.get("history") or [] if isinstance(m, dict)]
    answers = chat.get("answers") or {}
    out: list[dict[str, Any]] = []
    for i, message in enumerate(history):
        if message.get("role") != "user":
            continue
        reply = history[i + 1] if i + 1 < len(history) and history[i + 1].get("role") == "assistant" else None
        facts = answers.get(str(i + 1)) or {}
        sections = {str(k): v for k, v in (facts.get("sections") or {}).items()}
        sources = []
        for c in facts.get("citations") or []:
            sources.append({
                "n": c.get("n"), "title": c.get("title") or c.get("source"), "document": c.get("source"),
                "publisher": c.get("publisher"), "year": c.get("year"), "section": sections.get(str(c.get("n"))),
                "page": c.get("page"), "page_label": c.get("page_label"), "quote": " ".join(str(c.get("quote") or "").split()),
                "link": origin + cite_url(str(c.get("source") or ""), c.get("page"), str(c.get("quote") or ""), served),
                "original": c.get("url"),
            })
        out.append({
            "question": _plain(message.get("content")),
            "searched_for": facts.get("searched_for"),
            "filters": facts.get("filters_note"),
            "answer": facts.get("answer") if facts.get("answer") is not None else (_plain(reply.get("content")) if reply else ""),
            "declined": bool(facts.get("abstained")),
            "why": facts.get("abstain_reason") if facts.get("abstained") else None,
            "sources": sources,
        })
    return out


def export_json(record: dict[str, Any], served: set[str], origin: str = "") -> str:
    """The conversation as JSON: name, times, and each exchange with its sources."""
    return json.dumps({
        "name": record.get("name"), "created": record.get("created"), "updated": record.get("updated"),
        "exchanges": exchanges(record, served, origin),
    }, ensure_ascii=False, indent=2)


def export_markdown(record: dict[str, Any], served: set[str], origin: str = "") -> str:
    """The conversation as Markdown: each question, its answer, the numbered sources under it."""
    lines = [f"# {record.get('name') or 'Conversation'}", "",
             f"Lantern conversation, {(record.get('created') or '')[:10]} (last updated "
             f"{(record.get('updated') or '').replace('T', ' ').replace('Z', ' UTC')}).", ""]
    for k, ex in enumerate(exchanges(record, served, origin), 1):
        lines += [f"## {k}. {ex['question']}", ""]
        if ex["filters"]:
            lines += [f"_Searched only: {ex['filters']}_", ""]
        if ex["searched_for"]:
            lines += [f"_Searched for: {ex['searched_for']}_", ""]
        lines += [("No answer in these documents. " if ex["declined"] else "") + (ex["answer"] or ""), ""]
        if ex["why"]:
            lines += [f"_Why: {ex['why']}._", ""]
        if ex["sources"]:
            lines += ["Sources:", ""]
            for s in ex["sources"]:
                where = ", ".join(str(p) for p in (s["title"], s["publisher"], s["year"], s["section"],
                                                   where_label(s["page"], s["page_label"])) if p)
                lines.append(f"{s['n']}. {where}. [Open the source]({s['link']})"
                             + (f" ([original]({s['original']}))" if s["original"] else ""))
                lines.append(f"   > {s['quote']}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
