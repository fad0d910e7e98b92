"""How every workbook qaudit makes prints: A4, one page wide, whole pages, every page marked.

Every printed page carries the protective marking (``[organisation] protective_marking``)
at its top and bottom, the workbook's reference at the bottom left and its page number at the
bottom right (:func:`mark_pages`). Rows are tall enough for their wrapped text
(:func:`text_height`), and blocks that belong together are kept on one page
(:func:`keep_together`), reckoned from the paper a sheet prints on (:func:`page_height`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from qaudit.values import HIDDEN_IN_LINE

#: What a marking shown on a page or in a cell may not hold: a line break or a hidden
#: character, or one of the two noncharacters no XML can hold (a header is XML text).
_OFF_THE_LINE = re.compile(f"{HIDDEN_IN_LINE.pattern}|[\ufffe\uffff]")
MARKING_MAX = 60
#: Excel's header and footer code for the page number and the page count.
PAGE_NUMBERS = "Page &P of &N"
#: The height of one line of 11-point text in a row, in points (Excel's default row), and
#: of a row holding a title (14-point bold).
LINE = 15.0
TITLE_HEIGHT = 21.0
#: Paper (points) and Excel's width of one character of a column (points, Calibri 11).
_A4 = (595.3, 841.9)
_CHARACTER = 5.25


def marking_text(marking: str) -> str:
    """The marking as a workbook shows it: one line, no hidden characters, bounded."""
    return " ".join(_OFF_THE_LINE.sub(" ", marking).split())[:MARKING_MAX]


def page_text(text: str) -> str:
    """Text as a page header or footer holds it: :func:`marking_text`'s one bounded line,
    each ``&`` doubled (alone it starts a code: ``&P`` is the page number)."""
    return marking_text(text).replace("&", "&&")


def mark_pages(ws: Worksheet, marking: str, reference: str = "") -> None:
    """The marking centred at the top and bottom of every printed page, the workbook's
    ``reference`` at the bottom left and the page numbers ("Page 2 of 3") at the bottom
    right."""
    text = page_text(marking)
    if text:
        for part in (ws.oddHeader.center, ws.oddFooter.center):
            part.text = text
            part.font = "-,Bold"
    ws.oddFooter.right.text = PAGE_NUMBERS
    if reference:
        page_reference(ws, reference)


def page_reference(ws: Worksheet, reference: str) -> None:
    """What workbook a printed page belongs to, at the bottom left of every page."""
    ws.oddFooter.left.text = page_text(reference)


def mark_workbook(wb: Workbook, marking: str, reference: str = "") -> None:
    """Every sheet's printed pages marked (the hidden one too: nothing prints unmarked)."""
    for ws in wb.worksheets:
        mark_pages(ws, marking, reference)


def a4(ws: Worksheet, landscape: bool = False) -> None:
    """A4, one page wide, as many tall as it takes, centred, with narrow side margins."""
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5


def text_height(text: str, width: float, bold: bool = False) -> float:
    """A row height (points) that shows ``text`` whole, wrapped at spaces in a column
    ``width`` characters wide. Reckoned for a wider font than Excel's Calibri (LibreOffice
    without it prints in DejaVu Sans), so a row is never too short to show its last line."""
    per_line = max(1, int(width * (0.85 if bold else 1.0)))
    lines = 0
    for paragraph in text.split("\n"):
        used = 0
        lines += 1
        for word in paragraph.split():
            if used and used + 1 + len(word) <= per_line:
                used += 1 + len(word)
                continue
            if used:
                lines += 1
            lines += (len(word) - 1) // per_line
            used = (len(word) - 1) % per_line + 1
    return LINE * lines + 3


def keep_together(ws: Worksheet, blocks: Iterable[tuple[int, int]]) -> None:
    """Page breaks so that no block of rows (first, last) is split across pages: a block
    that would not fit the rest of a page starts the next one.

    The page is reckoned as Excel prints the sheet (A4 fitted to the width of its columns
    in Calibri); LibreOffice without Calibri prints smaller, so the pages it fills from
    these breaks hold the same blocks with room to spare."""
    merged: list[list[int]] = []
    for first, last in sorted(blocks):
        if merged and first <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    ends = {first: last for first, last in merged}
    capacity = page_height(ws)
    titles = (_row_heights(ws, *(int(r.strip("$")) for r in ws.print_title_rows.split(":")))
              if ws.print_title_rows else 0.0)
    used, row = 0.0, 1
    while row <= ws.max_row:
        last = ends.get(row, row)
        height = _row_heights(ws, row, last)
        if used and used + height > capacity:
            ws.row_breaks.append(Break(id=row - 1))
            used = titles
        used += height
        row = last + 1


def _row_heights(ws: Worksheet, first: int, last: int) -> float:
    rows = (ws.row_dimensions.get(r) for r in range(first, last + 1))
    return float(sum(LINE if row is None or row.height is None else row.height for row in rows))


def page_height(ws: Worksheet) -> float:
    """The rows (points, unscaled) one printed page holds, a twentieth kept spare."""
    across, down = _A4[::-1] if ws.page_setup.orientation == "landscape" else _A4
    margins = ws.page_margins
    widths = (ws.column_dimensions.get(get_column_letter(c)) for c in range(1, ws.max_column + 1))
    columns = sum((column.width if column else 8.43) * _CHARACTER + 3.75 for column in widths)
    printable = down - 72 * (margins.top + margins.bottom)
    return float(0.95 * printable * max(1.0, columns / (across - 72 * (margins.left
                                                                      + margins.right))))
