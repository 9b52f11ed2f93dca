"""Text cleaning: mojibake, hyphenation at line ends, running headers/footers and whitespace.

Cleaning happens before chunking and the cleaned page text is what the store keeps, so
character offsets and quotes always refer to the text a user is shown.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter

from core.text import normalise_whitespace

_HYPHEN_BREAK = re.compile(r"(\w+)-[ \t]*\n[ \t]*([a-z]\w*)")


_CP1252_BYTE: dict[str, int] = {}
for _b in range(0x80, 0xA0):
    with contextlib.suppress(UnicodeDecodeError):  # 0x81, 0x8d, 0x8f, 0x90, 0x9d are undefined
        _CP1252_BYTE[bytes([_b]).decode("cp1252")] = _b
_MOJIBAKE_RUN_RE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf" + "".join(re.escape(c) for c in _CP1252_BYTE) + "]+"
)
_MOJIBAKE_LEFTOVERS = (("â€\u009d", "”"), ("â€", "”"), ("Â ", " "))


def _mojibake_bytes(run: str) -> bytes | None:
    """Map each char back to the byte it was mis-decoded from (cp1252, else latin-1)."""
    out = bytearray()
    for ch in run:
        if ch in _CP1252_BYTE:
            out.append(_CP1252_BYTE[ch])
        elif ord(ch) < 0x100:
            out.append(ord(ch))
        else:
            return None
    return bytes(out)


def _fix_run(match: re.Match[str]) -> str:
    """Re-decode one suspicious run as UTF-8, sequence by sequence, keeping what fails."""
    run = match.group(0)
    raw = _mojibake_bytes(run)
    if raw is None:
        return run
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    out, i = [], 0
    while i < len(run):
        lead = raw[i]
        n = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        try:
            out.append(raw[i : i + n].decode("utf-8"))
            i += n
        except UnicodeDecodeError:
            out.append(run[i])
            i += 1
    return "".join(out)


def fix_mojibake(text: str) -> str:
    """Undo UTF-8-read-as-cp1252 damage ('â€™' → '’') only where it decodes cleanly."""
    if not re.search("[\u00c2-\u00f4]", text):
        return text
    text = _MOJIBAKE_RUN_RE.sub(_fix_run, text)
    for bad, good in _MOJIBAKE_LEFTOVERS:
        text = text.replace(bad, good)
    return text



def word_set(text: str) -> set[str]:
    """Lower-cased words of a text, not counting the halves of words split at line ends."""
    return set(re.findall(r"[a-z]+", _HYPHEN_BREAK.sub(" ", text).lower()))


def join_hyphenation(text: str, vocabulary: set[str] | None = None) -> str:
    """Join words split at a line end ("traf-\\nficking"), keeping real compounds.

    A split is joined when the joined word occurs elsewhere in the document (`vocabulary`),
    or when the second half is not a word on its own there; otherwise the hyphen stays
    ("forced-\\nlabour" → "forced-labour").
    """
    vocab = vocabulary if vocabulary is not None else word_set(text)

    def repl(m: re.Match[str]) -> str:
        left, right = m.group(1), m.group(2)
        joined = left + right
        if joined.lower() in vocab or right.lower() not in vocab:
            return joined
        return f"{left}-{right}"

    return _HYPHEN_BREAK.sub(repl, text)


def _line_key(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip().lower())


def repeated_edge_lines(pages: list[str], edge: int = 3, min_share: float = 0.3) -> set[str]:
    """Keys of lines that recur in the first/last `edge` lines of most pages: running headers,
    footers and page numbers (digits are normalised, so "Page 3" and "Page 4" match). A share
    of 0.3 catches headers that alternate between odd and even pages."""
    if len(pages) < 2:
        return set()
    counts: Counter[str] = Counter()
    for text in pages:
        lines = [ln for ln in text.split("\n") if ln.strip()]
        keys = {_line_key(ln) for ln in lines[:edge] + lines[-edge:]}
        counts.update(k for k in keys if k)
    threshold = len(pages) if len(pages) < 4 else max(3, int(len(pages) * min_share))
    return {k for k, c in counts.items() if c >= threshold and len(k) < 120}


def strip_edge_lines(text: str, keys: set[str], edge: int = 3) -> str:
    """Remove header/footer lines (by key) from the top and bottom `edge` lines of a page."""
    if not keys:
        return text
    lines = text.split("\n")
    nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
    edges = set(nonblank[:edge] + nonblank[-edge:])
    return "\n".join(ln for i, ln in enumerate(lines) if not (i in edges and _line_key(ln) in keys))


def clean_pages(raw_pages: list[str]) -> list[str]:
    """Clean all pages of one document together (headers/footers are a document property)."""
    fixed = [normalise_whitespace(fix_mojibake(p)) for p in raw_pages]
    keys = repeated_edge_lines(fixed)
    stripped = [strip_edge_lines(p, keys) for p in fixed]
    vocab = word_set(" ".join(stripped))
    return [normalise_whitespace(join_hyphenation(p, vocab)) for p in stripped]
