"""Cells, styles and the hidden identification sheet, shared by every workbook qaudit makes.

The rule that matters most lives here: text is always written as text. openpyxl
treats a string starting with ``=`` as a formula; a worker called ``=HYPERLINK(...)``
must stay a name, so every string goes through :func:`put` (or :func:`text_row`).

Every workbook shows the protective marking (``[organisation] protective_marking``) in a
cell at the top of its first sheet (:func:`put_marking`, or :func:`write_table`'s ``marking``);
``paper`` puts it on every printed page.

Input cells look alike in every workbook people fill (:func:`input_cell`): a dark blue
medium border and a light gold fill, so they are told apart by their box, not by a pale
colour alone; the instructions say so in the same words (:data:`INPUT_LOOK`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.compat import safe_string
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.utils.datetime import to_excel
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from qaudit.config import OrganisationSettings
from qaudit.workbooks.paper import TITLE_HEIGHT, a4, marking_text, text_height

# Characters XML would lose or cannot hold: control characters other than tab and newline
# (a carriage return is turned into a newline by every XML reader). OOXML writes them as
# _xHHHH_, which Excel and LibreOffice decode; a literal _xHHHH_ is escaped in turn, and so
# is a literal _xHHHH just before such a character (its escape would close it: "_x0041\r").
_UNSAFE = r"[\x00-\x08\x0b-\x1f\ufffe\uffff]"
_ESCAPE = re.compile(rf"{_UNSAFE}|_(?=x[0-9A-Fa-f]{{4}}(?:_|{_UNSAFE}))")
_UNESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
MAX_CELL_TEXT = 32_767
#: The very hidden sheet that identifies a form: workspace, reference, cycle, version.
META_SHEET = "_qaudit"
#: A string starting with one of these may be taken for a formula (OWASP's list for CSV
#: injection): a workbook stores it as text, a CSV file defuses it (``dataset``).
FORMULA_START = frozenset("=+-@\t\r")

#: Every font named: a font without a name prints in whatever serif the reader's program
#: picks (LibreOffice does), beside the body text's sans serif.
FONT = "Calibri"
BOLD = Font(name=FONT, size=11, bold=True)
TITLE = Font(name=FONT, size=14, bold=True)
HEADER_FILL = PatternFill("solid", start_color="FF1F4E79")
HEADER_FONT = Font(name=FONT, size=11, bold=True, color="FFFFFFFF")
SECTION_FILL = PatternFill("solid", start_color="FFDDEBF7")
#: Input cells: light gold (black text on it 17:1), boxed by a medium dark blue border
#: (8.7:1 against the white page, 7.0:1 against the fill; WCAG asks 3:1 of a boundary).
INPUT_FILL = PatternFill("solid", start_color="FFFFE699")
INPUT_SIDE = Side(style="medium", color="FF1F4E79")
INPUT_BOX = Border(left=INPUT_SIDE, right=INPUT_SIDE, top=INPUT_SIDE, bottom=INPUT_SIDE)
#: How every workbook's instructions name its input cells: by their box, never colour alone.
INPUT_LOOK = "the boxed cells (a dark blue border round a light gold fill)"
THIN = Side(style="thin", color="FFB4B4B4")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
UNLOCKED = Protection(locked=False)
DATE_FORMAT = "dd/mm/yyyy"
#: The marking a workbook carries when its writer is given none: the setting's default.
DEFAULT_MARKING: str = OrganisationSettings.model_fields["protective_marking"].default
MARKING_FONT = Font(name=FONT, size=11, bold=True, color="FFC00000")


def clean_text(text: str) -> str:
    """Text as a workbook must hold it to read back exactly (OOXML ``_xHHHH_`` escapes)."""
    return _ESCAPE.sub(lambda m: f"_x{ord(m[0]):04X}_", text)[:MAX_CELL_TEXT]


def read_text(text: str) -> str:
    """The text a person typed, from a cell value as openpyxl reads it (escapes decoded)."""
    return _UNESCAPE.sub(lambda m: chr(int(m[1], 16)), text) if "_x" in text else text


def put(ws: Worksheet, ref: str, value: Any, **style: Any) -> Cell:
    """Write a value; strings are always stored as text, never as a formula."""
    cell: Cell = ws[ref]
    _assign(cell, value)
    for key, val in style.items():
        setattr(cell, key, val)
    return cell


def _assign(cell: Cell, value: Any) -> None:
    if isinstance(value, str):
        cell.value = clean_text(value)
        cell.data_type = "s"
    elif isinstance(value, datetime | date):
        cell.value = value
        cell.number_format = DATE_FORMAT
    else:
        cell.value = value


def cell_xml(ref: str, value: str | date, style: str = "") -> str:
    """One cell's ``<c>`` element as :func:`put` then openpyxl's save would write it, for a
    workbook written from a saved template (``workbooks.template``) with no object model.

    The same rule as :func:`put`: a string is :func:`clean_text` as an inline string (never
    a formula, whatever it starts with), XML-escaped, its edge whitespace kept; a date is
    Excel's day number (the cell's ``style`` carries :data:`DATE_FORMAT`)."""
    styled = f' s="{style}"' if style else ""
    if isinstance(value, str):
        text = clean_text(value)
        if not text:
            return f'<c r="{ref}"{styled} t="inlineStr"/>'
        space = ' xml:space="preserve"' if text != text.strip() else ""
        return (f'<c r="{ref}"{styled} t="inlineStr"><is><t{space}>{xml_escape(text)}</t>'
                "</is></c>")
    if isinstance(value, date):
        return f'<c r="{ref}"{styled} t="n"><v>{safe_string(to_excel(value))}</v></c>'
    raise TypeError(f"a template cell holds text or a date, not {type(value).__name__}")


def text_row(ws: Worksheet, values: Sequence[Any]) -> list[Any]:
    """One row for a write-only sheet, strings as text.

    Plain values go through as they are (fast); only strings openpyxl would take for a
    formula or cannot hold, and dates (which need a format), become styled cells.
    """
    row: list[Any] = []
    for value in values:
        if isinstance(value, str):
            if value[:1] in FORMULA_START or _ESCAPE.search(value) or len(value) > MAX_CELL_TEXT:
                cell = WriteOnlyCell(ws)
                _assign(cell, value)
                row.append(cell)
            else:
                row.append(value)
        elif isinstance(value, datetime | date):
            cell = WriteOnlyCell(ws)
            _assign(cell, value)
            row.append(cell)
        else:
            row.append(value)
    return row


def header_row(ws: Worksheet, values: Sequence[str]) -> list[WriteOnlyCell]:
    cells = []
    for value in values:
        cell = WriteOnlyCell(ws)
        _assign(cell, value)
        cells.append(cell)
    for cell in cells:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = WRAP
    return cells


def put_title(ws: Worksheet, ref: str, text: str) -> None:
    """A sheet's title, its row tall enough for the larger type."""
    put(ws, ref, text, font=TITLE)
    ws.row_dimensions[int(split_ref(ref)[1])].height = TITLE_HEIGHT


def put_marking(ws: Worksheet, ref: str, marking: str) -> None:
    """The marking in a cell at the top of a sheet, bold and dark red, as text."""
    text = marking_text(marking)
    if text:
        put(ws, ref, text, font=MARKING_FONT, alignment=Alignment(horizontal="right"))


def write_table(
    ws: Worksheet, headers: Sequence[str], rows: Iterable[Sequence[Any]], widths: Sequence[int],
    marking: str = "",
) -> None:
    """A plain table on a write-only sheet: styled header, frozen, filterable, printed on
    A4 landscape one page wide with the header row on every page.

    A ``marking`` is shown in the header row, one column right of the table and outside
    its filter (a row above the table would move the table a reader expects in row 1)."""
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    a4(ws, landscape=True)
    ws.print_title_rows = "1:1"
    ws.row_dimensions[1].height = max(text_height(h, w, bold=True)
                                      for h, w in zip(headers, widths, strict=True))
    header = header_row(ws, headers)
    text = marking_text(marking)
    if text:
        cell = WriteOnlyCell(ws)
        _assign(cell, text)
        cell.font = MARKING_FONT
        header.append(cell)
        ws.column_dimensions[get_column_letter(len(headers) + 1)].width = len(text) + 4
    ws.append(header)
    count = 0
    for row in rows:
        ws.append(text_row(ws, row))
        count += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{count + 1}"


def define_name(wb: Workbook, name: str, ws: Worksheet, ref: str) -> None:
    """A workbook-level name for an input cell: ingest finds the cell by it."""
    col, row = split_ref(ref)
    target = f"{quote_sheetname(ws.title)}!${col}${row}"
    wb.defined_names[name] = DefinedName(name, attr_text=target)


def split_ref(ref: str) -> tuple[str, str]:
    m = re.match(r"^([A-Z]+)(\d+)$", ref)
    if not m:
        raise ValueError(f"not a cell reference: {ref}")
    return m[1], m[2]


def list_validation(ws: Worksheet, options: Sequence[str], prompt: str = "") -> DataValidation:
    """A drop-down; Excel's limit of 255 characters for the list is respected by callers."""
    formula = '"' + ",".join(options) + '"'
    dv = DataValidation(type="list", formula1=formula, allow_blank=True, showDropDown=False)
    dv.error = "Choose one of: " + ", ".join(options)
    dv.errorTitle = "Not an allowed answer"
    dv.showErrorMessage = True
    if prompt:
        dv.prompt = prompt
        dv.showInputMessage = True
    ws.add_data_validation(dv)
    return dv


def date_validation(ws: Worksheet) -> DataValidation:
    dv = DataValidation(
        type="date", operator="between", formula1="DATE(2000,1,1)", formula2="DATE(2100,12,31)",
        allow_blank=True,
    )
    dv.error = "Enter a date as dd/mm/yyyy."
    dv.errorTitle = "Not a date"
    dv.showErrorMessage = True
    ws.add_data_validation(dv)
    return dv


def input_cell(ws: Worksheet, ref: str, span: str = "") -> Cell:
    """An input cell: unlocked, boxed and filled (:data:`INPUT_LOOK`), its text wrapped;
    merged over ``span`` (such as ``"C7:D7"``) after it is styled, so the box goes round the
    whole merged cell (Excel draws each edge from the cell under it)."""
    cell: Cell = ws[ref]
    cell.protection = UNLOCKED
    cell.fill = INPUT_FILL
    cell.border = INPUT_BOX
    cell.alignment = WRAP
    if span:
        ws.merge_cells(span)
    return cell


def protect(ws: Worksheet) -> None:
    """Lock the layout; input cells are unlocked one by one. No password by default.

    People may insert rows (for notes: every name moves with its cell, and the readers
    allow a named cell up to 200 rows below where it was issued) and resize rows, columns
    and cells' formats; they may not delete rows or insert, delete or sort columns, which
    would take a named cell away or put another's value in it."""
    ws.protection.sheet = True
    ws.protection.insertRows = False  # False = allowed
    ws.protection.formatRows = False
    ws.protection.formatColumns = False
    ws.protection.formatCells = False


def write_meta(wb: Workbook, values: dict[str, str]) -> None:
    """The very hidden sheet that tells ingest what a returned form is."""
    ws = wb.create_sheet(META_SHEET)
    ws.sheet_state = "veryHidden"
    for row, (key, value) in enumerate(values.items(), start=1):
        put(ws, f"A{row}", key)
        put(ws, f"B{row}", value)
    ws.protection.sheet = True


def save(wb: Workbook, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
