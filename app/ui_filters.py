"""The UI's filters: clean choices from the library, what a choice admits, and why nothing matched.

Practitioners saw near-duplicate publisher names ("Dutch National Rapporteur on Trafficking in
Human Beings (BNRM)" beside "... and Sexual Violence against Children"), raw language codes
("en;nl"), no document-type filter, the same "no document matches" for a typo and for a year
range that runs backwards, and a banner that kept counting the whole library. Here:

* `publisher_groups` merges names that start with the same organisation; the group's name is
  contained in each of its members, so the store's publisher filter (a case-insensitive
  substring) admits them all, and the count shown is the count searched.
* languages are listed one code at a time, by name ("English", "Dutch"): the filter matches a
  passage's own language, and most treaties hold an English and a Dutch text.
* `FilterChoice.problem` says, in one sentence, why a choice admits nothing; `describe` names
  what was applied, for the answer and the banner.

Pure functions over the store's document records: `app.ui_logic` passes them in.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.store import DocumentRecord

LANGUAGE_NAMES = {
    "en": "English", "nl": "Dutch", "fr": "French", "de": "German", "es": "Spanish", "pt": "Portuguese",
    "it": "Italian", "pl": "Polish", "ro": "Romanian", "bg": "Bulgarian", "uk": "Ukrainian", "ru": "Russian",
    "ar": "Arabic", "zh": "Chinese", "tr": "Turkish", "sw": "Swahili", "hi": "Hindi", "th": "Thai",
    "vi": "Vietnamese", "id": "Indonesian", "el": "Greek", "hu": "Hungarian", "cs": "Czech", "sv": "Swedish",
    "da": "Danish", "fi": "Finnish", "no": "Norwegian", "lt": "Lithuanian", "lv": "Latvian", "et": "Estonian",
}
DOC_TYPE_NAMES = {
    "pdf": "PDF", "markdown": "Markdown text (treaties, notes)", "text": "Plain text", "html": "Web page (HTML)",
    "resource-page": "Resource-library page", "docx": "Word document", "odt": "OpenDocument text",
}
_UNNAMED = {"unknown", "n/a", "none", "-"}


def language_codes(value: str | None) -> list[str]:
    """'en;nl' -> ['en', 'nl']."""
    return [c.strip().lower() for c in re.split(r"[;,/]", value or "") if c.strip()]


def language_name(code: str) -> str:
    """'nl' -> 'Dutch'; an unknown code is shown as it is, upper-cased."""
    return LANGUAGE_NAMES.get(code.lower(), code.upper())


def language_code(value: str) -> str:
    """A language typed or picked as a name or a code -> its code ('Dutch', 'dutch', 'nl' -> 'nl')."""
    wanted = value.strip().lower()
    for code, name in LANGUAGE_NAMES.items():
        if wanted in (code, name.lower()):
            return code
    return wanted


def doc_type_name(doc_type: str) -> str:
    return DOC_TYPE_NAMES.get(doc_type, doc_type)


def _core_name(publisher: str) -> str:
    """The organisation a publisher string names: no '(ILAB)', no ' - programme', no ', with …'."""
    name = re.sub(r"\s*\([^)]*\)", "", publisher)
    name = re.split(r"\s+[-–—]\s+|,\s+", name, maxsplit=1)[0]
    return " ".join(name.split()).strip(" .;:")


def _starts_with_words(text: str, prefix: str) -> bool:
    text, prefix = text.lower(), prefix.lower()
    return text.startswith(prefix) and (len(text) == len(prefix) or not text[len(prefix)].isalnum())


def publisher_groups(publishers: Iterable[str]) -> dict[str, list[str]]:
    """Publisher names merged by the organisation they start with: {shown name: [names in the store]}.

    The shown name is a case-insensitive substring of every member (the store's filter is one).
    'unknown (…)' is left out: it names no publisher anyone would filter by.
    """
    names = sorted({" ".join(p.split()) for p in publishers if p and p.strip()}, key=lambda p: (len(_core_name(p)), p))
    groups: dict[str, list[str]] = {}
    for name in names:
        core = _core_name(name)
        if not core or core.lower() in _UNNAMED:
            continue
        home = next((shown for shown in groups if _starts_with_words(name, shown)), None)
        if home is None:
            shown = core if core.lower() in name.lower() else name
            home = next((g for g in groups if g.lower() == shown.lower()), shown)
        groups.setdefault(home, []).append(name)
    return dict(sorted(groups.items(), key=lambda kv: kv[0].lower()))


@dataclass
class FilterChoice:
    """What the filter controls hold (blank = any)."""

    publisher: str = ""
    year_from: str = ""
    year_to: str = ""
    language: str = ""
    doc_type: str = ""
    document: str = ""

    @classmethod
    def of(cls, **values: Any) -> FilterChoice:
        return cls(**{k: str(v).strip() if v not in (None,) else "" for k, v in values.items()})

    @property
    def empty(self) -> bool:
        return not any((self.publisher, self.year_from, self.year_to, self.language, self.doc_type, self.document))

    def years(self) -> tuple[int | None, int | None]:
        """(from, to) as numbers (ValueError names the one that is not a year)."""
        out: list[int | None] = []
        for label, value in (("From year", self.year_from), ("To year", self.year_to)):
            if not value:
                out.append(None)
                continue
            if not re.fullmatch(r"\d{3,4}", value):
                raise ValueError(f"“{value}” in {label} is not a year: use four digits, such as 2015")
            out.append(int(value))
        return out[0], out[1]

    def filters(self) -> dict[str, Any]:
        """The Lantern filters for this choice (call `problem` first: it checks the years)."""
        out: dict[str, Any] = {}
        if self.publisher:
            out["publisher"] = self.publisher
        if self.language:
            out["language"] = language_code(self.language)
        if self.doc_type:
            out["doc_type"] = self.doc_type
        if self.document:
            out["source"] = self.document
        low, high = self.years()
        if low is not None:
            out["year_min"] = low
        if high is not None:
            out["year_max"] = high
        return out

    def admits(self, doc: DocumentRecord) -> bool:
        """Whether a document is searched under this choice (the store's own rules, per document)."""
        low, high = self.years()
        if self.publisher and self.publisher.lower() not in (doc.publisher or "").lower():
            return False
        if self.document and doc.source != self.document:
            return False
        if self.doc_type and self.doc_type.lower() not in (doc.doc_type or "").lower():
            return False
        if self.language and language_code(self.language) not in language_codes(doc.language):
            return False
        if (low is not None or high is not None) and doc.year is None:
            return False
        if low is not None and doc.year is not None and doc.year < low:
            return False
        return not (high is not None and doc.year is not None and doc.year > high)

    def describe(self, documents: Sequence[DocumentRecord] = ()) -> str:
        """What the choice limits the search to, for people: 'publisher UNODC; 2015–2024; English'."""
        parts = []
        if self.publisher:
            parts.append(f"publisher {self.publisher}")
        if self.year_from or self.year_to:
            if self.year_from and self.year_to:
                parts.append(self.year_from if self.year_from == self.year_to else f"{self.year_from}–{self.year_to}")
            else:
                parts.append(f"from {self.year_from}" if self.year_from else f"up to {self.year_to}")
        if self.language:
            parts.append(f"in {language_name(language_code(self.language))}")
        if self.doc_type:
            parts.append(doc_type_name(self.doc_type))
        if self.document:
            title = next((d.title for d in documents if d.source == self.document and d.title), None)
            parts.append(f"document “{title or self.document}”")
        return "; ".join(parts)

    def problem(self, documents: Sequence[DocumentRecord]) -> str | None:
        """Why this choice admits no document, in one or two sentences; None when some match."""
        try:
            low, high = self.years()
        except ValueError as exc:
            return f"{str(exc)[:1].upper()}{str(exc)[1:]}."
        if low is not None and high is not None and low > high:
            return (f"The year range is empty: From year ({low}) is after To year ({high}). "
                    "Swap them, or clear one.")
        if not documents:
            return None
        if any(self.admits(d) for d in documents):
            return None
        reasons = []
        if self.publisher and not any(self.publisher.lower() in (d.publisher or "").lower() for d in documents):
            shown = list(publisher_groups(d.publisher or "" for d in documents))
            near = difflib.get_close_matches(self.publisher, shown, n=1, cutoff=0.5)
            reasons.append(f"no publisher in this library is called “{self.publisher}”"
                           + (f" (did you mean {near[0]}?)" if near else ""))
        if self.language:
            code = language_code(self.language)
            if not any(code in language_codes(d.language) for d in documents):
                reasons.append(f"no document is in {language_name(code)}")
        if self.document and not any(d.source == self.document for d in documents):
            reasons.append(f"no document “{self.document}” is in this library")
        if self.doc_type and not any(self.doc_type.lower() in (d.doc_type or "").lower() for d in documents):
            reasons.append(f"no document is of the type {doc_type_name(self.doc_type)}")
        years = sorted(d.year for d in documents if d.year)
        if years and ((low is not None and low > years[-1]) or (high is not None and high < years[0])):
            reasons.append(f"the documents are from {years[0]}–{years[-1]}")
        if reasons:
            return f"Nothing to search: {'; '.join(reasons)}."
        return (f"No document in this library matches all of these filters together ({self.describe(documents)}). "
                "Clear one of them to widen the search.")


def choices(documents: Sequence[DocumentRecord]) -> dict[str, list[tuple[str, str]]]:
    """(label, value) pairs for each filter control, from the documents in the library."""
    years = sorted({d.year for d in documents if d.year})
    codes = sorted({c for d in documents for c in language_codes(d.language)}, key=language_name)
    types = sorted({d.doc_type for d in documents if d.doc_type}, key=doc_type_name)
    return {
        "publisher": [(name, name) for name in publisher_groups(d.publisher or "" for d in documents)],
        "years": [(str(y), str(y)) for y in years],
        "language": [(language_name(c), c) for c in codes],
        "doc_type": [(doc_type_name(t), t) for t in types],
        "document": [(d.title or d.source, d.source) for d in documents],
    }
