"""The chat UI launched for tests, and helpers to read what gradio_client returns.

Shared by tests/test_ui.py (API and logic) and tests/test_ui_browser.py (Chromium).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core.local_server import free_port
from core.settings import Settings

OLD_EXAMPLES = (  # written for the sample files once; a library must now supply its own
    "How does a National Referral Mechanism work, and who can make a referral?",
    "What are the steps of human rights due diligence in supply chains?",
)


def text(message: dict[str, Any]) -> str:
    """The text of one chat message as gradio_client returns it (a string or a list of parts)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def last_answer(history: list[dict[str, Any]]) -> str:
    return text(history[-1]) if history and history[-1].get("role") == "assistant" else ""


def launched_app(sample_store: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """Launch the UI on a free port over a private copy of the sample store (uploads mutate it)."""
    root = tmp_path_factory.mktemp("ui")
    shutil.copytree(sample_store.store, root / "store")
    yield from launch_on(sample_store.with_overrides(store=root / "store"), root)


def launch_on(settings: Settings, root: Path) -> Iterator[SimpleNamespace]:
    """Launch the UI on a free port over the store in `settings` (which the tests may change)."""
    from app.ui import launch

    port = free_port()
    demo = launch(settings, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}/", settings=settings, demo=demo, root=root,
                              ui=demo.lantern_ui)
    finally:
        demo.close()
        demo.lantern_ui.close()
