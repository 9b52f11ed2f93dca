"""The chat UI in a real headless Chromium (Debian's): what a practitioner sees and clicks, signed
in as an editor and as a reader, on a desktop and at phone width, over a store of shared-corpus
PDFs and two treaties. Screenshots go to tests/output/; axe-core (vendored, run in the page)
checks each main view for serious or critical accessibility problems.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import CORPUS, copy_with_manifest, unavailable
from support.ui_app import OLD_EXAMPLES, launch_on

from core.settings import Settings

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

pytestmark = [pytest.mark.integration, pytest.mark.browser]

OUTPUT = Path(__file__).resolve().parent / "output"
AXE = Path(__file__).resolve().parent / "support" / "vendor" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PALERMO = "un-palermo-protocol-trafficking-in-persons-2000.md"  # the second treaty, beside ILO C105
TOOLKIT_SOURCE = "pdf/uk-home-office-first-responder-toolkit-nrm-england-wales-2026.pdf"
EDITOR, READER = ("amira", "lamp-editor-pass"), ("jules", "lamp-reader-pass")
TREATY_QUESTION = "What does the protocol say about the scope of application?"
PDF_QUESTION = "What should a first responder do before making a referral?"


@pytest.fixture(scope="module")
def app(small_store: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The UI with sign-in (an editor and a reader), over the small store plus a second treaty."""
    from app.ui_auth import hash_password
    from ingest.pipeline import ingest

    root = tmp_path_factory.mktemp("ui_browser")
    shutil.copytree(small_store.store, root / "store")
    users = root / "users.toml"
    users.write_text("".join(
        f'[users.{name}]\nrole = "{role}"\npassword = "{hash_password(password, 1000)}"\n\n'
        for (name, password), role in ((EDITOR, "editor"), (READER, "reader"))), encoding="utf-8")
    settings = small_store.with_overrides(store=root / "store", ui_users=str(users))
    copy_with_manifest(CORPUS / "other", (PALERMO,), root / "src" / "other")
    assert not ingest([root / "src"], settings).failed
    yield from launch_on(settings, root)


def _browser(p: Any):
    if not CHROMIUM.exists():
        unavailable("Debian's chromium is not installed at /usr/bin/chromium (make browser)")
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def _sign_in(page: Any, url: str, user: tuple[str, str]) -> None:
    """Gradio's sign-in page, as a person fills it in; then the app."""
    page.goto(url)
    page.get_by_label(re.compile("username", re.I)).fill(user[0])
    page.get_by_label(re.compile("password", re.I)).fill(user[1])
    page.get_by_role("button", name=re.compile("log ?in|sign ?in", re.I)).click()
    page.get_by_label("Your question").wait_for(timeout=60_000)


def _serious_violations(page: Any, view: str) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [f"{view}: {v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in found
            if v["impact"] in ("serious", "critical")]


def _compact(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _last_answer(page: Any) -> Any:
    return page.locator("#lantern-chat .bot-row").last


def _ask(page: Any, question: str) -> Any:
    box = page.get_by_label("Your question")
    before = page.locator("#lantern-chat .lantern-sources").count()
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('#lantern-chat .lantern-sources').length > {before}",
                           timeout=90_000)
    return _last_answer(page)


def _answer_top_in_view(page: Any, answer: Any, height: int) -> tuple[float, float]:
    """Wait (up to 5 s: the app corrects the chat's scroll a few times) until the answer's first
    line sits in the chat's view and the window's; (its top, the chat's top)."""
    chat = page.locator("#lantern-chat .bubble-wrap").first
    deadline = time.monotonic() + 5
    while True:
        top = answer.evaluate("el => el.getBoundingClientRect().top")
        box = chat.evaluate("el => { const r = el.getBoundingClientRect(); return [r.top, r.bottom]; }")
        if (0 <= top < min(height, box[1]) - 40 and top >= box[0] - 2) or time.monotonic() > deadline:
            return top, box[0]
        page.wait_for_timeout(100)


def _pick(page: Any, label: str, option: str) -> None:
    """Choose `option` in the Gradio dropdown labelled `label`."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_editor_answers_open_at_the_quote(app: SimpleNamespace) -> None:
    """Sources open at the quote (PDF text layer, treaty article), hover, copy, reload, filters, a11y."""
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    outside: list[str] = []
    problems: list[str] = []
    base = app.url.rstrip("/")
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000}, bypass_csp=True)
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
            page = context.new_page()
            context.on("request", lambda r: outside.append(r.url)
                       if not r.url.startswith((base, "data:", "blob:")) else None)
            _sign_in(page, app.url, EDITOR)
            examples = app.ui.examples()
            assert examples and page.get_by_text(examples[0]).count() >= 1, "the library's example questions show"
            assert page.get_by_text(OLD_EXAMPLES[0]).count() == 0
            assert page.get_by_text("Use via API").count() == 0, "no developer footer"
            assert str(app.settings.store) not in page.content(), "no server path of the store"
            problems += _serious_violations(page, "start page")
            page.screenshot(path=str(OUTPUT / "ui-start.png"))

            # a treaty opens at the cited article, the quote highlighted
            answer = _ask(page, TREATY_QUESTION)
            treaty = answer.locator(f'a.lantern-cite[href^="/lantern/view/other/{PALERMO}"]').first
            treaty.hover()  # hovering shows the quote, the title and the article
            tooltip = treaty.get_attribute("title") or ""
            article = re.search(r", (Article \d+)$", tooltip)
            assert tooltip.startswith("“") and "Palermo Protocol" in tooltip and article, tooltip
            assert article.group(1) in answer.locator(".lantern-source").first.inner_text()
            with context.expect_page() as opened:
                treaty.click()
            view = opened.value
            view.wait_for_load_state()
            assert "<meta" not in view.locator("main").inner_html()
            bar = view.locator("nav.cited")
            assert article.group(1) in bar.inner_text(), bar.inner_text()
            anchor = f"#{article.group(1).lower().replace(' ', '-')}"
            assert view.locator(f"main h4{anchor}").inner_text().split() == article.group(1).split()
            mark = view.locator("mark#quote")
            box = mark.bounding_box()
            assert box and 0 <= box["y"] < 1000, f"the quote should be in view, at {box}"
            quoted = tooltip[1:tooltip.index("” — ")]
            assert _compact(quoted).startswith(_compact(mark.inner_text())[:40])
            problems += _serious_violations(view, "treaty view")
            view.screenshot(path=str(OUTPUT / "ui-treaty.png"))
            view.close()

            # filters: only PDFs; the banner counts them, the answer names the filter
            total = len(app.ui.lantern.store.documents())
            pdfs = sum(1 for d in app.ui.lantern.store.documents() if d.doc_type == "pdf")
            page.get_by_role("button", name="Filters and sources").click()  # folded under the question box
            _pick(page, "Document type", "PDF")
            page.get_by_text(f"Searching {pdfs} of {total} documents").wait_for(timeout=10_000)
            page.get_by_role("button", name="Filters and sources (searching only: PDF)").wait_for(timeout=10_000)

            # a PDF opens in the viewer at the cited page, the quote highlighted in its text layer
            answer = _ask(page, PDF_QUESTION)
            assert "Searched only: PDF" in answer.inner_text()
            cite = answer.locator(f'a.lantern-cite[href^="/lantern/pdf/{TOOLKIT_SOURCE}"]').first
            tooltip = cite.get_attribute("title") or ""
            quoted = tooltip[1:tooltip.index("” — ")]
            page_number = int(re.search(r"p\. (\d+)", tooltip).group(1))
            top, chat_top = _answer_top_in_view(page, answer, 1000)
            assert 0 <= top < 1000 - 40 and top >= chat_top - 2, "the new answer's start is in view"
            page.screenshot(path=str(OUTPUT / "ui-answer.png"))
            problems += _serious_violations(page, "answer with sources")
            with context.expect_page() as opened:
                cite.click()
            viewer = opened.value
            viewer.wait_for_selector("body[data-ready='1']", timeout=60_000)
            assert viewer.locator("#where").inner_text() == f"Page {page_number} of 23"
            marks = viewer.locator(".textLayer mark.highlight")
            assert marks.count() > 0, viewer.locator("#status").inner_text()
            highlighted = _compact(" ".join(marks.all_inner_texts()))
            words = [w for w in (_compact(w) for w in quoted.split()) if len(w) > 2]
            missing = [w for w in words if w not in highlighted]
            assert len(missing) <= len(words) // 10, f"quote words not highlighted: {missing}"
            first = marks.first.bounding_box()
            assert first and 0 <= first["y"] < 1000, "the highlight should be in view"
            problems += _serious_violations(viewer, "PDF viewer")
            viewer.screenshot(path=str(OUTPUT / "ui-pdf-viewer.png"))
            viewer.close()

            # copy: plain text, the filter and the numbered sources under it
            page.get_by_role("button", name="Copy answer").click()
            page.wait_for_timeout(300)
            copied = page.evaluate("navigator.clipboard.readText()")
            assert copied.startswith("(Searched only: PDF)\n") and "\n\nSources:\n[1] " in copied, copied[:400]
            assert "<" not in copied and f"{base}/lantern/pdf/" in copied

            # a reload keeps the conversation (and the follow-up still has its context)
            page.wait_for_timeout(500)
            page.reload()
            page.get_by_label("Your question").wait_for(timeout=30_000)
            page.wait_for_selector(".lantern-source mark", timeout=20_000)
            assert page.locator("#lantern-chat").get_by_text(PDF_QUESTION).count() >= 1
            assert page.locator("#lantern-chat").get_by_text(TREATY_QUESTION).count() >= 1

            # the documents view, as an editor sees it
            page.get_by_role("tab", name="Documents").click()
            page.get_by_role("button", name="Remove").wait_for(timeout=10_000)
            assert page.get_by_text("Signed in as amira").count() == 1
            problems += _serious_violations(page, "documents view")
            page.screenshot(path=str(OUTPUT / "ui-documents.png"), full_page=True)
        finally:
            browser.close()
    assert not outside, f"the pages fetched from outside the app: {outside[:5]}"
    assert not problems, "\n".join(problems)


def test_example_questions_are_answered(app: SimpleNamespace) -> None:
    """Each example question shown gets an answer with sources, not a refusal."""
    examples = app.ui.examples()
    assert 2 <= len(examples) <= 4, examples
    for question in examples:
        *_, (history, session, _) = app.ui.respond(question, [], None)
        shown = history[-1]["content"]
        assert "No answer in these documents" not in shown and "lantern-sources" in shown, (question, shown[:300])


def test_reader_cannot_delete(app: SimpleNamespace) -> None:
    """A reader asks and reads; removing (in the page or through the API) is refused."""
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            _sign_in(page, app.url, READER)
            page.get_by_role("tab", name="Documents").click()
            page.get_by_text("Signed in as jules").wait_for(timeout=10_000)
            assert "a reader" in page.locator("#lantern-who").inner_text()
            assert page.get_by_role("button", name="Remove").count() == 0, "a reader gets no Remove button"
            assert page.get_by_role("button", name="Add to the library").count() == 0
            assert page.get_by_text("In this library").count() >= 1, "a reader still sees what the library holds"
        finally:
            browser.close()
    before = {d.source for d in app.ui.lantern.store.documents()}
    client = Client(app.url, auth=READER, verbose=False)
    message = client.predict(TOOLKIT_SOURCE, api_name="/remove")[0]
    assert message.startswith("Only editors can remove documents"), message
    assert {d.source for d in app.ui.lantern.store.documents()} == before
    with pytest.raises(ValueError):
        Client(app.url, auth=("jules", "wrong password"), verbose=False)
    import httpx

    denied = httpx.get(app.url + "lantern/file/" + TOOLKIT_SOURCE)
    assert denied.status_code == 401, "cited files need sign-in too"


def test_phone_shows_the_start_of_the_answer(app: SimpleNamespace) -> None:
    """At 390×844 by touch: filters one tap under the box, the answer's start in view, a tapped [n]
    shows its quote, title and page, with a way to open the source."""
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            page = context.new_page()
            _sign_in(page, app.url, READER)
            problems = _serious_violations(page, "phone start page")
            question = page.get_by_label("Your question").bounding_box()
            filters = page.get_by_role("button", name="Filters and sources")
            below = filters.bounding_box()
            assert question and below and 0 <= below["y"] - (question["y"] + question["height"]) < 60, (question, below)
            filters.tap()
            page.get_by_label("Publisher", exact=True).wait_for(timeout=10_000)
            filters.tap()
            answer = _ask(page, PDF_QUESTION)
            first_line = answer.get_by_text(re.compile(r"^\s*\S")).first
            top, chat_top = _answer_top_in_view(page, answer, 844)
            assert 0 <= top < 844 - 40 and top >= chat_top - 2, (top, chat_top)
            assert first_line.is_visible()
            problems += _serious_violations(page, "phone answer")
            page.screenshot(path=str(OUTPUT / "ui-answer-phone.png"))

            # a tap on [n] (no hover on a phone) shows the quote, title and page; it opens nothing yet
            marker = answer.locator("a.lantern-cite").first
            tooltip = marker.get_attribute("title") or ""
            quoted, where = tooltip[1:tooltip.index("” — ")], tooltip[tooltip.index("” — ") + 4:]
            marker.tap()
            sheet = page.get_by_role("dialog", name=re.compile(r"^Source \[\d+\]"))
            sheet.wait_for(timeout=5_000)
            shown = sheet.inner_text()
            assert quoted[:60] in " ".join(shown.split()) and where in shown and re.search(r"p\. \d+", shown), shown
            assert len(context.pages) == 1, "a tap shows the source; it does not leave the chat"
            problems += _serious_violations(page, "phone source sheet")
            page.screenshot(path=str(OUTPUT / "ui-cite-phone.png"))
            with context.expect_page() as opened:
                sheet.get_by_role("link", name="Open the source").tap()
            viewer = opened.value
            viewer.wait_for_selector("body[data-ready='1']", timeout=60_000)
            assert viewer.locator(".textLayer mark.highlight").count() > 0
            viewer.close()
            sheet.get_by_role("button", name="Close").tap()
            assert sheet.count() == 0
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


def test_conversations_follow_the_user(app: SimpleNamespace) -> None:
    """A signed-in user's conversation is on the server: a fresh browser lists and reopens it, it
    can be renamed, exported (Markdown, JSON, with sources) and deleted; another user, even on
    the same browser, sees none of it."""
    from playwright.sync_api import sync_playwright

    base = app.url.rstrip("/")
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            first = browser.new_context(viewport={"width": 1280, "height": 1000})
            page = first.new_page()
            _sign_in(page, app.url, EDITOR)
            _ask(page, TREATY_QUESTION)
            page.locator("#lantern-export a").first.wait_for(timeout=10_000)  # saved on the server
            assert page.get_by_label("Name of this conversation").input_value() == TREATY_QUESTION

            # another browser (nothing in its storage): the conversation is listed and opens
            second = browser.new_context(viewport={"width": 1280, "height": 1000})
            other = second.new_page()
            _sign_in(other, app.url, EDITOR)
            assert other.locator("#lantern-chat .bot-row").count() == 0
            other.get_by_label("Open a saved conversation").click()
            other.get_by_role("option", name=re.compile(rf"^{re.escape(TREATY_QUESTION)} \(1 question, ")).click()
            other.wait_for_selector("#lantern-chat .lantern-source mark", timeout=20_000)
            assert other.locator("#lantern-chat").get_by_text(TREATY_QUESTION).count() >= 1
            other.get_by_label("Name of this conversation").fill("Palermo scope")
            other.get_by_role("button", name="Rename").click()
            other.get_by_text("Renamed to “Palermo scope”").wait_for(timeout=10_000)
            with other.expect_download() as download:
                other.get_by_role("link", name="Markdown").click()
            markdown = Path(download.value.path()).read_text(encoding="utf-8")
            assert markdown.startswith("# Palermo scope\n") and f"## 1. {TREATY_QUESTION}" in markdown, markdown[:300]
            assert re.search(rf"\n1\. [^\n]*Palermo Protocol[^\n]*Article \d+[^\n]*\[Open the source\]\({re.escape(base)}"
                             rf"/lantern/view/other/{re.escape(PALERMO)}\?q=", markdown), markdown
            assert "\n   > " in markdown, "each source lists its quote"
            href = other.get_by_role("link", name="JSON").get_attribute("href") or ""
            exported = other.request.get(base + href).json()
            source = exported["exchanges"][0]["sources"][0]
            assert exported["name"] == "Palermo scope" and source["document"] == f"other/{PALERMO}"
            assert source["quote"] and source["section"].startswith("Article") and source["link"].startswith(base)

            # a reader on the editor's browser (a shared computer: the editor's saved chat is in its
            # storage; signing out in Gradio would sign the editor out everywhere): nothing of it shows
            shared = first.storage_state()
            assert any(item["name"] == "lantern-conversation" for origin in shared["origins"]
                       for item in origin["localStorage"])
            third = browser.new_context(viewport={"width": 1280, "height": 1000},
                                        storage_state={"cookies": [], "origins": shared["origins"]})
            page = third.new_page()
            _sign_in(page, app.url, READER)
            page.wait_for_timeout(1_000)  # the saved chat is restored (or not) on load
            assert page.locator("#lantern-chat").get_by_text(TREATY_QUESTION).count() == 0
            conversation_id = href.split("/")[-1].split(".")[0]
            assert conversation_id not in {cid for _, cid in app.ui.conversation_choices(READER[0])}
            page.get_by_label("Open a saved conversation").click()
            assert page.get_by_role("option", name=re.compile("Palermo scope")).count() == 0
            assert page.request.get(base + href).status == 404, "another user's export is not found"

            other.once("dialog", lambda dialog: dialog.accept())
            other.get_by_role("button", name="Delete").click()
            other.get_by_text("Conversation deleted.").wait_for(timeout=10_000)
            assert other.locator("#lantern-chat .bot-row").count() == 0
            assert other.request.get(base + href).status == 404
            assert conversation_id not in {cid for _, cid in app.ui.conversation_choices(EDITOR[0])}
        finally:
            browser.close()
