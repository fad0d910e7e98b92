"""Finding the header row of a case export or a staff list, and the column of each field.

Real files have titles above the header and a cover sheet, so the header is looked for in
the first ``HEADER_SCAN_ROWS`` rows, each cell compared with the header names configured
for a field as ``values.normalise_label`` spells both; the row naming the most fields wins.
Two columns that could each be one field are refused rather than guessed between, and a
required column that is missing is named with the setting that would find it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaudit.config import CANONICAL_FIELDS, EXPORT_EMAIL_FIELDS, OPTIONAL_FIELDS
from qaudit.errors import ExportError
from qaudit.values import normalise_label
from qaudit.workbooks.sheet_extents import column_letters

HEADER_SCAN_ROWS = 50


@dataclass
class Header:
    """The header row found: where it is, and the column each field is read from."""

    sheet: str | None
    index: int  # 0-based row index in the sheet / line index in the csv
    mapping: dict[str, int]  # canonical field -> column index
    cells: list[str]  # the header row as text

    @property
    def found(self) -> list[str]:
        return [c for c in self.cells if c]


def _label_positions(cells: Sequence[Any]) -> dict[str, list[int]]:
    positions: dict[str, list[int]] = {}
    for i, cell in enumerate(cells):
        key = normalise_label(cell) if isinstance(cell, str) else ""
        if key:
            positions.setdefault(key, []).append(i)
    return positions


def match_header(cells: Sequence[Any], aliases: dict[str, list[str]]) -> dict[str, int]:
    """The column of each field a row names, by the header names of each field as
    ``normalise_label`` spells them (``aliases``); a column is given to one field only."""
    positions = _label_positions(cells)
    mapping: dict[str, int] = {}
    for fieldname, names in aliases.items():
        for name in names:  # the first alias present wins, in the order configured
            free = [p for p in positions.get(name, ()) if p not in mapping.values()]
            if free:
                mapping[fieldname] = free[0]
                break
    return mapping


def _normalised(aliases: dict[str, list[str]]) -> dict[str, list[str]]:
    return {f: [normalise_label(name) for name in names] for f, names in aliases.items()}


def best_header(
    candidates: Iterable[tuple[str | None, list[list[Any]]]], aliases: dict[str, list[str]]
) -> Header | None:
    """The row naming the most fields (three at least) in the first rows of the sheets
    given; of two that name as many, the first."""
    keys = _normalised(aliases)
    best: Header | None = None
    for sheet, rows in candidates:
        for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
            mapping = match_header(row, keys)
            if len(mapping) >= 3 and (best is None or len(mapping) > len(best.mapping)):
                best = Header(sheet, index, mapping, [str(c).strip() for c in row])
    return best


def _where(header: Header) -> str:
    sheet = f" of sheet {header.sheet!r}" if header.sheet else ""
    return f"the header row (row {header.index + 1}{sheet})"


def _ambiguities(header: Header, path: Path, aliases: dict[str, list[str]]) -> None:
    """Refuse a header where two columns could each be one field: never guess between them."""
    positions = _label_positions(header.cells)
    keys = _normalised(aliases)
    used = set(header.mapping.values())
    problems = []
    for fieldname, chosen in header.mapping.items():
        columns = sorted({
            p for key in keys.get(fieldname, ()) for p in positions.get(key, ())
            if p == chosen or p not in used
        })
        if len(columns) < 2:
            continue
        named = [
            f'column {column_letters(p + 1) if header.sheet else p + 1} "{header.cells[p]}"'
            for p in columns
        ]
        listed = ", ".join(named[:-1]) + f" and {named[-1]}"
        what = fieldname.replace("_", " ")
        if len({normalise_label(header.cells[p]) for p in columns}) < len(columns):
            fix = (
                "Two of them have the same header, which the [columns] setting cannot tell"
                f" apart: rename or delete the one that is not the {what} in the export"
            )
        else:
            fix = (
                f"Set columns.{fieldname} under [columns] in qaudit.toml to the header of the"
                f' one to use, for example {fieldname} = ["{header.cells[chosen]}"]'
            )
        problems.append(
            f"{listed} could each be the {what}, and qaudit will not guess which. {fix}."
        )
    if problems:
        raise ExportError(f"{path}: in {_where(header)}, " + " Also, ".join(problems))


def require_columns(
    header: Header | None, path: Path, where: str, aliases: dict[str, list[str]]
) -> Header:
    """The header, unless none was found, a required field has no column, or two columns
    could each be one field: each refused in words that say which setting to change."""
    if header is None:
        raise ExportError(
            f"no header row found in {path}{where}: none of the first {HEADER_SCAN_ROWS} rows"
            " names three or more of the expected columns (record id, person id, work type,"
            " completed date, worker, team, service manager, quadrant). Check it is the case"
            " export, or set the header names under [columns] in qaudit.toml."
        )
    missing = [
        f for f in CANONICAL_FIELDS if f not in header.mapping
        and f not in OPTIONAL_FIELDS and f not in EXPORT_EMAIL_FIELDS
    ]
    if missing:
        keys = ", ".join(f"columns.{f}" for f in missing)
        raise ExportError(
            f"{path}: {_where(header)} has no column for"
            f" {', '.join(missing)}. Headers found: {', '.join(header.found)}. Add the header"
            f" that holds it to {keys} in qaudit.toml."
        )
    _ambiguities(header, path, aliases)
    return header
