"""Drawing a form's sheet top to bottom: its title and note, shaded sections, labelled input
cells, the grade descriptor table, and the blocks of rows that must print on one page.

The audit and self-reflection forms (``forms``) are drawn with :class:`FormSheet`. Every
workbook people fill in describes its input cells as :class:`InputField`; ingest checks
a returned value against the same description.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.worksheet.datavalidation import DataValidation

from qaudit.grading import GRADES
from qaudit.workbooks.cells import (
    BOLD,
    DATE_FORMAT,
    SECTION_FILL,
    WRAP,
    date_validation,
    define_name,
    input_cell,
    list_validation,
    put,
    put_marking,
    put_title,
)
from qaudit.workbooks.paper import text_height


@dataclass(frozen=True)
class InputField:
    """One named input cell: what it is called, what may go in it, whether it must."""

    name: str
    label: str
    kind: str  # "text", "long_text", "choice", "date"
    options: tuple[str, ...] = ()
    required: bool = False
    max_length: int = 4000


#: A form's columns: question id (wide enough for a grade's name in bold, "improvement"
#: whole), question, answer, comment. Long text spans them all.
WIDTHS = {"A": 16, "B": 52, "C": 13, "D": 41}


class FormSheet:
    """Writes a form top to bottom, keeping track of the row, the validations and the
    blocks of rows that print together on one page."""

    def __init__(self, wb: Workbook, title: str,
                 drop_downs: Sequence[tuple[tuple[str, ...], str]]) -> None:
        """The form's first sheet, with a drop-down for each of ``drop_downs`` (its
        options, and the prompt shown when its cell is chosen) made up front, in order;
        any other options get theirs when a cell first needs them."""
        self.wb = wb
        self.ws = wb.active
        self.ws.title = title
        self.row = 1
        self.case_cells: dict[str, str] = {}  # a case's attribute -> cell holding its value
        self.blocks: list[tuple[int, int]] = []
        for col, width in WIDTHS.items():
            self.ws.column_dimensions[col].width = width
        self.validations: dict[tuple[str, ...], DataValidation] = {
            options: list_validation(self.ws, options, prompt) for options, prompt in drop_downs
        }
        self.dates = date_validation(self.ws)

    def title(self, text: str, note: str, marking: str) -> None:
        """The title, the protective marking beside it (top right), and a note below."""
        put_title(self.ws, f"A{self.row}", text)
        put_marking(self.ws, f"D{self.row}", marking)
        self.row += 1
        put(self.ws, f"A{self.row}", note, alignment=WRAP)
        self.ws.merge_cells(f"A{self.row}:D{self.row}")
        self.ws.row_dimensions[self.row].height = text_height(note, sum(WIDTHS.values()))
        self.row += 2

    @contextmanager
    def together(self) -> Iterator[None]:
        """The rows written inside print on one page (a heading with what it heads)."""
        first = self.row
        yield
        self.blocks.append((first, self.row - 1))

    def section(self, text: str) -> None:
        for col in "ABCD":
            self.ws[f"{col}{self.row}"].fill = SECTION_FILL
        put(self.ws, f"A{self.row}", text, font=BOLD)
        self.row += 1

    def detail(self, label: str, attribute: str, name: str) -> None:
        """A labelled, locked cell for one of the case's ``attribute``s, given its value
        per case (:attr:`case_cells`) and the workbook-level ``name`` ingest checks it by."""
        put(self.ws, f"A{self.row}", label, font=BOLD)
        self.ws.merge_cells(f"A{self.row}:B{self.row}")
        self.ws[f"C{self.row}"].alignment = Alignment(horizontal="left")
        self.case_cells[attribute] = f"C{self.row}"
        self.ws.merge_cells(f"C{self.row}:D{self.row}")
        define_name(self.wb, name, self.ws, f"C{self.row}")
        self.row += 1

    def field(self, spec: InputField) -> None:
        """A labelled input cell; long text spans the width under its label."""
        ws = self.ws
        label = spec.label + (" *" if spec.required else "")
        if spec.kind == "long_text":
            self.blocks.append((self.row, self.row + 1))  # the label over its box
            put(ws, f"A{self.row}", label, font=BOLD)
            self.row += 1
            ref, span = f"A{self.row}", f"A{self.row}:D{self.row}"
            ws.row_dimensions[self.row].height = 75
        else:
            put(ws, f"A{self.row}", label, font=BOLD, alignment=WRAP)
            ws.merge_cells(f"A{self.row}:B{self.row}")
            ref, span = f"C{self.row}", f"C{self.row}:D{self.row}"
        self.input(ref, spec.name, spec.options, date_cell=spec.kind == "date", span=span)
        self.row += 1

    def input(self, ref: str, name: str, options: tuple[str, ...] = (),
              date_cell: bool = False, span: str = "") -> None:
        cell = input_cell(self.ws, ref, span)
        if options:
            if options not in self.validations:
                self.validations[options] = list_validation(self.ws, options)
            self.validations[options].add(ref)
        if date_cell:
            cell.number_format = DATE_FORMAT
            self.dates.add(ref)
        define_name(self.wb, name, self.ws, ref)

    def descriptors(self, grades: dict[str, str]) -> None:
        """The grade descriptor table: each grade's name (whole words: its column is wide
        enough for the longest word) beside what it means (``grades``, by key, or the
        framework's words), each row tall enough for both."""
        ws = self.ws
        for grade in GRADES:
            text = grades.get(grade.key, grade.descriptor)
            put(ws, f"A{self.row}", grade.label, font=BOLD, alignment=WRAP)
            put(ws, f"B{self.row}", text, alignment=WRAP)
            ws.merge_cells(f"B{self.row}:D{self.row}")
            ws.row_dimensions[self.row].height = max(
                text_height(grade.label, WIDTHS["A"], bold=True),
                text_height(text, WIDTHS["B"] + WIDTHS["C"] + WIDTHS["D"]))
            self.row += 1
