"""The chat UI in a real headless Chromium (Debian's): what a practitioner sees and clicks, on a
desktop and at phone width. Screenshots go to tests/output/.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import unavailable
from support.ui_app import OLD_EXAMPLES, launched_app

from core.settings import Settings

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

pytestmark = [pytest.mark.integration, pytest.mark.browser]

OUTPUT = Path(__file__).resolve().parent / "output"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def app(sample_store: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The UI launched on a free port over a private copy of the sample store."""
    yield from launched_app(sample_store, tmp_path_factory)


def _browser(p: Any):
    if not CHROMIUM.exists():
        unavailable("Debian's chromium is not installed at /usr/bin/chromium (make browser)")
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def test_browser_asks_and_shows_sources(app: SimpleNamespace) -> None:
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    outside: list[str] = []
    question = "What are the three elements of the trafficking definition?"
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1200})
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url.rstrip("/"))
            page = context.new_page()
            page.on("request", lambda r: outside.append(r.url)
                    if not r.url.startswith((app.url.rstrip("/"), "data:", "blob:")) else None)
            page.goto(app.url)
            box = page.get_by_label("Your question")  # the question box has an accessible name
            box.wait_for(timeout=30_000)
            first_example = app.ui.examples()[0]
            assert page.get_by_text(first_example).count() >= 1, "the library's example questions show"
            assert page.get_by_text(OLD_EXAMPLES[0]).count() == 0
            assert page.get_by_text("Use via API").count() == 0, "no developer footer"
            assert str(app.settings.store) not in page.content(), "no server path of the store"
            assert page.get_by_text("llm_base_url").count() == 0
            box.click()
            box.fill(question)
            box.press("Enter")
            page.wait_for_selector(".lantern-source mark", timeout=60_000)
            page.wait_for_selector("#lantern-copy-text textarea", state="attached")
            source = page.locator(".lantern-source").first
            assert "The Trafficking Definition" in source.inner_text()
            marker = page.locator("a.lantern-cite").first
            tooltip = marker.get_attribute("title") or ""
            assert tooltip.startswith("“") and "The Trafficking Definition" in tooltip, tooltip
            assert "#quote" in (marker.get_attribute("href") or "")
            link = page.locator(".lantern-source a").first
            assert (link.get_attribute("href") or "").startswith("/lantern/")
            page.wait_for_timeout(300)
            page.screenshot(path=str(OUTPUT / "ui-answer.png"))

            page.get_by_role("button", name="Copy answer").click()
            page.wait_for_timeout(300)
            copied = page.evaluate("navigator.clipboard.readText()")
            assert copied.startswith("The ") and "\n\nSources:\n[1] The Trafficking Definition" in copied, copied
            assert "<" not in copied and app.url.rstrip("/") + "/lantern/view/" in copied

            page.get_by_role("button", name="Like").last.click()  # feedback: rating, then a comment
            comment = page.get_by_label("Comment on this answer (optional)")
            comment.wait_for(timeout=10_000)
            comment.fill("Clear, and the quotes check out.")
            comment.press("Enter")
            page.get_by_text("Comment saved").wait_for(timeout=10_000)

            page.wait_for_timeout(500)  # the conversation is saved in the browser: a reload keeps it
            page.reload()
            page.get_by_label("Your question").wait_for(timeout=30_000)
            page.wait_for_selector(".lantern-source mark", timeout=20_000)
            assert page.locator("#lantern-chat").get_by_text(question).count() >= 1, "the question survives a reload"
            page.get_by_label("Your question").fill("And for children?")
            page.get_by_label("Your question").press("Enter")
            page.get_by_text("Searched for:").wait_for(timeout=60_000)  # the follow-up still has its context

            page.get_by_role("tab", name="Add documents").click()
            page.get_by_label("Document to remove").click()
            page.get_by_role("option").first.click()
            page.once("dialog", lambda d: d.dismiss())
            page.get_by_role("button", name="Remove").click()
            page.get_by_text("Nothing removed.").wait_for(timeout=10_000)
            assert page.get_by_text("choose a document first").count() == 0
        finally:
            browser.close()
    assert not outside, f"the page fetched from outside the app: {outside[:5]}"
    records = [json.loads(line) for line in
               (Path(app.settings.store) / "feedback.jsonl").read_text(encoding="utf-8").splitlines()]
    last = [r for r in records if r["comment"]][-1]
    assert last["rating"] == "up" and last["comment"] == "Clear, and the quotes check out."
    assert last["question"] == question and last["citations"]
    assert len(app.ui.lantern.store.documents()) >= 6, "a cancelled removal removes nothing"


def test_phone_shows_the_start_of_the_answer(app: SimpleNamespace) -> None:
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            page.goto(app.url)
            box = page.get_by_label("Your question")
            box.wait_for(timeout=30_000)
            box.fill("What are the ILO indicators of forced labour?")
            box.press("Enter")
            page.wait_for_selector(".lantern-source mark", timeout=60_000)
            answer = page.locator("#lantern-chat .bot-row").last
            first_line = answer.get_by_text(re.compile(r"^\s*\S")).first
            chat = page.locator("#lantern-chat .bubble-wrap").first
            deadline = time.monotonic() + 5  # the app brings the answer's start back once it is complete
            while True:
                top = answer.evaluate("el => el.getBoundingClientRect().top")
                chat_top = chat.evaluate("el => el.getBoundingClientRect().top")
                if (0 <= top < 844 - 40 and top >= chat_top - 2) or time.monotonic() > deadline:
                    break
                page.wait_for_timeout(100)
            assert 0 <= top < 844 - 40 and top >= chat_top - 2, (top, chat_top)
            assert first_line.is_visible()
            assert page.get_by_label("Your question").is_visible() or page.evaluate("window.scrollY") > 0
            page.screenshot(path=str(OUTPUT / "ui-answer-phone.png"))
        finally:
            browser.close()
