// Lantern's PDF viewer: one page of a cited PDF, drawn by PDF.js (vendored in ./pdfjs/), with
// the cited quote highlighted in the page's text layer. The page that loads this module
// (app/ui_pdf.py) names the file, the page and the quote in #viewer's data attributes.
//
// The quote comes from the store's cleaned text (hyphenation joined, running headers removed),
// which need not match PDF.js's text item for item: both are compared as letters and digits
// only, so line breaks, hyphens and spacing do not matter. When the whole quote is not found
// (a cleaned-away header inside it, a ligature), its longest runs of words that are found are
// highlighted instead.

import * as pdfjsLib from "./pdfjs/pdf.min.mjs";

pdfjsLib.GlobalWorkerOptions.workerSrc = new URL("./pdfjs/pdf.worker.min.mjs", import.meta.url).href;

const root = document.getElementById("viewer");
const status = document.getElementById("status");
const where = document.getElementById("where");
const prev = document.getElementById("prev");
const next = document.getElementById("next");
const quote = root.dataset.quote || "";
const cited = Math.max(1, parseInt(root.dataset.page || "1", 10) || 1);
const WORD = /[\p{L}\p{N}]/u;
const MIN_RUN_WORDS = 3;
const MIN_RUN_CHARS = 12;

let pdf = null;
let current = cited;
let drawing = Promise.resolve();

/** Letters and digits of `text`, lower-cased and NFKC-normalised (ligatures split). */
function compact(text) {
  let out = "";
  for (const ch of text.normalize("NFKC").toLowerCase()) {
    if (WORD.test(ch)) out += ch;
  }
  return out;
}

/** The compacted text of all spans, and for each of its characters: [span, offset in span]. */
function indexSpans(spans) {
  let flat = "";
  const map = [];
  spans.forEach((span, s) => {
    const text = span.textContent;
    for (let i = 0; i < text.length; i++) {
      for (const ch of text[i].normalize("NFKC").toLowerCase()) {
        if (WORD.test(ch)) {
          flat += ch;
          map.push([s, i]);
        }
      }
    }
  });
  return { flat, map };
}

/** [start, end) ranges of `flat` holding the quote: all of it, else its longest runs of words in order. */
function findRanges(flat, text) {
  const whole = compact(text);
  if (!whole) return [];
  const at = flat.indexOf(whole);
  if (at >= 0) return [[at, at + whole.length]];
  const words = text.split(/\s+/).map(compact).filter(Boolean);
  const ranges = [];
  let from = 0;
  let i = 0;
  while (i < words.length) {
    let found = null;
    for (let j = words.length; j >= i + MIN_RUN_WORDS; j--) {
      const piece = words.slice(i, j).join("");
      if (piece.length < MIN_RUN_CHARS) break;
      const pos = flat.indexOf(piece, from);
      if (pos >= 0) {
        found = [pos, pos + piece.length, j];
        break;
      }
    }
    if (found) {
      ranges.push([found[0], found[1]]);
      from = found[1];
      i = found[2];
    } else {
      i += 1;
    }
  }
  return ranges;
}

/** Wrap the characters of `ranges` in <mark class="highlight"> inside their text-layer spans. */
function highlight(spans, map, ranges) {
  const perSpan = new Map();
  for (const [start, end] of ranges) {
    let k = start;
    while (k < end) {
      const s = map[k][0];
      const a = map[k][1];
      let b = a;
      while (k < end && map[k][0] === s) {
        b = map[k][1];
        k += 1;
      }
      if (!perSpan.has(s)) perSpan.set(s, []);
      perSpan.get(s).push([a, b + 1]);
    }
  }
  const marks = [];
  for (const [s, parts] of perSpan) {
    const span = spans[s];
    const text = span.textContent;
    span.textContent = "";
    let pos = 0;
    parts.sort((x, y) => x[0] - y[0]);
    for (const [a, b] of parts) {
      if (b <= pos) continue;
      if (a > pos) span.append(text.slice(pos, a));
      const mark = document.createElement("mark");
      mark.className = "highlight";
      mark.textContent = text.slice(Math.max(a, pos), b);
      span.append(mark);
      marks.push(mark);
      pos = b;
    }
    if (pos < text.length) span.append(text.slice(pos));
  }
  return marks;
}

async function draw(number) {
  current = Math.min(Math.max(1, number), pdf.numPages);
  document.body.dataset.ready = "";
  where.textContent = `Page ${current} of ${pdf.numPages}`;
  prev.disabled = current <= 1;
  next.disabled = current >= pdf.numPages;
  const page = await pdf.getPage(current);
  const width = Math.min(Math.max(root.clientWidth - 4, 280), 1100);
  const scale = width / page.getViewport({ scale: 1 }).width;
  const viewport = page.getViewport({ scale });
  const box = document.createElement("div");
  box.className = "page";
  box.style.setProperty("--scale-factor", String(scale));
  box.style.width = `${Math.floor(viewport.width)}px`;
  box.style.height = `${Math.floor(viewport.height)}px`;
  const canvas = document.createElement("canvas");
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.floor(viewport.width * ratio);
  canvas.height = Math.floor(viewport.height * ratio);
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `Page ${current}`);
  const layer = document.createElement("div");
  layer.className = "textLayer";
  box.append(canvas, layer);
  root.replaceChildren(box);
  const rendering = page.render({
    canvasContext: canvas.getContext("2d"), viewport, transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null,
  }).promise;
  const textLayer = new pdfjsLib.TextLayer({ textContentSource: page.streamTextContent(), container: layer, viewport });
  await textLayer.render();
  let marks = [];
  if (quote) {
    const spans = textLayer.textDivs;
    const { flat, map } = indexSpans(spans);
    marks = highlight(spans, map, findRanges(flat, quote));
  }
  if (marks.length) {
    status.textContent = current === cited ? "The quoted passage is highlighted on this page." : "";
    marks[0].scrollIntoView({ block: "center" });
  } else if (quote && current === cited) {
    status.textContent = "The quoted passage could not be found in this page's text; it is quoted above.";
  } else {
    status.textContent = "";
  }
  document.body.dataset.highlights = String(marks.length);
  await rendering.catch(() => {});
  document.body.dataset.ready = "1";
}

function go(number) {
  drawing = drawing.then(() => draw(number)).catch((err) => {
    status.textContent = `Could not show this page: ${err && err.message ? err.message : err}`;
    document.body.dataset.ready = "error";
  });
}

prev.addEventListener("click", () => go(current - 1));
next.addEventListener("click", () => go(current + 1));

try {
  pdf = await pdfjsLib.getDocument({ url: root.dataset.file, enableXfa: false }).promise;
  go(cited);
} catch (err) {
  status.textContent = `Could not open this PDF: ${err && err.message ? err.message : err}`;
  document.body.dataset.ready = "error";
}
