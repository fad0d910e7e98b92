"""Reading a case export: find the sheet and header, map columns, normalise every value.

Real exports from the case management system are messy: titles above the header, a
cover sheet, UK dates as text or as dates, ids as numbers or text, blank and total
rows. This module turns one into a clean table of usable cases plus a table of the
rows it could not use and why. It never drops a row without counting it.

Speed matters (exports run to a million rows): each column is factorised first and
only its distinct values are normalised in Python, so the cost is one pass of hashing
per column rather than Python work per cell.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qaudit.config import CANONICAL_FIELDS, OPTIONAL_FIELDS, Settings
from qaudit.errors import ExportError
from qaudit.values import normalise_id, normalise_label, parse_date

#: Called with (rows done, rows in total or None) while a large export is read.
Progress = Callable[[int, int | None], None]

HEADER_SCAN_ROWS = 50
MAX_UNCOMPRESSED_BYTES = 4 * 1024**3
_TOTAL_WORDS = ("total", "grand total", "count", "sum")

# Unusable-row reasons, in the order they are checked: a row is listed under the first.
BLANK = "blank row"
TOTAL = "total or summary row"
NO_RECORD = "missing record id"
NO_PERSON = "missing person id"
NO_DATE = "missing completed date"
BAD_DATE = "completed date not understood"
BAD_TYPE = "work type is not an audit type"
BAD_QUADRANT = "quadrant not known"
NO_WORKER = "missing worker id"
NO_MANAGER = "missing service manager"
DUPLICATE = "duplicate record id"
UNUSABLE_REASONS = (
    BLANK, TOTAL, NO_RECORD, NO_PERSON, NO_DATE, BAD_DATE, BAD_TYPE, BAD_QUADRANT,
    NO_WORKER, NO_MANAGER, DUPLICATE,
)


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


# --- file sniffing -------------------------------------------------------------------


def _file_kind(path: Path) -> str:
    if not path.exists():
        raise ExportError(f"{path} does not exist. Check the path and try again.")
    if path.is_dir():
        raise ExportError(f"{path} is a folder. Give the export file itself (.xlsx or .csv).")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    if not head:
        raise ExportError(f"{path} is empty. Export the report again.")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ExportError(
            f"{path} is an old-style .xls workbook or is password-protected. Open it in"
            " Excel, remove any password, and save it as .xlsx."
        )
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        raise ExportError(
            f"{path} is not an Excel workbook, whatever its name says. Export the report"
            " again as .xlsx or .csv."
        )
    if suffix not in {".csv", ".txt", ".tsv"}:
        raise ExportError(
            f"{path} has suffix {suffix or '(none)'!r}; qaudit reads .xlsx, .xlsm and .csv."
        )
    return "csv"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- header detection ----------------------------------------------------------------


@dataclass
class _Header:
    sheet: str | None
    index: int  # 0-based row index in the sheet / line index in the csv
    mapping: dict[str, int]  # canonical field -> column index
    cells: list[str]  # the header row as text

    @property
    def found(self) -> list[str]:
        return [c for c in self.cells if c]


def _match_header(cells: Sequence[Any], aliases: dict[str, list[str]]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for i, cell in enumerate(cells):
        key = normalise_label(cell) if isinstance(cell, str) else ""
        if key and key not in positions:
            positions[key] = i
    mapping: dict[str, int] = {}
    for fieldname, names in aliases.items():
        for name in names:  # the first alias present wins, in the order configured
            pos = positions.get(normalise_label(name))
            if pos is not None and pos not in mapping.values():
                mapping[fieldname] = pos
                break
    return mapping


def _best_header(
    candidates: Iterable[tuple[str | None, list[list[Any]]]], aliases: dict[str, list[str]]
) -> _Header | None:
    best: _Header | None = None
    for sheet, rows in candidates:
        for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
            mapping = _match_header(row, aliases)
            if len(mapping) >= 3 and (best is None or len(mapping) > len(best.mapping)):
                best = _Header(sheet, index, mapping, [str(c).strip() for c in row])
    return best


def _require_columns(header: _Header | None, path: Path, where: str) -> _Header:
    if header is None:
        raise ExportError(
            f"no header row found in {path}{where}: none of the first {HEADER_SCAN_ROWS} rows"
            " names three or more of the expected columns (record id, person id, work type,"
            " completed date, worker, team, service manager, quadrant). Check it is the case"
            " export, or set the header names under [columns] in qaudit.toml."
        )
    missing = [
        f for f in CANONICAL_FIELDS if f not in header.mapping and f not in OPTIONAL_FIELDS
    ]
    if missing:
        keys = ", ".join(f"columns.{f}" for f in missing)
        raise ExportError(
            f"{path}: the header row (row {header.index + 1}"
            f"{' of sheet ' + repr(header.sheet) if header.sheet else ''}) has no column for"
            f" {', '.join(missing)}. Headers found: {', '.join(header.found)}. Add the header"
            f" that holds it to {keys} in qaudit.toml."
        )
    return header


# --- readers -------------------------------------------------------------------------


def _read_xlsx(
    path: Path, aliases: dict[str, list[str]], sheet: str | None, progress: Progress | None
) -> tuple[_Header, list[list[Any]], int]:
    from python_calamine import CalamineWorkbook

    try:
        with zipfile.ZipFile(path) as archive:
            if sum(i.file_size for i in archive.infolist()) > MAX_UNCOMPRESSED_BYTES:
                raise ExportError(
                    f"{path} would expand to more than 4 GB; it is not a case export qaudit"
                    " can read safely. Export a narrower report."
                )
    except zipfile.BadZipFile as exc:
        raise ExportError(f"{path} is a damaged workbook ({exc}). Export it again.") from exc
    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise ExportError(f"{path} cannot be read as a workbook ({exc}). Export it again.") from exc
    names = [
        m.name for m in book.sheets_metadata if str(m.typ).endswith("WorkSheet")
    ] or list(book.sheet_names)
    if sheet is not None:
        if sheet not in book.sheet_names:
            raise ExportError(
                f"{path} has no sheet {sheet!r}; its sheets are {', '.join(book.sheet_names)}."
            )
        names = [sheet]
    loaded = {name: book.get_sheet_by_name(name) for name in names}
    heads = (
        (name, loaded[name].to_python(skip_empty_area=False, nrows=HEADER_SCAN_ROWS))
        for name in names
    )
    where = f" (sheet {sheet!r})" if sheet else ""
    header = _require_columns(_best_header(heads, aliases), path, where)
    chosen = loaded[header.sheet or names[0]]
    # Read from cell A1, as the header scan did: iter_rows() would start at the first
    # used column and shift every field of an export whose column A is empty.
    rows: list[list[Any]] = chosen.to_python(skip_empty_area=False)[header.index + 1:]
    book.close()
    if progress is not None:
        progress(len(rows), len(rows))
    return header, rows, header.index + 2


def _read_csv(
    path: Path, aliases: dict[str, list[str]], progress: Progress | None
) -> tuple[_Header, list[list[Any]], int]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes nearly anything
        raise ExportError(f"{path} is not text in UTF-8 or Windows-1252. Save it as CSV UTF-8.")
    if "\x00" in text[:4096]:
        raise ExportError(f"{path} is not a text CSV file. Export the report again as .csv.")
    sample = text[:65536]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t|")
    except csv.Error:
        dialect = csv.excel
    head = list(csv.reader(io.StringIO(sample), dialect))[:HEADER_SCAN_ROWS]
    header = _require_columns(_best_header([(None, head)], aliases), path, "")
    delimiter = getattr(dialect, "delimiter", ",")
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, header=None, skiprows=header.index + 1,
            dtype=str, keep_default_na=False, skip_blank_lines=False, engine="c",
        )
    except pd.errors.EmptyDataError:
        return header, [], header.index + 2
    except (pd.errors.ParserError, ValueError) as exc:
        raise ExportError(f"{path} is not a well-formed CSV file ({exc}).") from exc
    rows = frame.to_numpy(dtype=object, na_value="").tolist()
    if progress is not None:
        progress(len(rows), len(rows))
    return header, rows, header.index + 2


# --- normalisation -------------------------------------------------------------------


def _grid(rows: list[list[Any]]) -> np.ndarray:
    """Rows as one 2-D object array, short rows padded: columns are then slices."""
    width = max((len(r) for r in rows), default=0)
    if any(len(r) != width for r in rows):
        rows = [[*r, *[""] * (width - len(r))] for r in rows]
    grid = np.empty((len(rows), width), dtype=object)
    grid[:] = rows
    return grid


def _column(grid: np.ndarray, index: int | None) -> np.ndarray:
    if index is None:
        return np.full(grid.shape[0], "", dtype=object)
    return grid[:, index]


def _by_unique(values: np.ndarray, fn: Callable[[Any], Any], fill: Any = "") -> np.ndarray:
    """Apply ``fn`` once per distinct value: exports repeat values heavily."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [fn(u) for u in uniques]
    mapped[-1] = fill
    return mapped[codes]  # code -1 (missing) takes the last slot


def read_export(
    path: Path, settings: Settings, sheet: str | None = None, progress: Progress | None = None
) -> CaseExport:
    """Read a case export and split it into usable cases and unusable rows (with reasons)."""
    kind = _file_kind(path)
    aliases = settings.columns
    # Millions of short-lived cell objects make the cyclic collector run again and again
    # for nothing: none of them form cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if kind == "xlsx":
            header, rows, first_row = _read_xlsx(path, aliases, sheet, progress)
        else:
            header, rows, first_row = _read_csv(path, aliases, progress)
        if not rows:
            raise ExportError(
                f"{path} has a header row but no data under it. Export it again."
            )
        grid = _grid(rows)
        del rows
    finally:
        if collecting:
            gc.enable()

    m = header.mapping
    raw = {f: _column(grid, m.get(f)) for f in CANONICAL_FIELDS}
    del grid
    type_lookup = settings.audit_type_lookup()
    quadrant_lookup = settings.quadrant_lookup()

    ids = {f: _by_unique(raw[f], normalise_id) for f in ("record_id", "person_id", "worker_id")}
    text = {
        f: _by_unique(raw[f], normalise_id)
        for f in ("worker_name", "team", "service_manager", "audit_type", "quadrant")
    }
    dates = _by_unique(raw["completed_date"], parse_date, fill=None)
    type_keys = _by_unique(text["audit_type"], lambda t: type_lookup.get(normalise_label(t), ""))
    quadrants = _by_unique(
        text["quadrant"], lambda t: quadrant_lookup.get(normalise_label(t), "")
    )
    date_text = _by_unique(raw["completed_date"], normalise_id)

    n = len(dates)
    reason = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)

    def mark(mask: np.ndarray, why: str, what: np.ndarray | None = None) -> None:
        fresh = mask & (reason == "")
        reason[fresh] = why
        if what is not None:
            detail[fresh] = what[fresh]

    empty = {f: (ids | text)[f] == "" for f in (*ids, *text)}
    blank = np.logical_and.reduce([*empty.values(), dates == None])  # noqa: E711
    mark(blank, BLANK)
    first_cell = _by_unique(
        raw["record_id"],
        lambda v: isinstance(v, str) and v.strip().lower().startswith(_TOTAL_WORDS),
    ).astype(bool)
    mark(first_cell | (empty["record_id"] & empty["person_id"] & ~blank), TOTAL)
    mark(empty["record_id"], NO_RECORD)
    mark(empty["person_id"], NO_PERSON)
    mark(date_text == "", NO_DATE)
    mark(dates == None, BAD_DATE, date_text)  # noqa: E711
    mark(type_keys == "", BAD_TYPE, text["audit_type"])
    mark(quadrants == "", BAD_QUADRANT, text["quadrant"])
    mark(empty["worker_id"], NO_WORKER)
    mark(empty["service_manager"], NO_MANAGER)
    source_row = np.arange(first_row, first_row + n)
    usable_so_far = reason == ""
    dup = np.zeros(n, dtype=bool)
    dup[usable_so_far] = pd.Series(ids["record_id"][usable_so_far]).duplicated(keep="first")
    if dup.any():
        first_seen: dict[str, int] = {}
        pairs = zip(ids["record_id"][usable_so_far], source_row[usable_so_far], strict=True)
        for rid, row in pairs:
            first_seen.setdefault(rid, int(row))
        detail[dup] = [f"first seen on row {first_seen[r]}" for r in ids["record_id"][dup]]
    mark(dup, DUPLICATE)

    usable = reason == ""
    completed = pd.to_datetime(pd.Series(dates[usable], dtype=object)).to_numpy(
        dtype="datetime64[D]"
    ) if usable.any() else np.array([], dtype="datetime64[D]")
    cases = pd.DataFrame(
        {
            "record_id": ids["record_id"][usable],
            "person_id": ids["person_id"][usable],
            "audit_type": type_keys[usable],
            "completed_date": completed,
            "worker_id": ids["worker_id"][usable],
            "worker_name": text["worker_name"][usable],
            "team": text["team"][usable],
            "service_manager": text["service_manager"][usable],
            "quadrant": quadrants[usable],
            "work_type": text["audit_type"][usable],  # as the case record calls it
            "source_row": source_row[usable],
        }
    )
    listed = ~usable & (reason != BLANK)
    unusable = pd.DataFrame(
        {
            "source_row": source_row[listed],
            "reason": reason[listed],
            "detail": detail[listed],
            **{f: (ids | text)[f][listed] for f in ("record_id", "person_id")},
            "audit_type": text["audit_type"][listed],
            "completed_date": date_text[listed],
            **{f: (ids | text)[f][listed] for f in ("worker_id", "team", "quadrant")},
        }
    )
    counts = pd.Series(reason[~usable]).value_counts()
    unusable_counts = {r: int(counts[r]) for r in UNUSABLE_REASONS if r in counts.index}
    return CaseExport(
        path=path,
        sha256=_sha256(path),
        sheet=header.sheet,
        header_row=header.index + 1,
        columns={f: header.cells[i] for f, i in m.items()},
        cases=cases,
        unusable=unusable,
        rows_read=n,
        unusable_counts=unusable_counts,
    )
