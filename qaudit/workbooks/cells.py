"""Cells, styles and the hidden identification sheet, shared by every workbook qaudit makes.

The rule that matters most lives here: text is always written as text. openpyxl
treats a string starting with ``=`` as a formula; a worker called ``=HYPERLINK(...)``
must stay a name, so every string goes through :func:`put` (or :func:`text_row`).

And every workbook carries the protective marking (``[mail] protective_marking``): at the
top and bottom of every printed page (:func:`mark_pages`) and in a cell at the top of its
first sheet (:func:`put_marking`, or :func:`write_table`'s ``marking``).
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

from qaudit.config import MailSettings
from qaudit.values import HIDDEN_IN_LINE

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
_FORMULA_START = frozenset("=+-@\t\r")

BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
HEADER_FILL = PatternFill("solid", start_color="FF1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFFFF")
SECTION_FILL = PatternFill("solid", start_color="FFDDEBF7")
INPUT_FILL = PatternFill("solid", start_color="FFFFF9E5")
THIN = Side(style="thin", color="FFB4B4B4")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
UNLOCKED = Protection(locked=False)
DATE_FORMAT = "dd/mm/yyyy"
#: The marking a workbook carries when its writer is given none: the setting's default.
DEFAULT_MARKING: str = MailSettings.model_fields["protective_marking"].default
MARKING_FONT = Font(bold=True, color="FFC00000")
MARKING_MAX = 60
#: Excel's header and footer code for the page number and the page count.
PAGE_NUMBERS = "Page &P of &N"


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
            if value[:1] in _FORMULA_START or _ESCAPE.search(value) or len(value) > MAX_CELL_TEXT:
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
    return cells


def marking_text(marking: str) -> str:
    """The marking as a workbook shows it: one line, no hidden characters, bounded."""
    return " ".join(HIDDEN_IN_LINE.sub(" ", marking).split())[:MARKING_MAX]


def mark_pages(ws: Worksheet, marking: str) -> None:
    """The marking centred at the top and bottom of every printed page, page numbers at the
    bottom right. An ``&`` in the marking is doubled: alone it starts a header code."""
    text = marking_text(marking).replace("&", "&&")
    if text:
        for part in (ws.oddHeader.center, ws.oddFooter.center):
            part.text = text
            part.font = "-,Bold"
    ws.oddFooter.right.text = PAGE_NUMBERS


def mark_workbook(wb: Workbook, marking: str) -> None:
    """Every sheet's printed pages marked (the hidden one too: nothing prints unmarked)."""
    for ws in wb.worksheets:
        mark_pages(ws, marking)


def put_marking(ws: Worksheet, ref: str, marking: str) -> None:
    """The marking in a cell at the top of a sheet, bold and dark red, as text."""
    text = marking_text(marking)
    if text:
        put(ws, ref, text, font=MARKING_FONT, alignment=Alignment(horizontal="right"))


def write_table(
    ws: Worksheet, headers: Sequence[str], rows: Iterable[Sequence[Any]], widths: Sequence[int],
    marking: str = "",
) -> None:
    """A plain table on a write-only sheet: styled header, frozen, filterable.

    A ``marking`` is shown in the header row, one column right of the table and outside
    its filter (a row above the table would move the table a reader expects in row 1)."""
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
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


def protect(ws: Worksheet) -> None:
    """Lock the layout; input cells are unlocked one by one. No password by default."""
    ws.protection.sheet = True
    ws.protection.insertRows = False  # False = allowed: people add rows for notes
    ws.protection.formatRows = False
    ws.protection.formatColumns = False
    ws.protection.formatCells = False


def a4(ws: Worksheet, landscape: bool = False) -> None:
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5


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
