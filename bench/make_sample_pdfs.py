"""Generate the two PDFs and the MANIFEST.csv of the bundled sample corpus (``ingest/sample_corpus/``).

The sample corpus lets ``make demo`` run on a fresh machine with nothing else present, so the PDFs
are built from original text held here rather than downloaded. The script lives in ``bench/`` so
the corpus loader never ingests it. Output is deterministic (fixed creation date, producer and
file id) so re-running produces identical bytes and a clean ``git diff``. The manifest is rebuilt from
the files actually present, so its page and character counts match what pypdf extracts.

Run: ``.venv/bin/python bench/make_sample_pdfs.py``
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader

OUT_DIR = Path(__file__).resolve().parent.parent / "ingest" / "sample_corpus"
FIXED_DATE = dt.datetime(2026, 1, 1, 0, 0, 0, tzinfo=dt.UTC)
AUTHOR = "Lantern sample corpus"
MANIFEST_FIELDS = [
    "file",
    "title",
    "publisher",
    "year",
    "language",
    "pages",
    "chars",
    "text_ok",
    "source_repo",
    "source_path",
    "license_note",
]
LICENSE_NOTE = "original text written for Lantern; CC0"
MIN_PAGE_CHARS = 500

# A page is a list of blocks: ("h", heading), ("p", paragraph) or ("li", bullet item).
Block = tuple[str, str]

SUPPLY_CHAIN: list[list[Block]] = [
    [
        ("title", "Supply-Chain Due Diligence against Forced Labour and Trafficking"),
        ("h", "Why due diligence"),
        (
            "p",
            "Forced labour is rarely found in a company's own offices. It sits further down the chain: "
            "in the factory that makes a component, the farm that grows a raw material, the agency that "
            "supplies temporary workers, or the ship that catches the fish. Human rights due diligence is "
            "the ongoing process by which a business finds out where its operations and suppliers may be "
            "causing or contributing to harm, acts to prevent it, and shows that it has done so. The UN "
            "Guiding Principles on Business and Human Rights (2011) made this the expected standard of "
            "conduct, and the OECD Due Diligence Guidance for Responsible Business Conduct (2018) turned it "
            "into six steps: embed responsible conduct in policies; identify and assess adverse impacts; "
            "cease, prevent or mitigate them; track implementation and results; communicate how impacts "
            "are addressed; and provide for or cooperate in remediation.",
        ),
        ("h", "Step 1: map the suppliers"),
        (
            "p",
            "A company cannot assess risks it cannot see. Mapping starts with direct (tier 1) suppliers and "
            "works outwards to tier 2 and beyond, recording for each site:",
        ),
        ("li", "the legal name, address and country of the site, not only of the trading company;"),
        ("li", "what the site produces and which of the buyer's products it feeds into;"),
        (
            "li",
            "the approximate number of workers, and the share who are migrants, agency or seasonal workers;",
        ),
        ("li", "the labour providers and recruitment agencies that supply those workers;"),
        ("li", "any subcontractors or homeworkers used at peak times."),
        (
            "p",
            "Most companies can map tier 1 within a few months. Reaching raw materials often takes years, "
            "so the work should be prioritised by risk rather than attempted everywhere at once. A map is "
            "only useful if it is kept current: review it at least once a year and whenever a supplier "
            "is added.",
        ),
    ],
    [
        ("h", "Step 2: assess risk by sector and country"),
        (
            "p",
            "Risk assessment combines what is known about a sector with what is known about a place. "
            "Sector risk is higher where work is low-skilled, seasonal, labour-intensive or hidden: "
            "agriculture, fishing, construction, garment and textile production, electronics assembly, "
            "mining, cleaning, hospitality and domestic work. Country risk is higher where labour "
            "inspection is weak, migrant workers lack legal protection, recruitment fees are common, "
            "or there is evidence of state-imposed forced labour. Public sources include the US "
            "Department of Labor's List of Goods Produced by Child Labor or Forced Labor, ILO country "
            "reports and the findings of national rapporteurs.",
        ),
        (
            "p",
            "A simple scoring grid rates each supplier from 1 (low) to 5 (high) on sector, country, use of "
            "migrant or agency labour, and past findings. Suppliers scoring 4 or 5 on any factor go to "
            "enhanced due diligence: a site visit, worker interviews and a review of recruitment "
            "channels. The grid should be written down, so that the same supplier gets the same score "
            "whoever does the assessment.",
        ),
        ("h", "Step 3: audits and their limits"),
        (
            "p",
            "Social audits are the most common tool and the most criticised. A typical audit lasts one "
            "or two days, is often announced in advance, and relies on documents the site provides. "
            "Forced labour is designed to be invisible to exactly this kind of check. Known limits:",
        ),
        (
            "li",
            "announced visits allow managers to coach workers, hide underage workers and tidy dormitories;",
        ),
        ("li", "payroll and time records can be falsified, and a second set of books kept for auditors;"),
        ("li", "interviews held on site, with managers nearby, rarely reveal threats or debts;"),
        ("li", "audits cover the audited site only, not the subcontractors or the recruitment agents;"),
        ("li", "auditors are paid by the supplier or the buyer, which can soften findings."),
        (
            "p",
            "Audits remain useful when they are unannounced or semi-announced, include off-site worker "
            "interviews in workers' own languages, check recruitment fee payments directly with workers, "
            "and are combined with other sources such as grievance data and worker surveys.",
        ),
    ],
    [
        ("h", "Step 4: remediation"),
        (
            "p",
            "When forced labour is found, the first duty is to the workers, not to the contract. Ending "
            "the relationship at once may feel decisive, but it usually leaves the workers unpaid and "
            "unemployed, and removes the buyer's leverage. Good remediation repays recruitment fees and "
            "withheld wages, returns identity documents, lets workers leave or stay by their own choice, "
            "and agrees a time-bound corrective action plan with the supplier. Disengagement is the last "
            "step, taken responsibly, when the supplier refuses to act.",
        ),
        ("h", "Step 5: grievance mechanisms"),
        (
            "p",
            "Workers must have a safe way to raise concerns without fear of retaliation. Principle 31 of "
            "the UN Guiding Principles says a non-judicial grievance mechanism should be legitimate, "
            "accessible, predictable, equitable, transparent, rights-compatible and a source of "
            "continuous learning; operational-level mechanisms should also be based on engagement and "
            "dialogue. In practice that means a hotline or app in workers' languages, the option to "
            "report anonymously, a clear timetable for responses, and regular reporting on how many "
            "grievances were received and resolved.",
        ),
        ("h", "Step 6: responsible recruitment and the Employer Pays Principle"),
        (
            "p",
            "Recruitment fees are the single most common route into debt bondage. Migrant workers in some "
            "corridors pay the equivalent of several months' wages to agents before they start work. "
            "The Employer Pays Principle holds that no worker should pay for a job: the costs of "
            "recruitment are borne by the employer, not the worker. The ILO General Principles and "
            "Operational Guidelines for Fair Recruitment take the same position. Companies apply it by:",
        ),
        ("li", "writing the principle into supplier contracts and recruitment agency agreements;"),
        ("li", "asking workers directly, in confidence, what they paid and to whom;"),
        ("li", "repaying fees that workers were charged, with the cost shared up the chain;"),
        ("li", "using licensed recruiters and checking them, not only the employer."),
    ],
]

CHECKLIST: list[list[Block]] = [
    [
        ("title", "First-Responder Checklist: Meeting a Possible Victim of Trafficking"),
        (
            "p",
            "For frontline staff in health, housing, social work, policing, labour inspection and "
            "outreach. Keep this checklist with you. It does not replace your organisation's "
            "safeguarding policy; it reminds you of the steps that matter most in the first hour.",
        ),
        ("h", "1. Safety first"),
        (
            "li",
            "Is anyone in immediate danger, including you? If yes, call the emergency number (999 in the "
            "UK, 112 across the EU, 911 in the US) before anything else.",
        ),
        (
            "li",
            "Move the conversation somewhere private, away from the person who brought them or who may be "
            "controlling them.",
        ),
        ("li", "Do not confront a suspected exploiter, and do not let them overhear the conversation."),
        ("li", "Note any urgent medical need and arrange treatment straight away."),
        ("h", "2. Use a professional interpreter"),
        (
            "li",
            "If the person is not fluent in your language, book a professional interpreter, by phone if "
            "necessary.",
        ),
        (
            "li",
            "Never interpret through a companion, a co-worker, a relative or a child: they may be linked to "
            "the exploiter, and the person may not speak freely.",
        ),
        (
            "li",
            "Ask which language and dialect the person prefers, and whether they would like an interpreter "
            "of a particular gender.",
        ),
        ("h", "3. Don't promise what you can't deliver"),
        ("li", "Be honest about what you can do today and what depends on others."),
        (
            "li",
            "Do not promise a visa, a house, a job, money, a prosecution or that nobody else will ever "
            "be told. Broken promises repeat the betrayal the person has already suffered.",
        ),
        ("li", "Explain who you are, what your organisation does and what will happen next, in plain words."),
    ],
    [
        ("h", "4. Record what you observe"),
        ("li", "Write notes as soon as possible, with the date, time, place and who was present."),
        (
            "li",
            "Record the person's own words in quotation marks where you can, and keep facts separate from "
            "your opinion.",
        ),
        (
            "li",
            "Note indicators you saw yourself: injuries, signs of control, no identity documents, fear, "
            "scripted answers, someone else speaking for them, debts, unpaid wages, poor living conditions.",
        ),
        (
            "li",
            "Do not push for the full story. You need enough to act, not a full account; detailed "
            "interviews come later, with trained staff.",
        ),
        ("li", "Store notes securely and share them only on a need-to-know basis."),
        ("h", "5. Refer"),
        (
            "li",
            "Adults: explain the national referral mechanism and the support it offers, and ask for "
            "informed consent before referring. If the adult says no, respect it, give them contact "
            "details for help, and follow any legal duty to notify that applies to your organisation.",
        ),
        (
            "li",
            "If you are not a designated first responder, pass your concern today to one who is (police, "
            "local authority or a designated NGO) and record who you told and when.",
        ),
        (
            "li",
            "Give the person a way to contact you or a helpline again, if it is safe for them to carry it.",
        ),
        ("h", "6. Children are always referred"),
        (
            "li",
            "Anyone under 18 who may have been trafficked must always be referred. A child's consent is "
            "not needed, and a child cannot consent to their own exploitation.",
        ),
        (
            "li",
            "Make a child protection referral to children's services at the same time, and do not let "
            "the child leave with an unverified adult.",
        ),
        ("li", "If age is in doubt, treat the person as a child until an age assessment says otherwise."),
        ("h", "Before you leave"),
        (
            "p",
            "Check: the person is safe for tonight; an interpreter was used if needed; no promises were made "
            "that cannot be kept; notes are written and stored; the referral or notification has been made "
            "or the reason it was not is recorded; your manager knows.",
        ),
    ],
]


class BriefPDF(FPDF):
    """A4 document with a running header and footer, so cleaning code has boilerplate to strip."""

    def __init__(self, running_title: str) -> None:
        super().__init__(format="A4")
        self.running_title = running_title
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(20, 20, 20)

    def header(self) -> None:
        """Repeat the document title on every page (a realistic running header)."""
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(110)
        self.cell(0, 6, self.running_title, align="R", new_x="LMARGIN", new_y="NEXT")
        self.ln(4)
        self.set_text_color(0)

    def footer(self) -> None:
        """Running footer with the page number."""
        self.set_y(-14)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110)
        self.cell(0, 6, f"Lantern sample corpus - page {self.page_no()}", align="C")
        self.set_text_color(0)


def _render(blocks: list[Block], pdf: BriefPDF) -> None:
    """Lay out one page's blocks; bullets use a plain hyphen because core fonts are latin-1 only."""
    for kind, text in blocks:
        if kind == "title":
            pdf.set_font("Helvetica", "B", 15)
            pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        elif kind == "h":
            pdf.ln(1.5)
            pdf.set_font("Helvetica", "B", 11.5)
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(0.5)
        elif kind == "p":
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(0, 4.8, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif kind == "li":
            pdf.set_font("Helvetica", "", 10)
            pdf.set_x(pdf.l_margin + 3)
            pdf.multi_cell(0, 4.8, f"- {text}", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(0.6)
        else:
            raise ValueError(f"unknown block kind {kind!r}")


def build(filename: str, title: str, pages: list[list[Block]]) -> Path:
    """Write one PDF; fail loudly if text overflowed so the page count stays as designed."""
    pdf = BriefPDF(running_title=f"{title} | Lantern practitioner brief")
    pdf.set_title(title)
    pdf.set_author(AUTHOR)
    pdf.set_subject("Original sample text written for Lantern; CC0")
    pdf.set_creator("Lantern bench/make_sample_pdfs.py")
    pdf.set_producer("fpdf2")
    pdf.set_creation_date(FIXED_DATE)
    # The default file id mixes in the creation date; derive it from the content instead for stable bytes.
    digest = hashlib.md5(repr((filename, pages)).encode(), usedforsecurity=False).hexdigest().upper()
    pdf.file_id = lambda: f"<{digest}><{digest}>"  # type: ignore[method-assign]
    for blocks in pages:
        pdf.add_page()
        _render(blocks, pdf)
    if pdf.page_no() != len(pages):
        raise RuntimeError(f"{filename}: expected {len(pages)} pages, layout produced {pdf.page_no()}")
    out = OUT_DIR / filename
    pdf.output(str(out))
    return out


def _manifest_row(path: Path) -> dict[str, str]:
    """Describe one corpus file with the same columns as the shared corpus manifests."""
    if path.suffix == ".pdf":
        reader = PdfReader(path)
        texts = [page.extract_text() or "" for page in reader.pages]
        title = str(reader.metadata.title) if reader.metadata and reader.metadata.title else path.stem
        pages, chars = str(len(texts)), sum(len(t) for t in texts)
        text_ok = all(len(t) >= MIN_PAGE_CHARS for t in texts)
    else:
        text = path.read_text(encoding="utf-8")
        title = text.splitlines()[0].lstrip("# ").strip()
        pages, chars, text_ok = "", len(text), bool(text.strip())
    return {
        "file": path.name,
        "title": title,
        "publisher": AUTHOR,
        "year": "2026",
        "language": "en",
        "pages": pages,
        "chars": str(chars),
        "text_ok": str(text_ok).lower(),
        "source_repo": "",
        "source_path": "",
        "license_note": LICENSE_NOTE,
    }


def write_manifest() -> Path:
    """Rewrite MANIFEST.csv from the .md and .pdf files present, sorted for stable output."""
    files = sorted(p for p in OUT_DIR.iterdir() if p.suffix in {".md", ".pdf"})
    out = OUT_DIR / "MANIFEST.csv"
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(_manifest_row(p) for p in files)
    return out


def main() -> None:
    """Build both sample PDFs into the sample corpus folder, then its manifest."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for path in (
        build(
            "supply-chain-due-diligence.pdf", "Supply-Chain Due Diligence against Forced Labour", SUPPLY_CHAIN
        ),
        build("first-responder-checklist.pdf", "First-Responder Checklist", CHECKLIST),
    ):
        reader = PdfReader(path)
        counts = [len(page.extract_text() or "") for page in reader.pages]
        if min(counts) < MIN_PAGE_CHARS:
            raise RuntimeError(
                f"{path.name}: a page extracts fewer than {MIN_PAGE_CHARS} characters: {counts}"
            )
        print(f"wrote {path} ({path.stat().st_size} bytes, chars per page {counts})")
    print(f"wrote {write_manifest()}")


if __name__ == "__main__":
    main()
