"""Reading a case export: find the sheet and the header, read the columns a field is in.

Real exports from the case management system are messy: titles above the header, a
cover sheet, UK dates as text or as dates, ids as numbers or text, blank and total
rows. ``read_export`` turns one into a clean table of usable cases plus a table of the
rows it could not use and why. It never drops a row without counting it.

An export is also untrusted input, and whatever is wrong with it ends in one
``ExportError`` that says what the file is and what to do: never a crash, never memory
exhausted, never a library's own error text. Workbooks are checked before any parser
sees them, and CSV text is decoded only when its encoding is certain (``sheet_safety``);
the header row is found as ``headers`` finds it.

Speed matters (exports run to a million rows). A workbook is parsed once, by fastexcel
(Rust calamine writing Arrow columns), into one Arrow text column per sheet column: never a
Python object per cell. Each column is then normalised whole (``export_values``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from qaudit.config import CANONICAL_FIELDS, EXPORT_EMAIL_FIELDS, Settings
from qaudit.errors import ExportError
from qaudit.workbooks import export_values
from qaudit.workbooks.export_values import UNUSABLE_REASONS
from qaudit.workbooks.headers import HEADER_SCAN_ROWS, Header, best_header, require_columns
from qaudit.workbooks.sheet_safety import (
    AGAIN,
    SAVE_AS_UTF8,
    calamine_errors,
    check_workbook,
    decode,
    file_kind,
    sha256,
    size_text,
)

#: Called with (rows done, rows in total or None) while a large export is read.
Progress = Callable[[int, int | None], None]


@dataclass
class CaseExport:
    """A case export, read and normalised."""

    path: Path
    sha256: str
    sheet: str | None
    header_row: int  # 1-based row (xlsx) or line (csv) of the header
    columns: dict[str, str]  # canonical field -> header as found
    cases: pd.DataFrame  # usable rows: canonical fields + source_row
    unusable: pd.DataFrame  # source_row, reason, detail + canonical fields as text
    rows_read: int
    unusable_counts: dict[str, int] = field(default_factory=dict)
    #: What was left out of usable rows (an email that is not one), as sentences to show.
    warnings: list[str] = field(default_factory=list)


# --- readers -------------------------------------------------------------------------


@dataclass
class _Table:
    """The rows under the header: for each column a field is read from, its cells as Arrow
    text (null where empty). ``rendered``: the text is fastexcel's rendering of whatever each
    cell holds (a workbook, see ``export_values.cell_value``), not text as written (a CSV file)."""

    columns: dict[int, pa.Array]  # by position, counted from column A (or the first field)
    rows: int
    first_row: int  # 1-based row (xlsx) or line (csv) of the first of them
    rendered: bool

    def column(self, index: int | None) -> pa.Array:
        """The column at ``index``; all empty where the rows stop short of it."""
        found = None if index is None else self.columns.get(index)
        return pa.nulls(self.rows, pa.string()) if found is None else found


@dataclass
class _Sheet:
    """A sheet as fastexcel read it: every cell as text, one Arrow column per column from
    the first that holds anything (``first_column``, counted from A = 0) to the last, and
    one row per row from row 1 to the last that holds anything."""

    first_column: int
    batch: pa.RecordBatch

    def _columns(self) -> Iterator[tuple[int, pa.Array]]:
        """Each column with its position counted from column A."""
        for i, column in enumerate(self.batch.columns):
            yield self.first_column + i, column

    def head(self) -> list[list[Any]]:
        """The first rows from cell A1, each cell as python-calamine gives it ('' if empty),
        for the header scan."""
        rows = min(HEADER_SCAN_ROWS, self.batch.num_rows)
        width = self.first_column + self.batch.num_columns
        head: list[list[Any]] = [[""] * width for _ in range(rows)]
        for position, column in self._columns():
            for row, text in enumerate(column.slice(0, rows).to_pylist()):
                if text is not None:
                    head[row][position] = export_values.cell_value(text)
        return head

    def under(self, header: Header) -> _Table:
        """The rows under the header, in the columns the header maps (the rest let go)."""
        start = header.index + 1
        wanted = set(header.mapping.values())
        columns = {p: column.slice(start) for p, column in self._columns() if p in wanted}
        return _Table(columns, self.batch.num_rows - start, start + 1, rendered=True)


def _load_sheet(reader: Any, name: str) -> _Sheet:
    """Read a sheet into Arrow, every cell as text: the one parse of it.

    From row 1 (``skip_rows=0``; fastexcel would start at the first row used) and with no
    header row, so that the header scan sees the rows as the user does. Text, not types
    guessed from the cells, because a column holds what its cells hold: numbers and the word
    "Total", dates and dates typed as text (``export_values.cell_value`` reads each back).
    """
    positions: list[int] = []

    def note(column: Any) -> bool:  # fastexcel offers each column, with where it is: take all
        positions.append(column.absolute_index)
        return True

    batch = reader.load_sheet(
        name, header_row=None, skip_rows=0, dtypes="string", use_columns=note, eager=True
    )
    return _Sheet(min(positions, default=0), batch)


def _sheet_kinds(path: Path) -> tuple[list[str], list[str]]:
    """Every sheet's name, and the worksheets' (not charts'; all if none is), in order."""
    from python_calamine import CalamineWorkbook

    with calamine_errors(path), CalamineWorkbook.from_path(str(path)) as book:
        every = list(book.sheet_names)
        sheets = [m.name for m in book.sheets_metadata if str(m.typ).endswith("WorkSheet")]
    return every, sheets or every


def _read_xlsx(
    path: Path, aliases: dict[str, list[str]], sheet: str | None, progress: Progress | None
) -> tuple[Header, _Table]:
    import fastexcel

    check_workbook(path)
    every, names = _sheet_kinds(path)
    if sheet is not None:
        if sheet not in every:
            raise ExportError(f"{path} has no sheet {sheet!r}; its sheets are {', '.join(every)}.")
        names = [sheet]
    with calamine_errors(path):
        reader = fastexcel.read_excel(str(path))
    # One sheet held at a time besides the best so far: each may be large.
    best: Header | None = None
    chosen: _Sheet | None = None
    for name in names:
        with calamine_errors(path):
            loaded = _load_sheet(reader, name)
        found = best_header([(name, loaded.head())], aliases)
        if found is not None and (best is None or len(found.mapping) > len(best.mapping)):
            best, chosen = found, loaded
        del loaded
    header = require_columns(best, path, f" (sheet {sheet!r})" if sheet else "", aliases)
    if chosen is None:  # pragma: no cover - a header is found on a loaded sheet
        raise ExportError(f"{path}: no sheet holds the header row.")
    table = chosen.under(header)
    if progress is not None:
        progress(table.rows, table.rows)
    return header, table


MAX_CSV_BYTES = 1024**3


def _parse_error(path: Path, exc: Exception) -> ExportError:
    """A pandas or csv parsing error, in words: which line, and what to do."""
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if m:  # pandas counts the lines of the whole file, skipped ones included
        return ExportError(
            f"{path} is not a well-formed CSV file: line {m[2]} has"
            f" {m[3]} fields where the lines above it have {m[1]} (perhaps a comma inside a"
            f" name that is not in quotes). {SAVE_AS_UTF8}"
        )
    return ExportError(
        f"{path} is not a well-formed CSV file (a quotation mark may be left open, or a"
        f" field be far too long). {SAVE_AS_UTF8}"
    )


def _text_column(column: pd.Series) -> pa.Array:
    """A column pandas read as text, as one Arrow text array (null where a row stops short)."""
    found = pa.array(column, pa.string())
    return found.combine_chunks() if isinstance(found, pa.ChunkedArray) else found


def _read_csv(
    path: Path, aliases: dict[str, list[str]], progress: Progress | None
) -> tuple[Header, _Table]:
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise ExportError(
            f"{path} is {size_text(size)}, far larger than a case export; qaudit reads CSV files"
            f" of up to {size_text(MAX_CSV_BYTES)}. Export a shorter date range."
        )
    text = decode(path.read_bytes(), path)
    if "\x00" in text[:4096]:
        raise ExportError(f"{path} is not a text CSV file. {AGAIN[:-1]} as .csv.")
    sample = text[:65536]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        head = list(csv.reader(io.StringIO(sample), dialect))[:HEADER_SCAN_ROWS]
    except csv.Error as exc:
        raise _parse_error(path, exc) from exc
    header = require_columns(best_header([(None, head)], aliases), path, "", aliases)
    delimiter = getattr(dialect, "delimiter", ",")
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, header=None, skiprows=header.index + 1,
            dtype=str, keep_default_na=False, skip_blank_lines=False, engine="c",
        )
    except pd.errors.EmptyDataError:
        return header, _Table({}, 0, header.index + 2, rendered=False)
    except MemoryError as exc:
        raise ExportError(
            f"{path} is too large to read in the memory this computer has free. Close other"
            " programs and try again, or export a shorter date range."
        ) from exc
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise _parse_error(path, exc) from exc
    del text
    wanted = set(header.mapping.values())
    columns = {p: _text_column(frame.iloc[:, p]) for p in wanted if p < frame.shape[1]}
    if progress is not None:
        progress(len(frame), len(frame))
    return header, _Table(columns, len(frame), header.index + 2, rendered=False)


def read_export(
    path: Path, settings: Settings, sheet: str | None = None, progress: Progress | None = None
) -> CaseExport:
    """Read a case export and split it into usable cases and unusable rows (with reasons)."""
    kind = file_kind(path)
    if kind == "xlsx":
        header, table = _read_xlsx(path, settings.columns, sheet, progress)
    else:
        header, table = _read_csv(path, settings.columns, progress)
    if not table.rows:
        raise ExportError(f"{path} has a header row but no data under it. Export it again.")
    m = header.mapping
    raw = {
        f: table.column(m.get(f))
        for f in CANONICAL_FIELDS if f in m or f not in EXPORT_EMAIL_FIELDS
    }
    n, rendered = table.rows, table.rendered
    source_row = np.arange(table.first_row, table.first_row + n)
    del table
    normal = export_values.normal(raw, settings, rendered)
    verdicts = export_values.verdicts(normal, source_row)
    usable = verdicts.usable
    emails, warnings = export_values.emails(raw, usable, source_row, rendered)
    del raw
    counts = np.bincount(verdicts.reason[~usable], minlength=len(UNUSABLE_REASONS))
    return CaseExport(
        path=path,
        sha256=sha256(path),
        sheet=header.sheet,
        header_row=header.index + 1,
        columns={f: header.cells[i] for f, i in m.items()},
        cases=export_values.cases(normal, usable, source_row, emails),
        unusable=export_values.unusable(normal, verdicts, source_row),
        rows_read=n,
        unusable_counts={r: int(c) for r, c in zip(UNUSABLE_REASONS, counts, strict=True) if c},
        warnings=warnings,
    )
