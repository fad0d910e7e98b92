"""Forms people can see and paper that prints (issue 14).

Every workbook people fill (audit and self-reflection forms, the Service Manager, moderation
and workshop grading workbooks) marks its input cells by a box and a label as well as a
fill, and its instructions say so; Tab goes through the inputs in the form's order; people
may insert rows and resize, and the form still reads. Then every kind of workbook is
printed to PDF by LibreOffice (once, for the module) and read back as a person reads the
paper: nothing cut off, grade names whole, the escalation box beside its label, every page
footed with what it is, which page of how many and the protective marking, and the
register one page wide with its header on every page.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import fill_forms
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.cell import Cell, MergedCell
from openpyxl.worksheet.worksheet import Worksheet
from pypdf import PdfReader
from realclients import needs_soffice, pdf_pages, soffice_pdf

from conftest import EXAMPLES, qaudit_ok, small_workspace
from qaudit.config import Settings
from qaudit.grading import GRADES
from qaudit.questions import load_question_set
from qaudit.validation import check_layout
from qaudit.workbooks import cells, paper
from qaudit.workbooks.forms import (
    AUDIT_FIELDS,
    AUDIT_FORM,
    SELF_REFLECTION_FIELDS,
    SELF_REFLECTION_FORM,
    answer_name,
    audit_form,
    comment_name,
    form_layout,
    self_reflection_form,
)
from qaudit.workbooks.manager import auditor_fields, manager_layout
from qaudit.workbooks.moderation import row_fields
from qaudit.workbooks.reader import read_form
from qaudit.workbooks.workshop import grading_fields
from workbooks.test_workbooks import case

CYCLE = "2026-27 C3"
MARKING = "OFFICIAL-SENSITIVE"
FILLED = ("audit", "reflection", "manager", "moderation", "grading")


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One workbook of every kind, as a cycle writes them: allocated, a dozen audits back,
    a moderation sample and a workshop; and a re-audit of a deep dive (its About sheet)."""
    root = tmp_path_factory.mktemp("paper")
    ws = small_workspace(root / "ws", 2)
    qaudit_ok(ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "3", "--due",
              (date.today() + timedelta(days=10)).strftime("%d/%m/%Y"))
    cycle = ws.cycle_dir(CYCLE)
    audits = sorted((cycle / "audit-forms").glob("*.xlsx"))
    for n, form in enumerate(audits[:12]):
        fill_forms.fill_audit(form, root / "back" / form.name, random.Random(n))
    qaudit_ok(ws.root, "ingest", root / "back")
    qaudit_ok(ws.root, "moderate", "select", "--cycle", CYCLE, "--seed", "1")
    qaudit_ok(ws.root, "workshop", "make", "Q2 workshop", "-n", "3", "-p", "2")
    workshop = ws.root / "workshops" / "Q2-workshop"
    about = root / "about" / "deep-dive-audit.xlsx"
    audit_form(load_question_set("care_act_review"), "Care Act review", Settings().grades,
               "ws1", marking=MARKING, terms=(("Purpose", "Why reviews run late. " * 30),),
               follow_up=True).write(about, case(reference="2026-27-DD1-001"))
    managers = sorted((cycle / "service-managers").glob("*.xlsx"))
    return {
        "audit": audits[0],
        "reflection": sorted((cycle / "self-reflection").glob("*.xlsx"))[0],
        "manager": max(managers, key=lambda p: len(fill_forms.manager_cases(load_workbook(p)))),
        "moderation": next((cycle / "moderation").glob("*.xlsx")),
        "register": cycle / "register.xlsx",
        "pack": workshop / "Q2-workshop-cases.xlsx",
        "grading": workshop / "Q2-workshop-grading-participant-01.xlsx",
        "about": about,
    }


# --- input cells: boxed, labelled, named in the instructions --------------------------------


def meta(wb: Workbook) -> dict[str, str]:
    return {str(k): str(v) for k, v in wb["_qaudit"].iter_rows(values_only=True)}


def fields_of(wb: Workbook) -> dict[str, str]:
    """A workbook's input cells in the order of its form (the contract): name -> label."""
    about = meta(wb)
    kind = about["form_kind"]
    if kind == AUDIT_FORM:
        questions = load_question_set(about["question_set"]).questions
        return {**{name: label for q in questions for name, label in (
                    (answer_name(q.id), "Answer"), (comment_name(q.id), "Comment / evidence"))},
                **{f.name: f.label for f in AUDIT_FIELDS}}
    if kind == SELF_REFLECTION_FORM:
        return {f.name: f.label for f in SELF_REFLECTION_FIELDS}
    count, fields = {
        "service_manager": lambda: (int(about["cases"]), auditor_fields),
        "moderation": lambda: (int(about["items"]), row_fields),
        "workshop_grading": lambda: (len(about["cases"].split("|")), grading_fields),
    }[kind]()
    return {f.name: f.label for n in range(1, count + 1) for f in fields(n)}


def form_order(wb: Workbook) -> list[str]:
    return list(fields_of(wb))


def inputs(wb: Workbook) -> dict[str, Cell]:
    """Each named input cell, by name."""
    return {name: ws[ref] for name in form_order(wb)
            for ws, ref in [fill_forms.named_cell(wb, name)]}


def label_of(ws: Worksheet, cell: Cell, entries: set[str]) -> tuple[str, str]:
    """The text a person reads as the cell's label: the first text to its left on its row,
    and the first above it in its column (input cells passed over)."""
    found = []
    for step in ((0, -1), (-1, 0)):
        row, col = cell.row + step[0], cell.column + step[1]
        text = ""
        while row >= 1 and col >= 1 and not text:
            other = ws.cell(row, col)
            if other.coordinate not in entries and not isinstance(other, MergedCell):
                text = str(other.value or "")
            row, col = row + step[0], col + step[1]
        found.append(text)
    return found[0], found[1]


@pytest.mark.parametrize("kind", FILLED)
def test_every_input_cell_is_boxed_filled_and_labelled(issued: dict[str, Path],
                                                       kind: str) -> None:
    """Not a pale fill alone: a medium dark border round the whole (merged) cell, the fill,
    and its question or field name beside it or above it."""
    wb = load_workbook(issued[kind])
    named = inputs(wb)
    entries = {c.coordinate for c in named.values()}
    labels = fields_of(wb)
    for name, cell in named.items():
        ws = cell.parent
        assert cell.fill.fgColor.rgb == cells.INPUT_FILL.fgColor.rgb, name
        edges = next((r for r in ws.merged_cells.ranges if cell.coordinate in r), None)
        for side, coordinates in (("left", edges.left if edges else [(cell.row, cell.column)]),
                                  ("right", edges.right if edges else [(cell.row, cell.column)]),
                                  ("top", edges.top if edges else [(cell.row, cell.column)]),
                                  ("bottom", edges.bottom if edges else [(cell.row, cell.column)])):
            for row, col in coordinates:
                drawn = getattr(ws.cell(row, col).border, side)
                assert (drawn.style, drawn.color.rgb) == ("medium", "FF1F4E79"), (name, side)
        beside, above = label_of(ws, cell, entries)
        assert labels[name] in (beside.removesuffix(" *"), above.removesuffix(" *")), (
            name, beside, above)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two RGB colours (hex)."""
    def luminance(colour: str) -> float:
        rgb = [int(colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_input_cells_are_told_apart_by_their_box_at_low_vision() -> None:
    """The box is the boundary WCAG 1.4.11 asks 3:1 of, against the page and the fill; the
    text typed in is black on the fill at AAA's 7:1; the fill is visibly not the page."""
    fill, border = cells.INPUT_FILL.fgColor.rgb[2:], cells.INPUT_SIDE.color.rgb[2:]
    assert contrast(border, "FFFFFF") >= 7 and contrast(border, fill) >= 7
    assert contrast("000000", fill) >= 7
    assert contrast(fill, "FFFFFF") >= 1.2 > contrast("FFF9E5", "FFFFFF")


@pytest.mark.parametrize("kind", FILLED)
def test_the_instructions_say_how_input_cells_look_not_by_colour_alone(
    issued: dict[str, Path], kind: str
) -> None:
    ws = load_workbook(issued[kind]).worksheets[0]
    text = " ".join(str(c.value) for row in ws.iter_rows(max_row=4) for c in row if c.value)
    assert cells.INPUT_LOOK in text
    assert "yellow" not in text.lower()


# --- tab order and protection ---------------------------------------------------------------


@pytest.mark.parametrize("kind", FILLED)
def test_tab_moves_through_the_inputs_in_the_order_of_the_form(issued: dict[str, Path],
                                                               kind: str) -> None:
    """On a protected sheet Tab goes from unlocked cell to unlocked cell, row by row, left to
    right: that order is the form's order of questions and fields."""
    wb = load_workbook(issued[kind])
    names = {c.coordinate: n for n, c in inputs(wb).items()}
    ws = wb.worksheets[0]
    tabbed = [names.get(c.coordinate, c.coordinate) for row in ws.iter_rows() for c in row
              if c.protection.locked is False and not isinstance(c, MergedCell)]
    assert tabbed == form_order(wb)
    assert not [c for other in wb.worksheets[1:] for row in other.iter_rows() for c in row
                if c.protection.locked is False]


@pytest.mark.parametrize("kind", [*FILLED, "pack", "about"])
def test_protection_allows_inserting_rows_and_resizing_but_not_moving_a_named_cell(
    issued: dict[str, Path], kind: str
) -> None:
    """Rows may be inserted (for notes: names move with their cells) and rows, columns and
    formats resized; rows may not be deleted nor columns inserted, deleted or sorted, which
    would take a named cell away or put another value in it. Labels stay locked."""
    wb = load_workbook(issued[kind])
    entries = {c.coordinate for c in inputs(wb).values()} if kind in FILLED else set()
    for ws in wb.worksheets:
        p = ws.protection
        assert p.sheet and not p.password, ws.title
        assert p.deleteRows and p.insertColumns and p.deleteColumns and p.sort, ws.title
        if ws.sheet_state == "visible":
            assert not (p.insertRows or p.formatRows or p.formatColumns), ws.title
            for row in ws.iter_rows():
                for c in row:
                    if c.value is not None and c.coordinate not in entries:
                        assert c.protection.locked is not False, (ws.title, c.coordinate)


def insert_and_resize(wb: Workbook, names: list[str]) -> None:
    """Rows inserted as Excel inserts them, just above each of ``names``' rows in turn, and
    every column and row resized."""
    for name in names:
        ws, ref = fill_forms.named_cell(wb, name)
        fill_forms.insert_rows_like_excel(wb, ws, int(re.sub(r"\D", "", ref)))
    for ws in wb.worksheets:
        for letter in "ABCDEFGHIJKL":
            ws.column_dimensions[letter].width = 33
        for r in range(1, ws.max_row + 1, 3):
            ws.row_dimensions[r].height = 90


@pytest.mark.parametrize(("kind", "above"), [
    ("audit", ["case_reference", "ans_V1", "ans_V2", "rationale", "esc_note", "auditor_date"]),
    ("reflection", ["sr_went_well", "sr_date"]),
    ("manager", ["sm_1_auditor", "sm_2_role"]),
    ("moderation", ["mod_1_grade", "mod_2_theme"]),
    ("grading", ["wsh_1_grade", "wsh_2_note"]),
])
def test_a_form_with_rows_inserted_and_resized_reads_the_same(
    issued: dict[str, Path], tmp_path: Path, kind: str, above: list[str]
) -> None:
    """Inserting rows anywhere (above the table, inside it, between a label and its box)
    and resizing: every named cell is read with what was typed in it, and ingest's layout
    check still finds each where it was issued or below."""
    wb = load_workbook(issued[kind])
    typed = {name: f"typed in {name}" for name in form_order(wb)}
    for name, value in typed.items():
        fill_forms.put(wb, name, value)
    insert_and_resize(wb, above)
    wb.save(tmp_path / "changed.xlsx")
    raw = read_form(tmp_path / "changed.xlsx")
    assert {n: raw.cells[n].value for n in typed} == typed
    about = meta(wb)
    layouts = {AUDIT_FORM: lambda: form_layout(AUDIT_FORM, load_question_set(
                   about["question_set"])),
               SELF_REFLECTION_FORM: lambda: form_layout(SELF_REFLECTION_FORM, None),
               "service_manager": lambda: manager_layout(int(about["cases"]))}
    if about["form_kind"] in layouts:
        assert check_layout(raw, layouts[about["form_kind"]]()) == []


def test_no_named_cell_moved_for_the_new_look_so_forms_already_sent_still_read() -> None:
    """Where the forms issued before the new look (boxes, widths, row heights, page breaks)
    have their named cells: ingest checks a returned form against today's layout, and a
    cell issued higher up than today's would be refused as moved."""
    audit = form_layout(AUDIT_FORM, load_question_set("care_act_assessment"))
    issued_before = {"case_cycle": ("C", 5), "case_return_to": ("C", 16), "ans_V1": ("C", 19),
                     "cmt_V1": ("D", 19), "ans_R3": ("C", 44), "grade": ("C", 47),
                     "rationale": ("A", 53), "share_good_practice": ("C", 58),
                     "esc_raised": ("C", 61), "esc_note": ("A", 66), "ri_due": ("C", 72),
                     "auditor_date": ("C", 77)}
    assert {n: audit[n][1:] for n in issued_before} == issued_before
    reflection = form_layout(SELF_REFLECTION_FORM, None)
    assert {n: reflection[n][1:] for n in ("sr_went_well", "sr_differently", "sr_support",
                                           "sr_grade", "sr_date")} == {
        "sr_went_well": ("A", 20), "sr_differently": ("A", 22), "sr_support": ("A", 24),
        "sr_grade": ("C", 25), "sr_date": ("C", 26)}
    assert manager_layout(5)["sm_5_date"] == ("Allocation", "L", 10)


# --- page breaks, footers and row heights ---------------------------------------------------


def test_each_forms_footer_names_its_reference_as_written(tmp_path: Path) -> None:
    """A case's reference goes into its copy's footer as its cells do (the template): an
    ``&`` doubled so it prints as itself (``&P`` would print the page number), XML's
    specials escaped, a line break or control character never written; the same footer as
    openpyxl writes for the case."""
    form = self_reflection_form("MCA", "ws1", marking="OFFICIAL & SENSITIVE")
    odd = case(reference="R&D <1>\r\n\x07&P")
    form.write(tmp_path / "template.xlsx", odd)
    form.fill(odd).save(tmp_path / "openpyxl.xlsx")
    for path in (tmp_path / "template.xlsx", tmp_path / "openpyxl.xlsx"):
        for ws in load_workbook(path).worksheets:
            assert ws.oddFooter.left.text == "Reference R&&D <1> &&P", ws.title
            assert ws.oddFooter.center.text == "OFFICIAL && SENSITIVE"
            assert ws.oddFooter.right.text == "Page &P of &N"




@settings(max_examples=60, deadline=None)
@given(heights=st.lists(st.integers(15, 400), min_size=1, max_size=60),
       spans=st.lists(st.tuples(st.integers(1, 60), st.integers(0, 6)), max_size=12))
def test_page_breaks_never_split_a_block_that_fits_a_page(heights: list[int],
                                                          spans: list[tuple[int, int]]) -> None:
    """No page is longer than a page, unless it is one row or one run of blocks of rows
    kept together (blocks that overlap are kept together as one); no block that fits a
    page is split."""
    wb = Workbook()
    ws = wb.active
    for col, width in zip("ABCD", (16, 52, 13, 41), strict=True):
        ws.column_dimensions[col].width = width
    for row, height in enumerate(heights, start=1):
        ws.cell(row, 1, "x")
        ws.row_dimensions[row].height = height
    blocks = [(first, min(first + extra, len(heights))) for first, extra in spans
              if first <= len(heights)]
    paper.keep_together(ws, blocks)
    capacity = paper.page_height(ws)
    breaks = [b.id for b in ws.row_breaks.brk]
    edges = [0, *breaks, len(heights)]
    for first, last in itertools.pairwise(edges):  # a page: rows first + 1 to last
        inside = all(any(f <= r < e for f, e in blocks) for r in range(first + 1, last))
        assert sum(heights[first:last]) <= capacity or inside, (first, last)
    for first, last in blocks:
        if sum(heights[first - 1:last]) <= capacity:
            assert not [b for b in breaks if first <= b < last], (first, last, breaks)


@given(st.text(max_size=300), st.integers(5, 120), st.booleans())
def test_a_row_is_tall_enough_for_each_line_of_its_text(text: str, width: int,
                                                        bold: bool) -> None:
    lines = text.split("\n")
    height = paper.text_height(text, width, bold)
    assert height >= paper.LINE * len(lines)
    longest = max((len(w) for w in text.split()), default=0)
    assert height >= paper.LINE * -(-longest // max(1, int(width * (0.85 if bold else 1))))


# --- the paper ------------------------------------------------------------------------------


Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Run:
    """A piece of text as the PDF draws it: where, how large, in what colour, and inside
    which clipping rectangle (x0, y0, x1, y1), if any."""

    text: str
    x: float
    y: float
    size: float
    colour: tuple[float, ...]
    clip: Box | None


@dataclass(frozen=True)
class Page:
    height: float
    text: str
    runs: list[Run]
    fills: list[tuple[tuple[float, ...], Box]]

    def hidden(self) -> list[Run]:
        """Text a reader cannot see: drawn outside the rectangle it is clipped to (a cell
        too small for it), or white text off the dark header fill it belongs on."""
        dark = [box for colour, box in self.fills if colour == rgb(cells.HEADER_FILL)]
        return [r for r in self.runs if r.text.strip() and (
            (r.clip and not r.clip[1] - 0.5 <= r.y <= r.clip[3])
            or (r.colour == (1.0, 1.0, 1.0)
                and not any(x0 - 1 <= r.x <= x1 and y0 <= r.y <= y1 for x0, y0, x1, y1 in dark)))]

    def footer(self) -> str:
        return " ".join(r.text.strip() for r in self.runs if r.y < 60 and r.text.strip())

    def header(self) -> str:
        return " ".join(r.text.strip() for r in self.runs if r.y > self.height - 60)


def rgb(fill: object) -> tuple[float, ...]:
    colour = fill.fgColor.rgb  # type: ignore[attr-defined]
    return tuple(round(int(colour[i:i + 2], 16) / 255, 3) for i in (2, 4, 6))


class Drawing:
    """Follows a page's drawing operators as pypdf reads them: the fill colour and the
    clipping rectangle in force (saved and restored with the graphics state), each text
    run drawn and each filled rectangle."""

    def __init__(self) -> None:
        self.colour: tuple[float, ...] = (0.0, 0.0, 0.0)
        self.clip: Box | None = None
        self.rect: Box | None = None
        self.saved: list[tuple[tuple[float, ...], Box | None]] = []
        self.runs: list[Run] = []
        self.fills: list[tuple[tuple[float, ...], Box]] = []

    def operator(self, op: bytes, args: list[float], cm: list[float], tm: list[float]) -> None:
        if op == b"q":
            self.saved.append((self.colour, self.clip))
        elif op == b"Q" and self.saved:
            self.colour, self.clip = self.saved.pop()
        elif op == b"rg":
            self.colour = tuple(round(float(a), 3) for a in args)
        elif op == b"re":
            x, y, w, h = (float(a) for a in args)
            self.rect = (x, y, x + w, y + h)
        elif op in (b"W", b"W*"):
            self.clip = self.rect
        elif op in (b"f", b"f*") and self.rect:
            self.fills.append((self.colour, self.rect))

    def text(self, text: str, cm: list[float], tm: list[float], font: object,
             size: float) -> None:
        if text.strip():
            self.runs.append(Run(text, tm[4] * cm[0] + tm[5] * cm[2] + cm[4],
                                 tm[4] * cm[1] + tm[5] * cm[3] + cm[5],
                                 size * abs(tm[3] * cm[3]), self.colour, self.clip))


def pages_of(pdf: Path) -> list[Page]:
    """Each page's text, and its text runs and filled rectangles as drawn (pypdf)."""
    found = []
    for page, text in zip(PdfReader(pdf).pages, pdf_pages(pdf), strict=True):
        drawing = Drawing()
        page.extract_text(visitor_operand_before=drawing.operator, visitor_text=drawing.text)
        found.append(Page(float(page.mediabox.height), text, drawing.runs, drawing.fills))
    return found


@pytest.fixture(scope="module")
def printed(issued: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, list[Page]]:
    """Every kind of workbook printed to PDF by LibreOffice at once, as its print settings
    say, and each page read back."""
    out = tmp_path_factory.mktemp("pdf")
    pdfs = soffice_pdf(list(issued.values()), out / "pdf")
    return {kind: pages_of(pdf) for kind, pdf in zip(issued, pdfs, strict=True)}


def one_line(text: str) -> str:
    return " ".join(text.split())


@needs_soffice
def test_no_text_is_cut_off_on_any_printed_page(printed: dict[str, list[Page]]) -> None:
    """Rows tall and columns wide enough: no text drawn outside its cell, no header's
    second line white on the white page (the moderation headers were)."""
    hidden = {(kind, n, r.text) for kind, pages in printed.items()
              for n, page in enumerate(pages, start=1) for r in page.hidden()}
    assert hidden == set()


def squeezed(text: str) -> str:
    """Text without its spaces and line breaks: a cell wrapped over lines (or at a hyphen)
    is still the same characters in the same order."""
    return re.sub(r"\s+", "", text)


@needs_soffice
@pytest.mark.parametrize("kind", ["audit", "reflection", "manager", "moderation", "register",
                                  "pack", "grading", "about"])
def test_every_cell_prints_whole(issued: dict[str, Path], printed: dict[str, list[Page]],
                                 kind: str) -> None:
    """Each text, number and date on every visible sheet is in the PDF whole: no column so
    narrow that a team's name is cut, no row so short that a question loses its last line
    (LibreOffice leaves such lines out), no date shown as ###."""
    paper = squeezed("".join(page.text for page in printed[kind]))
    cut = []
    for ws in load_workbook(issued[kind]).worksheets:
        if ws.sheet_state == "visible":
            for row in ws.iter_rows():
                for c in row:
                    value = f"{c.value:%d/%m/%Y}" if isinstance(c.value, date) else c.value
                    if value is not None and squeezed(str(value)) not in paper:
                        cut.append((ws.title, c.coordinate, value))
    assert cut == []
    assert "###" not in paper


@needs_soffice
def test_every_page_is_footed_with_its_workbook_page_and_marking(
    issued: dict[str, Path], printed: dict[str, list[Page]]
) -> None:
    """Bottom of each page: what it is (an allocation reference, never a name or a person
    id), "Page x of y" and the protective marking; the marking at the top too."""
    form = dict(load_workbook(issued["audit"])["_qaudit"].iter_rows(values_only=True))
    case_block = load_workbook(issued["audit"])["Audit"]
    person = {str(c.value) for row in case_block.iter_rows(max_row=20) for c in row
              if c.value and c.coordinate.startswith("C")} - {str(form["reference"]), CYCLE}
    references = {
        "audit": f"Reference {form['reference']}", "reflection": "Reference 2026-27-C3-001",
        "manager": f"Service Manager allocation {CYCLE}",
        "moderation": f"Moderation {CYCLE}, round 1",
        "register": f"Allocation register {CYCLE}", "pack": "Workshop Q2 workshop, case pack",
        "grading": "Workshop Q2 workshop, Participant 1", "about": "Reference 2026-27-DD1-001",
    }
    for kind, pages in printed.items():
        for n, page in enumerate(pages, start=1):
            foot = one_line(page.footer())
            assert foot == f"{references[kind]} {MARKING} Page {n} of {len(pages)}", (kind, n)
            assert MARKING in page.header(), (kind, n)
    audit_foot = one_line(printed["audit"][0].footer())
    assert not [p for p in person if p in audit_foot and len(p) > 3]


def lines(pages: list[Page]) -> str:
    return "\n".join(line.strip() for page in pages for line in page.text.splitlines())


@needs_soffice
def test_the_grade_descriptors_print_each_grade_name_whole(
    printed: dict[str, list[Page]]
) -> None:
    """"Requires improvement" on its own line or two, never "Requir / es / improv / ement"."""
    for kind in ("audit", "pack"):
        text = lines(printed[kind])
        for grade in GRADES:
            pattern = r"(?m)^" + r"\s*\n?\s*".join(map(re.escape, grade.label.split())) + "$"
            assert re.search(pattern, text), (kind, grade.label)


@needs_soffice
def test_the_escalation_box_prints_under_its_label_on_one_page(
    printed: dict[str, list[Page]]
) -> None:
    """The escalation heading, its questions, the label "What was escalated and agreed" and
    the box under it (a rectangle of the input fill) are on one page."""
    label = next(f.label for f in AUDIT_FIELDS if f.name == "esc_note")
    (page,) = [p for p in printed["audit"] if label in p.text]
    assert "Escalation: a concern about practice" in one_line(page.text)
    assert all(f.label in page.text for f in AUDIT_FIELDS if f.name.startswith("esc_"))
    (run,) = [r for r in page.runs if r.text.strip() == label]
    boxes = [box for colour, box in page.fills if colour == rgb(cells.INPUT_FILL)]
    assert any(box[1] < run.y - run.size <= box[3] + 2 * run.size and box[2] - box[0] > 400
               for box in boxes), (run, boxes)


@needs_soffice
def test_the_moderation_headers_print_whole_and_seen(printed: dict[str, list[Page]]) -> None:
    """Each on its lines in the header's dark band (the second line used to fall below it,
    white on the white page)."""
    (page, *_) = printed["moderation"]
    for header in ("Feedback constructive? *", "Names strengths? *", "Names learning? *"):
        assert header in one_line(page.text)
    assert page.hidden() == []


@needs_soffice
def test_the_register_prints_one_page_wide_with_its_header_on_every_page(
    issued: dict[str, Path], printed: dict[str, list[Page]]
) -> None:
    """Landscape, fitted to the width, the header row repeated: a few pages (it was 19 for
    this cycle, its columns split across pages), each with every header of its table."""
    register = load_workbook(issued["register"])
    headers = [[str(c.value) for c in ws[1] if c.value and c.value != MARKING]
               for ws in register.worksheets]
    pages = printed["register"]
    assert len(pages) <= len(register.worksheets) + 1
    for n, page in enumerate(pages, start=1):
        squeezed = re.sub(r"\s+", "", page.text)
        assert any(all(re.sub(r"\s+", "", h) in squeezed for h in row) for row in headers), n
