"""A sheet's cells, as openpyxl reads them: found by reference, with their values and types.

The cells asked for are found in one pass over the sheet's rows (``xlsx.elements``). A
cell's value and type are what openpyxl gives with ``data_only=False``, the answers
qaudit's checks were written against: text (``s``, ``inlineStr``, ``str``), booleans,
errors, numbers as int or float, a number styled with a date format (built-in or custom)
as a date, a cell holding ``<f>`` as a formula with openpyxl's text for it, a cell under
a merged range (not its top-left) as empty, a reference given twice as its last cell.
Where openpyxl would fail on a cell that is read (a bad number, a missing shared string, a
style that does not exist, a reference past the last column) this fails too.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast
from xml.etree.ElementTree import Element

from openpyxl.utils.cell import (
    column_index_from_string,
    coordinate_to_tuple,
    get_column_letter,
    range_boundaries,
)
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.worksheet._reader import WorkSheetParser, _cast_number

from qaudit.workbooks.xlsx import MAIN, Book, children, elements, part_text, text_content

_ROW, _CELL_VALUE, _FORMULA, _INLINE = (f"{MAIN}{t}" for t in ("row", "v", "f", "is"))
_MERGES = f"{MAIN}mergeCells"
_PLAIN_REFS = re.compile(r"(?:[A-Z]{1,3}[1-9][0-9]*(?: [A-Z]{1,3}[1-9][0-9]*)*)?")
_ROW_NUMBERS = re.compile(r"(?:[1-9][0-9]*(?: [1-9][0-9]*)*)?")
_PLAIN_RANGE = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6}):([A-Z]{1,3})([1-9][0-9]{0,6})")
#: Rows handled at once, in a sheet streamed (one parsed whole is handled in one go).
_BATCH = 4096


@dataclass(frozen=True)
class Cell:
    """One cell as openpyxl reads it."""

    value: Any
    data_type: str


EMPTY = Cell(None, "n")


@dataclass
class SheetCells:
    """The cells found at the references asked for (the last one, where a reference is
    used twice) and the merged ranges of one sheet."""

    title: str
    cells: dict[str, Element]
    merged: list[tuple[int, int, int, int]]


def scan_sheet(book: Book, title: str, refs: frozenset[str]) -> SheetCells:
    """Find the cells at ``refs`` (plain references such as ``C5``) in one sheet."""
    found = SheetCells(title, {}, [])
    merges: list[Element] = []
    rows: list[Element] = []
    number = 0
    for elem in elements(_sheet_text(book, title), (_ROW, _MERGES)):
        if elem.tag == _MERGES:
            merges = children(elem, "mergeCell")  # the last list of them counts
            continue
        rows.append(elem)
        if len(rows) == _BATCH:
            number = _take(rows, number, refs, found.cells)
            rows = []
    _take(rows, number, refs, found.cells)
    found.merged = [_merge_bounds(m.get("ref")) for m in merges]
    return found


def _take(rows: list[Element], number: int, refs: frozenset[str],
          into: dict[str, Element]) -> int:
    """Put the cells of ``rows`` found at ``refs`` into ``into`` (the last of a reference
    used twice wins, as in openpyxl); returns the last row's number. Rows and cells nearly
    always say where they are, plainly, and are then matched all at once."""
    numbers = _row_numbers(rows, number)
    cells = [cell for row in rows for cell in row]
    given = [cell.get("r") for cell in cells]
    if None not in given and _PLAIN_REFS.fullmatch(" ".join(plain := cast(list[str], given))):
        into.update((ref, cell) for ref, cell in zip(plain, cells, strict=True) if ref in refs)
    else:
        into.update((ref, cell) for ref, cell in _placed(rows, numbers) if ref in refs)
    return numbers[-1] if numbers else number


def _row_numbers(rows: list[Element], previous: int) -> list[int]:
    """Each row's number as openpyxl counts rows: its ``r``, or one after the row before
    (a number that is not whole fails)."""
    given = [row.get("r") for row in rows]
    if None not in given and _ROW_NUMBERS.fullmatch(" ".join(plain := cast(list[str], given))):
        return [int(r) for r in plain]
    numbers = []
    for r in given:
        if r is None:
            previous += 1
        else:
            try:
                previous = int(r)
            except ValueError:
                number = float(r)
                if not number.is_integer():
                    raise
                previous = int(number)
        numbers.append(previous)
    return numbers


def _placed(rows: list[Element], numbers: list[int]) -> Iterator[tuple[str | None, Element]]:
    """Each cell of these rows, in order, placed as openpyxl places it: where its ``r``
    says (``c5`` too), or after the cell before it in its row. The reference is None
    where no named cell can be."""
    for row, number in zip(rows, numbers, strict=True):
        column = 0
        for cell in row:
            at, ref = number, cell.get("r")
            if ref:
                at, column = coordinate_to_tuple(ref)
            else:
                column += 1
            yield (f"{get_column_letter(column)}{at}" if 1 <= column <= 18_278 else None), cell


def _sheet_text(book: Book, title: str) -> str:
    sheet = book.sheets[title]
    if sheet.chart:
        raise ValueError(f"{title} is a chart sheet, not a sheet of cells")
    return part_text(book.archive, sheet.part)


def formula_text(book: Book, found: SheetCells, ref: str) -> Any:
    """openpyxl's text of the formula at ``ref``. A shared formula is translated from the
    first cell of its group, so then the sheet is read again, every formula in order
    (rare: a form with a formula in an input cell is refused anyway)."""
    reader = WorkSheetParser(None, [])
    cell = found.cells[ref]
    if cell.find(_FORMULA).get("t") != "shared":  # type: ignore[union-attr]
        return reader.parse_formula(cell)
    text, number = None, 0
    for row in elements(_sheet_text(book, found.title), (_ROW,)):
        (number,) = _row_numbers([row], number)
        for at, other in _placed([row], [number]):
            if other.find(_FORMULA) is not None:
                translated = reader.parse_formula(other)
                if at == ref:
                    text = translated
    return text


@lru_cache(maxsize=4096)
def _merge_bounds(ref: str | None) -> tuple[int, int, int, int]:
    """A merged range's first row and column, last row and column; fails where openpyxl's
    ``CellRange`` would (a bare cell counts as a range of one). Forms made from one
    template share their merged ranges, hence the cache."""
    plain = _PLAIN_RANGE.fullmatch(ref) if ref else None
    if plain:  # the usual C5:D5, read without openpyxl's general pattern
        min_col, max_col = _column(plain[1]), _column(plain[3])
        min_row, max_row = int(plain[2]), int(plain[4])
    else:
        min_col, min_row, max_col, max_row = range_boundaries(str(ref))
    if (None in (min_col, min_row, max_col, max_row) or not 1 <= min_col <= max_col <= 18_278
            or not 1 <= min_row <= max_row <= 1_048_576):
        raise ValueError(f"merged range {ref!r} is not a range of cells")
    return min_row, min_col, max_row, max_col


_column = lru_cache(maxsize=1024)(column_index_from_string)


def covered(found: SheetCells, places: dict[str, tuple[int, int]]) -> set[str]:
    """The references (row, column in ``places``) under a merged range but not its
    top-left cell: openpyxl makes each of those an empty ``MergedCell``, whatever it held."""
    by_row = sorted((row, column, ref) for ref, (row, column) in places.items())
    hidden = set()
    for top, left, bottom, right in found.merged:
        at = bisect_left(by_row, (top,))
        while at < len(by_row) and by_row[at][0] <= bottom:
            row, column, ref = by_row[at]
            if left <= column <= right and (row, column) != (top, left):
                hidden.add(ref)
            at += 1
    return hidden


def cell_value(book: Book, found: SheetCells, ref: str, strings: list[str]) -> Cell:
    """The value and type of a cell found, exactly as openpyxl's worksheet reader gives them."""
    cell = found.cells[ref]
    data_type = cell.get("t", "n")
    style: Any = cell.get("s", 0)
    if style:
        style = int(style)
    book.styles.check(style)
    value = None if data_type == "inlineStr" else (cell.findtext(_CELL_VALUE) or None)
    if cell.find(_FORMULA) is not None:
        return Cell(formula_text(book, found, ref), "f")
    if value is None:
        inline = cell.find(_INLINE) if data_type == "inlineStr" else None
        return Cell(None, data_type) if inline is None else Cell(text_content(inline), "s")
    if data_type == "n":
        return _number(book, _cast_number(value), style)
    if data_type == "s":
        return Cell(strings[int(value)], "s")
    if data_type == "b":
        return Cell(bool(int(value)), "b")
    if data_type == "str":
        return Cell(value, "s")
    if data_type == "d":
        return Cell(from_ISO8601(value), "d")
    return Cell(value, data_type)


def _number(book: Book, number: int | float, style: Any) -> Cell:
    if style not in book.styles.dates:
        return Cell(number, "n")
    try:
        return Cell(from_excel(number, book.epoch, timedelta=style in book.styles.durations),
                    "d")
    except (OverflowError, ValueError):
        return Cell("#VALUE!", "e")


def shared_string_index(cell: Element) -> int | None:
    """The shared string a cell shows, if it shows one (a formula shows its own text)."""
    if cell.get("t", "n") != "s" or cell.find(_FORMULA) is not None:
        return None
    value = cell.findtext(_CELL_VALUE) or None
    return None if value is None else int(value)
