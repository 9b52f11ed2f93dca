"""The chat UI: `lantern ui` serves a Gradio app that practitioners can use all day, offline.

    lantern ui                                  # http://127.0.0.1:7860, store ./.lantern
    lantern ui --store /data/lantern --port 8080
    lantern ui --host 0.0.0.0 --ui-users users.toml   # reachable from the network: everyone signs in
    LANTERN_LLM_BASE_URL=http://gpu-box:8000/v1 LANTERN_LLM_MODEL=qwen2.5-14b lantern ui

What it offers:

* **Ask** — a chat with streamed answers; every sentence carries [n] markers, each a link whose
  tooltip shows the quote, title, article or section ("Article 4") and page: it opens a PDF in
  the app's own PDF.js viewer at the cited page with the quote highlighted in the page's text
  (`/lantern/pdf/<source>?page=N&q=<quote>`; PDF.js is vendored in `app/static/pdfjs/`, the
  file comes from the store's own copy: only ingested files, anything else is a 404), and any
  other source as a readable page scrolled to the quote, highlighted, its headings anchored
  (`/lantern/view/<source>?q=<quote>#quote`). Beneath each answer its sources: title,
  publisher, year, article or section, page (and printed page label), the quoted passage
  highlighted in its chunk. A follow-up shows the question actually searched ("Searched for:
  …"), a filtered search the filters it was limited to ("Searched only: …"). Citations the
  checker removed are listed as a short note, and an abstention is shown as such, with the
  nearest sources. The example questions come from the library itself (titles and headings
  made into questions in English, kept only when the library answers them). "Copy answer"
  copies the last answer as plain text with its numbered sources and links. On a touch screen
  a tap on [n] shows a sheet with the quote, title and page and an "Open the source" link.
  Under each answer's sources, the other passages searched are folded ("3 more passages
  searched, not quoted"): the "Number of sources" setting shows that many.
  Filters (publisher, years, language, document type, document; clean values from
  `app.ui_filters`, and a sentence on why nothing matches), the number of sources, and the
  answer mode (offline extractive, or the LLM endpoint when one is configured) are folded
  right under the question box ("Filters and sources", its title naming what is applied); the
  banner counts what the filters admit. Enter sends;
  👍/👎 and an optional comment go to `<store>/feedback.jsonl` (one JSON object per line; the
  last line of an `answer_id` is the latest word on that answer).
* **Your conversations** (`app.ui_conversations`) — each conversation is saved with its
  answers on the server, per user (`<store>/conversations/<user>/`; the signed-in name decides,
  never the browser), and the browser remembers which one is open, so a reload or another
  device shows it again. Open, rename or delete one; download it as Markdown or JSON with the
  numbered sources under each answer (`/lantern/conversations/<id>.md|.json`, the user's own
  only). A browser's saved chat from another user (a shared computer) is not shown.
* **Documents** — the library's table; editors upload PDF, Markdown, text or HTML files (up to
  `max_upload_mb` each) with an optional title, publisher, year and language; they are copied
  to `<store>/uploads/` and ingested with a progress bar. Editors change any document's details
  and remove documents.
* **Sign-in** (`app.ui_auth`) — with a users file (`ui_users`) everyone signs in: readers ask,
  editors also add, change and remove documents. Without one the UI serves 127.0.0.1 only, open
  as before.

This module only wires Gradio: the layout and thin event handlers. What they do lives in
`app.ui_logic` (one `LanternUI` shared by every session: asking, feedback, uploads), the
HTML in `app.ui_render`, and the styles in `app/ui.css`. Nothing is fetched from the
internet: Gradio's analytics are off and its default theme's fonts are bundled. Gradio's
"Use via API" and settings links show only with the `ui_debug` setting (`LANTERN_UI_DEBUG=1`).

Gradio is imported only inside `build_app` (it takes ~2 s), after `offline_environment()`
has switched the telemetry off. There is no `from __future__ import annotations` here on
purpose: Gradio reads the handlers' hints (`gr.LikeData`, `gr.SelectData`) with
`typing.get_type_hints`, which resolves string hints in this module's globals, where `gr`
is not; evaluated when each handler is defined inside `build_app`, they are real classes.
"""

import json
from collections.abc import Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from core.errors import SettingsError
from core.settings import Settings, offline_environment

from .ui_auth import is_loopback
from .ui_filters import FilterChoice
from .ui_logic import CONVERSATION_ROUTE, FILTERS_LABEL, LanternUI, Session
from .ui_render import md_escape

if TYPE_CHECKING:
    import gradio as gr

DEFAULT_CONCURRENCY = 8  # answers are ~0.1 s of CPU each offline; an LLM call mostly waits
ANY = ""  # the "no filter" value of the filter dropdowns

CONVERSATION_KEY = "lantern-conversation"  # the browser's localStorage key for the chat

# "Copy answer": the last answer's plain text, with the app's own links made absolute
COPY_JS = r"""(text) => {
  const plain = (text || '').replace(/(^|\s)\/lantern\//g, '$1' + location.origin + '/lantern/');
  if (plain) { navigator.clipboard.writeText(plain).catch(() => {}); }
  return plain;
}"""
# after an answer: if its first line is out of the chat's view (above it: long answers, phones;
# below it: an earlier answer still fills the view), bring it to the top
SCROLL_JS = """() => { const bring = () => {
  const bots = document.querySelectorAll('#lantern-chat .message-row.bot-row, #lantern-chat .bot-row');
  const last = bots[bots.length - 1];
  if (!last) return;
  const box = last.closest('.bubble-wrap') || last.parentElement;
  const top = last.getBoundingClientRect().top, rect = box.getBoundingClientRect();
  if (top < rect.top || top > rect.bottom - 60) { box.scrollTop += top - rect.top - 8; }
  const now = last.getBoundingClientRect().top;
  if (now < 0 || now > window.innerHeight - 60) { window.scrollBy(0, now - 8); }
};
  // Gradio may still scroll the chat to its end while the last outputs render: correct a few times
  for (const ms of [250, 700, 1500]) { setTimeout(bring, ms); } }"""

# A tap on a [n] marker (touch: no hover, so no tooltip) shows a sheet with the quote, the title,
# the article or section and the page (the marker's title: "“quote” — where"), and a link that
# opens the source; a mouse click opens the source at once, as before.
CITE_POPOVER_JS = """(() => {
  let touch = false;
  const close = () => { const old = document.getElementById('lantern-cite-pop'); if (old) old.remove(); };
  document.addEventListener('pointerdown', (e) => { touch = e.pointerType === 'touch'; }, true);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(); });
  document.addEventListener('click', (e) => {
    const marker = e.target.closest ? e.target.closest('a.lantern-cite') : null;
    if (!marker) { if (!(e.target.closest && e.target.closest('#lantern-cite-pop'))) close(); return; }
    if (!touch) return;
    e.preventDefault(); e.stopPropagation(); close();
    const title = marker.getAttribute('title') || '', cut = title.lastIndexOf('\u201d \u2014 ');
    const pop = document.createElement('div');
    pop.id = 'lantern-cite-pop'; pop.setAttribute('role', 'dialog');
    pop.setAttribute('aria-label', 'Source ' + marker.textContent);
    const where = document.createElement('div'); where.className = 'lantern-pop-where';
    where.textContent = marker.textContent + ' ' + (cut > 0 ? title.slice(cut + 4) : '');
    const quote = document.createElement('blockquote');
    quote.textContent = cut > 0 ? title.slice(1, cut) : title;
    const actions = document.createElement('div'); actions.className = 'lantern-pop-actions';
    const open = document.createElement('a'); open.href = marker.href; open.target = '_blank';
    open.rel = 'noopener'; open.textContent = 'Open the source';
    const shut = document.createElement('button'); shut.type = 'button'; shut.textContent = 'Close';
    shut.addEventListener('click', close);
    actions.append(open, shut); pop.append(where, quote, actions);
    document.body.appendChild(pop);
    open.focus();
  }, true);
})();"""

# Gradio scopes `css` under its content root, which sits inside the padded page wrapper, and
# only the top-level rules also go in unscoped: the phone-width page margin goes in `head`.
# The script there mends two things in Gradio's own markup that screen readers trip over (found
# by axe-core, tests/test_ui_browser.py): the chat's example questions are a role="list" of
# buttons (not list items), and the upload area's aria-label hides its visible text.
HEAD = (
    "<style>@media (max-width: 640px) { .gradio-container .main.fillable "
    "{padding-left: 6px !important; padding-right: 6px !important;} } .dark .lantern-cite {color: #fdba74;}</style>"
    "<script>(() => { const mend = () => {"
    " for (const el of document.querySelectorAll('.examples[role=list]')) {"
    " el.setAttribute('role', 'group'); el.setAttribute('aria-label', 'Example questions'); }"
    " for (const el of document.querySelectorAll('.upload-container[aria-label]')) { el.removeAttribute('aria-label'); }"
    " }; new MutationObserver(mend).observe(document.documentElement, {childList: true, subtree: true}); })();"
    "</script>"
    "<style>"
    "#lantern-cite-pop {position: fixed; left: 8px; right: 8px; bottom: 8px; margin: 0 auto; max-width: 560px;"
    " max-height: 60vh; overflow-y: auto; z-index: 10000; padding: .8em 1em; border-radius: 10px; font-size: 15px;"
    " font-family: var(--font, ui-sans-serif, system-ui, sans-serif); line-height: 1.4;"
    " background: var(--background-fill-primary, #fff); color: var(--body-text-color, #111);"
    " border: 1px solid var(--border-color-primary, #d4d4d8); box-shadow: 0 4px 24px rgba(0, 0, 0, .25);}"
    "#lantern-cite-pop .lantern-pop-where {font-weight: 600;}"
    "#lantern-cite-pop blockquote {margin: .5em 0; padding: 0 0 0 .7em; border-left: 3px solid #c2410c;"
    " line-height: 1.45; overflow-wrap: anywhere;}"
    "#lantern-cite-pop .lantern-pop-actions {display: flex; gap: .8em; align-items: center; flex-wrap: wrap;}"
    "#lantern-cite-pop .lantern-pop-actions a, #lantern-cite-pop .lantern-pop-actions button {display: inline-block;"
    " min-height: 44px; box-sizing: border-box; padding: .65em .9em; border-radius: 8px; font: inherit;"
    " font-weight: 600; cursor: pointer;}"
    "#lantern-cite-pop .lantern-pop-actions a {background: #c2410c; color: #fff; text-decoration: none;}"
    "#lantern-cite-pop .lantern-pop-actions button {background: transparent; color: inherit;"
    " border: 1px solid var(--border-color-primary, #d4d4d8);}"
    "</style>"
    "<script>" + CITE_POPOVER_JS + "</script>"
)


def theme() -> Any:
    """Gradio's default theme with colours that read (WCAG AA contrast, checked by axe-core):
    its orange buttons, accents and grey hints were below 4.5:1 on white."""
    import gradio as gr

    return gr.themes.Default().set(
        button_primary_background_fill="#c2410c", button_primary_background_fill_dark="#c2410c",
        button_primary_background_fill_hover="#9a3412", button_primary_background_fill_hover_dark="#9a3412",
        button_primary_text_color="#ffffff", button_primary_text_color_dark="#ffffff",
        button_cancel_background_fill="#b91c1c", button_cancel_background_fill_dark="#b91c1c",
        button_cancel_background_fill_hover="#991b1b", button_cancel_background_fill_hover_dark="#991b1b",
        button_cancel_text_color="#ffffff", button_cancel_text_color_dark="#ffffff",
        color_accent="#c2410c",  # no dark variant in Gradio: HEAD lightens the [n] links in dark mode
        body_text_color_subdued="#52525b", body_text_color_subdued_dark="#a1a1aa",
        block_info_text_color="#52525b", block_info_text_color_dark="#a1a1aa",
    )


def stylesheet() -> str:
    """The app's CSS (`app/ui.css`, shipped as package data)."""
    return resources.files("app").joinpath("ui.css").read_text(encoding="utf-8")


def build_app(settings: Settings) -> "gr.Blocks":
    """The Blocks app over the store in `settings` (use `launch` to serve it with its file route)."""
    offline_environment()
    import gradio as gr

    ui = LanternUI(settings)
    mode_choices, mode_default, mode_interactive, mode_info = ui.mode_choices()
    max_top_k = max(15, settings.top_k)

    def choices_of(cat: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
        c = cat["choices"]
        return {
            "publisher": [("Any publisher", ANY)] + c["publisher"],
            "year_from": [("Any", ANY)] + c["years"],
            "year_to": [("Any", ANY)] + list(reversed(c["years"])),
            "language": [("Any language", ANY)] + c["language"],
            "doc_type": [("Any type", ANY)] + c["doc_type"],
            "document": [("Any document", ANY)] + c["document"],
            "remove": [(f"{d.title or d.source} ({d.source})", d.source) for d in cat["documents"]],
        }

    first = choices_of(ui.catalog())

    with gr.Blocks(title="Lantern", analytics_enabled=False, fill_width=True) as demo:
        session = gr.State(None)
        banner = gr.HTML(ui.banner(), elem_id="lantern-banner")
        with gr.Tabs():
            with gr.Tab("Ask", elem_id="lantern-ask-tab"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=320):
                    chatbot = gr.Chatbot(
                        label="Conversation", show_label=False, height="68vh", min_height=360,
                        examples=[{"text": q} for q in ui.examples()] or None,
                        placeholder="**Ask about anti-trafficking policy and practice.** Answers quote the "
                                    "documents in this library, with page references you can open.",
                        buttons=[], sanitize_html=True, autoscroll=True, elem_id="lantern-chat",
                    )
                    with gr.Row(visible=False) as comment_row:
                        comment = gr.Textbox(label="Comment on this answer (optional)", lines=1, scale=4,
                                             placeholder="What was wrong, missing or useful?")
                        comment_send = gr.Button("Send comment", scale=1, min_width=120)
                    feedback_note = gr.Markdown("")
                    with gr.Row():
                        msg = gr.Textbox(
                            label="Your question", show_label=False, placeholder="Ask a question and press Enter",
                            lines=1, max_lines=6,
                            autofocus=True, scale=5, container=False, elem_id="lantern-question",
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, min_width=80)
                    # right under the box, folded: on a phone the filters are one tap from the question
                    with gr.Accordion(FILTERS_LABEL, open=False, elem_id="lantern-filters") as filters_box:
                        publisher = gr.Dropdown(first["publisher"], value=ANY, label="Publisher",
                                                allow_custom_value=True)
                        with gr.Row():
                            year_from = gr.Dropdown(first["year_from"], value=ANY, label="From year", min_width=110,
                                                    allow_custom_value=True)
                            year_to = gr.Dropdown(first["year_to"], value=ANY, label="To year", min_width=110,
                                                  allow_custom_value=True)
                        with gr.Row():
                            language = gr.Dropdown(first["language"], value=ANY, label="Language",
                                                   allow_custom_value=True, min_width=140)
                            doc_type = gr.Dropdown(first["doc_type"], value=ANY, label="Document type", min_width=140)
                        document = gr.Dropdown(first["document"], value=ANY, label="Document", allow_custom_value=True)
                        top_k = gr.Slider(1, max_top_k, value=settings.top_k, step=1, label="Number of sources",
                                          info="Passages each answer draws on; all are listed under it.")
                        mode = gr.Radio(mode_choices, value=mode_default, label="Answer mode",
                                        interactive=mode_interactive, info=mode_info)
                    with gr.Row():
                        copy = gr.Button("Copy answer", size="sm", elem_id="lantern-copy")
                        new_chat = gr.Button("New conversation", size="sm")
                    copy_text = gr.Textbox(visible="hidden", elem_id="lantern-copy-text", label="Answer as text")
                    saved = gr.BrowserState(None, storage_key=CONVERSATION_KEY, secret=ui.conversations.browser_key())
                with gr.Column(scale=1, min_width=260, elem_id="lantern-conversations"):
                    gr.Markdown("### Your conversations")
                    conv_list = gr.Dropdown([], value=None, label="Open a saved conversation",
                                            info="Each conversation is saved with its answers, for you only.")
                    conv_name = gr.Textbox(label="Name of this conversation", max_lines=1)
                    with gr.Row():
                        conv_rename = gr.Button("Rename", size="sm", min_width=80)
                        conv_delete = gr.Button("Delete", size="sm", variant="stop", min_width=80)
                    conv_export = gr.HTML("", elem_id="lantern-export")
                    conv_note = gr.Markdown("")
                    conv_confirmed = gr.Checkbox(True, visible=False, label="Confirmed")
            with gr.Tab("Documents", elem_id="lantern-documents-tab"):
                who = gr.Markdown("", elem_id="lantern-who")
                with gr.Column(visible=True) as editor_tools:
                    gr.Markdown(
                        f"### Add documents\nUpload **PDF, Markdown, text or HTML** files (up to "
                        f"{settings.max_upload_mb} MB each). They are added to the library and indexed; questions "
                        "keep working meanwhile. Details left blank are read from the files."
                    )
                    files = gr.File(label="Files to add (.pdf .md .txt .html)", file_count="multiple", type="filepath")
                    with gr.Row():
                        up_title = gr.Textbox(label="Title (one file only)", scale=3)
                        up_publisher = gr.Textbox(label="Publisher", scale=2)
                        up_year = gr.Textbox(label="Year", scale=1, min_width=90)
                        up_language = gr.Textbox(label="Language", placeholder="English", scale=1, min_width=110)
                    add = gr.Button("Add to the library", variant="primary")
                    add_result = gr.Markdown("")
                table = gr.Dataframe(
                    ui.documents_rows(),
                    headers=["Title", "Source", "Publisher", "Year", "Language", "Pages", "Passages", "Added"],
                    label="In this library", interactive=False, wrap=True, max_height=420,
                    column_widths=["26%", "20%", "15%", "6%", "9%", "6%", "6%", "12%"],
                )
                with gr.Column(visible=True) as editor_edit:
                    gr.Markdown("### Change or remove a document\nChoose one here or click its row above.")
                    to_remove = gr.Dropdown(first["remove"], value=None, label="Document to change or remove")
                    with gr.Row():
                        ed_title = gr.Textbox(label="Title", scale=3)
                        ed_publisher = gr.Textbox(label="Publisher", scale=2)
                        ed_year = gr.Textbox(label="Year", scale=1, min_width=90)
                        ed_language = gr.Textbox(label="Language", scale=1, min_width=110)
                    with gr.Row():
                        save_details = gr.Button("Save details", variant="primary", scale=1, min_width=120)
                        remove = gr.Button("Remove", variant="stop", scale=1, min_width=100)
                    confirmed = gr.Checkbox(True, visible=False, label="Confirmed")
                    remove_result = gr.Markdown("")

        filter_controls = [publisher, year_from, year_to, language, document, doc_type]
        controls = [publisher, year_from, year_to, language, document, top_k, mode, doc_type]
        catalog_outputs = [banner, publisher, year_from, year_to, language, document, doc_type, to_remove, table,
                           chatbot]

        def refresh() -> tuple[Any, ...]:
            c = choices_of(ui.catalog())
            return (
                ui.banner(), gr.Dropdown(choices=c["publisher"]), gr.Dropdown(choices=c["year_from"]),
                gr.Dropdown(choices=c["year_to"]), gr.Dropdown(choices=c["language"]),
                gr.Dropdown(choices=c["document"]), gr.Dropdown(choices=c["doc_type"]),
                gr.Dropdown(choices=c["remove"], value=None), ui.documents_rows(),
                gr.Chatbot(examples=[{"text": q} for q in ui.examples()] or None),
            )

        def filtered_banner(publisher: str | None, year_from: str | None, year_to: str | None, language: str | None,
                            document: str | None, doc_type: str | None) -> tuple[str, Any]:
            choice = FilterChoice.of(publisher=publisher, year_from=year_from, year_to=year_to,
                                     language=language, document=document, doc_type=doc_type)
            return ui.banner(choice), gr.Accordion(label=ui.filters_label(choice))

        for control in filter_controls:
            control.change(filtered_banner, filter_controls, [banner, filters_box], api_visibility="private",
                           show_progress="hidden")

        def ask(
            message: str, history: list, state: Session | None, publisher: str | None, year_from: str | None,
            year_to: str | None, language: str | None, document: str | None, top_k: float, mode: str | None,
            doc_type: str | None = None,
        ) -> Iterator[tuple]:
            for chat, current, cleared in ui.respond(message, history, state, publisher, year_from, year_to,
                                                     language, document, top_k, mode, doc_type):
                yield chat, current, cleared, current.copy_text

        def user_of(request: gr.Request | None) -> str | None:
            """The signed-in name (None on an open, local UI): whose conversations these are."""
            return getattr(request, "username", None) if ui.users is not None else None

        def export_links(conversation_id: str | None) -> str:
            if not conversation_id:
                return ""
            base = f"{CONVERSATION_ROUTE}/{conversation_id}"
            return (f'<div class="lantern-export">Download this conversation with its sources: '
                    f'<a href="{base}.md" download>Markdown</a> · <a href="{base}.json" download>JSON</a></div>')

        def panel(username: str | None, state: Session | None) -> tuple[Any, str, str]:
            """The conversations list (the open one chosen), its name, its export links."""
            record = ui.conversations.get(username, state.conversation_id) if state else None
            cid = record["id"] if record else None
            return (gr.Dropdown(choices=ui.conversation_choices(username), value=cid),
                    record["name"] if record else "", export_links(cid))

        panel_outputs = [conv_list, conv_name, conv_export]

        def save(request: gr.Request, history: list, state: Session | None) -> tuple[Any, ...]:
            username = user_of(request)
            stored = ui.save_conversation(username, history, state)
            return (stored, state, *panel(username, state))

        def restore(request: gr.Request, stored: dict[str, Any] | None) -> tuple[Any, ...]:
            username = user_of(request)
            history, state = ui.restore_conversation(username, stored)
            kept = ui.browser_state(username, history, state)  # another user's state is dropped
            return (history, state, state.copy_text if state else "", kept, *panel(username, state))

        # only /ask, /upload and /remove are public endpoints; every other event is private
        ask_inputs, ask_outputs = [msg, chatbot, session, *controls], [chatbot, session, msg, copy_text]

        def after_answer(event: Any) -> None:
            """Keep the conversation (server and browser), and bring the answer's first line into view."""
            event.then(save, [chatbot, session], [saved, session, *panel_outputs], api_visibility="private",
                       show_progress="hidden").then(None, None, None, js=SCROLL_JS, api_visibility="private")

        after_answer(msg.submit(ask, ask_inputs, ask_outputs, api_name="ask", show_progress="hidden"))
        after_answer(send.click(ask, ask_inputs, ask_outputs, api_visibility="private", show_progress="hidden"))
        copy.click(None, [copy_text], [copy_text], js=COPY_JS, api_visibility="private")

        def pick_example(evt: gr.SelectData) -> str:
            value = evt.value
            return value.get("text", "") if isinstance(value, dict) else str(value)

        after_answer(chatbot.example_select(pick_example, None, msg, api_visibility="private").then(
            ask, ask_inputs, ask_outputs, api_visibility="private", show_progress="hidden"))

        def new_conversation(request: gr.Request) -> tuple[Any, ...]:
            return ([], None, "", gr.Row(visible=False), "", "", None, "", *panel(user_of(request), None))

        fresh_outputs = [chatbot, session, msg, comment_row, feedback_note, copy_text, saved, conv_note, *panel_outputs]
        new_chat.click(new_conversation, None, fresh_outputs, api_visibility="private")
        chatbot.clear(new_conversation, None, fresh_outputs, api_visibility="private")  # the chat's own clear button

        def open_saved(request: gr.Request, conversation_id: str | None) -> tuple[Any, ...]:
            username = user_of(request)
            history, state = ui.open_conversation(username, conversation_id)
            note = "" if state else "That conversation is no longer saved."
            return (history, state, "", gr.Row(visible=False), "", state.copy_text if state else "",
                    ui.browser_state(username, history, state), note, *panel(username, state))

        conv_list.input(open_saved, [conv_list], fresh_outputs, api_visibility="private", show_progress="hidden")

        def rename_saved(request: gr.Request, state: Session | None, name: str) -> tuple[Any, ...]:
            username = user_of(request)
            note = ui.rename_conversation(username, state.conversation_id if state else None, name)
            return (note, *panel(username, state))

        conv_rename.click(rename_saved, [session, conv_name], [conv_note, *panel_outputs], api_visibility="private")
        conv_name.submit(rename_saved, [session, conv_name], [conv_note, *panel_outputs], api_visibility="private")

        def delete_saved(request: gr.Request, name: str, confirmed: bool, state: Session | None) -> tuple[Any, ...]:
            """Delete the open conversation (after the browser's confirm) and start a fresh one."""
            username = user_of(request)
            note = ("Nothing deleted." if name and not confirmed
                    else ui.delete_conversation(username, state.conversation_id if state else None))
            if note != "Conversation deleted.":
                return tuple(note if out is conv_note else gr.skip() for out in fresh_outputs)
            return tuple(note if out is conv_note else value
                         for out, value in zip(fresh_outputs, new_conversation(request), strict=True))

        conv_delete.click(delete_saved, [conv_name, conv_confirmed, session], fresh_outputs, api_visibility="private",
                          js="(n, c, s) => [n, !n || confirm('Delete the conversation “' + n + '”?'), s]")

        def on_like(state: Session | None, evt: gr.LikeData) -> tuple[Session | None, Any, str]:
            index = evt.index if isinstance(evt.index, int) else evt.index[0]
            rating = {True: "up", False: "down"}.get(evt.liked) if isinstance(evt.liked, bool) else (evt.liked or None)
            value = evt.value if isinstance(evt.value, str) else json.dumps(evt.value, default=str)
            ui.record_feedback(state, index, rating, message=value)
            if state is not None:
                state.rated = index
            if rating is None:
                return state, gr.Row(visible=False), "Rating withdrawn."
            thanks = ("Thanks: marked as helpful." if rating == "up"
                      else "Thanks: marked as not helpful. A comment on what was wrong helps most.")
            return state, gr.Row(visible=True), thanks

        chatbot.like(on_like, [session], [session, comment_row, feedback_note], api_visibility="private")

        def on_comment(text: str, state: Session | None) -> tuple[str, Any, str]:
            if not (text or "").strip():
                return "", gr.Row(visible=True), "Write a comment first, or ignore the box."
            index = state.rated if state and state.rated is not None else -1
            rating = state.answers.get(index, {}).get("rating") if state else None
            ui.record_feedback(state, index, rating, comment=text)
            return "", gr.Row(visible=False), "Comment saved. Thank you."

        comment.submit(on_comment, [comment, session], [comment, comment_row, feedback_note], api_visibility="private")
        comment_send.click(on_comment, [comment, session], [comment, comment_row, feedback_note], api_visibility="private")

        # gr.Request first: Gradio fills it in wherever it stands, and the inputs keep their defaults
        def upload(request: gr.Request, paths: list[str] | None, title: str | None = None, publisher: str | None = None,
                   year: str | None = None, language: str | None = None,
                   progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
            def notify(message: str, done: int, total: int) -> None:
                progress((done, total) if total else None, desc=message)

            username = getattr(request, "username", None)
            try:
                metadata = ui.metadata_values(title, publisher, year, language)
            except ValueError as exc:
                return (f"Nothing was added: {exc}.", gr.skip(), *(gr.skip() for _ in catalog_outputs))
            report = ui.add_documents(list(paths or []), progress=notify, metadata=metadata, username=username)
            return (report, None, *refresh())

        add.click(upload, [files, up_title, up_publisher, up_year, up_language], [add_result, files, *catalog_outputs],
                  api_name="upload", concurrency_limit=1, concurrency_id="store-write",
                  show_progress_on=[files]).then(filtered_banner, filter_controls, [banner, filters_box], api_visibility="private")

        def remove_doc(request: gr.Request, source: str | None, confirmed: bool = True) -> tuple[Any, ...]:
            if source and not confirmed:
                return ("Nothing removed.", *(gr.skip() for _ in catalog_outputs))
            message = ui.remove_document(source, username=getattr(request, "username", None))
            return (message, *refresh())

        remove.click(remove_doc, [to_remove, confirmed], [remove_result, *catalog_outputs], api_name="remove",
                     concurrency_limit=1, concurrency_id="store-write", show_progress_on=[to_remove],
                     js="(s, c) => [s, !s || confirm('Remove ' + s + ' from the library?')]").then(
            filtered_banner, filter_controls, [banner, filters_box], api_visibility="private")

        def edit_doc(request: gr.Request, source: str | None, title: str, publisher: str, year: str,
                     language: str) -> tuple[Any, ...]:
            message = ui.edit_document(source, title, publisher, year, language,
                                       username=getattr(request, "username", None))
            return (message, *refresh(), gr.Dropdown(value=source))

        save_details.click(edit_doc, [to_remove, ed_title, ed_publisher, ed_year, ed_language],
                           [remove_result, *catalog_outputs, to_remove], api_visibility="private",
                           concurrency_limit=1, concurrency_id="store-write").then(
            filtered_banner, filter_controls, [banner, filters_box], api_visibility="private")

        def fill_details(source: str | None) -> tuple[str, str, str, str]:
            return ui.document_details(source)

        to_remove.change(fill_details, [to_remove], [ed_title, ed_publisher, ed_year, ed_language],
                         api_visibility="private", show_progress="hidden")

        def pick_row(evt: gr.SelectData) -> Any:
            row = getattr(evt, "row_value", None)
            return gr.Dropdown(value=row[1]) if row and len(row) > 1 else gr.Dropdown()

        table.select(pick_row, None, to_remove, api_visibility="private")

        def whoami(request: gr.Request) -> tuple[str, Any, Any]:
            username = getattr(request, "username", None)
            editor = ui.can_edit(username)
            if ui.users is None:
                return "", gr.Column(visible=True), gr.Column(visible=True)
            role = "an editor: you can also add, change and remove documents" if editor else (
                "a reader: you can ask and read; editors add, change and remove documents")
            note = f"Signed in as **{md_escape(username or '')}**, {role}. [Sign out](/logout)"
            return note, gr.Column(visible=editor), gr.Column(visible=editor)

        demo.load(whoami, None, [who, editor_tools, editor_edit], api_visibility="private", show_progress="hidden")
        demo.load(refresh, None, catalog_outputs, api_visibility="private", show_progress="hidden")
        demo.load(restore, [saved], [chatbot, session, copy_text, saved, *panel_outputs], api_visibility="private",
                  show_progress="hidden")

    demo.lantern_ui = ui  # type: ignore[attr-defined]
    return demo


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, **kw: Any) -> "gr.Blocks":
    """Build the app, queue it for several users, add the cited-file route and serve it.

    Beyond a loopback address it needs a users file (`ui_users`): everyone signs in then.

    Blocks until stopped unless `prevent_thread_lock=True`; returns the Blocks (its
    `lantern_ui.close()` closes the store). `concurrency_limit` sets how many answers
    run at once (default 8); other keywords go to `gr.Blocks.launch`.
    """
    if not is_loopback(host) and not settings.ui_users:
        raise SettingsError(
            f"refusing to serve the UI on {host} without sign-in: set ui_users to a users file "
            "(LANTERN_UI_USERS=users.toml; see app/ui_auth.py) or serve on 127.0.0.1")
    demo = build_app(settings)
    ui: LanternUI = demo.lantern_ui  # type: ignore[attr-defined]
    if ui.users is not None:
        kw.setdefault("auth", ui.users.check)
        kw.setdefault("auth_message", "Sign in to Lantern with the name and password you were given.")
    demo.queue(default_concurrency_limit=kw.pop("concurrency_limit", DEFAULT_CONCURRENCY))
    app_kwargs = dict(kw.pop("app_kwargs", None) or {})
    app_kwargs["routes"] = [*(app_kwargs.get("routes") or []), *ui.routes()]
    kw.setdefault("max_file_size", settings.max_upload_mb * 2 * 1024 * 1024)  # our check names the file below 2×
    kw.setdefault("ssr_mode", False)  # no Node server
    kw.setdefault("footer_links", ["api", "settings"] if settings.ui_debug else [])
    kw.setdefault("css", stylesheet())
    kw.setdefault("head", HEAD)
    kw.setdefault("theme", theme())
    demo.launch(server_name=host, server_port=port, app_kwargs=app_kwargs, mcp_server=False, pwa=False, **kw)
    return demo
