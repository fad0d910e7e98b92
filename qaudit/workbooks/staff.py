"""Reading a staff list (xlsx or csv): who works where, their email, and who manages them.

The list comes from HR or is kept by the QA team, so it is read like a case export and with
the case export's own hardened parts (``workbooks.case_export``): the file's kind sniffed
from its bytes, a workbook's archive checked before python-calamine opens it, CSV text
decoded only when its encoding is certain (UTF-8, UTF-16, Windows-1252; a file mixing them
refused). Its header row is found anywhere in the first rows of any sheet by the header
names of ``[staff.columns]``, compared as the export's are (``values.normalise_label``),
and two columns that could each be one field are refused rather than guessed between.

Then every value is checked, and the whole file is refused, naming each row, column and
value, if any is wrong: an email address that is not one (``email-validator``, form only:
nothing is looked up), a control character, a value far longer than a name or a team, or
one worker id given twice with different details. A row without a worker id or a name
cannot be stored and is listed as not stored; a row without an email is kept and listed.
Formula-like text (``=HYPERLINK(...)``) is only text here, as it is everywhere in qaudit.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaudit.config import OPTIONAL_STAFF_FIELDS, STAFF_FIELDS
from qaudit.db.people import StaffMember
from qaudit.errors import ExportError, StaffListError
from qaudit.values import normalise_id, normalise_label
from qaudit.workbooks import case_export

HEADER_SCAN_ROWS = case_export.HEADER_SCAN_ROWS
MAX_STAFF_ROWS = 100_000  # a county council employs a few thousand in adult social care
MAX_CSV_BYTES = 64 * 1024**2
MAX_ID = 64
MAX_TEXT = 200
MAX_PROBLEMS_LISTED = 20
EMAIL_FIELDS = ("email", "line_manager_email", "service_manager_email")
#: How each field is named to people (messages, tables).
FIELD_NAMES = {
    "worker_id": "worker id", "name": "name", "email": "email", "team": "team", "role": "role",
    "line_manager": "line manager", "line_manager_email": "line manager email",
    "service_manager": "Service Manager", "service_manager_email": "Service Manager email",
}
# After whitespace is folded: C0 and C1 controls, zero-width and bidirectional marks. None
# belongs in a name, and each could hide text in a terminal, an email header or a workbook.
_HIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_AGAIN = "Save the staff list again from HR's system or from Excel."


@dataclass(frozen=True)
class StaffRow:
    """One person of the list and the row (xlsx) or line (csv) they are on."""

    row: int
    member: StaffMember


@dataclass(frozen=True)
class SkippedRow:
    """A row that names somebody but cannot be stored, and why."""

    row: int
    reason: str
    text: str  # what the row holds, for the person reading the listing


@dataclass(frozen=True)
class StaffList:
    """A staff list, read and checked."""

    path: Path
    sha256: str
    sheet: str | None
    header_row: int
    columns: dict[str, str]  # field -> header as found
    rows: list[StaffRow]
    skipped: list[SkippedRow]
    rows_read: int

    @property
    def without_email(self) -> list[StaffRow]:
        return [r for r in self.rows if not r.member.email]


def check_email(value: str) -> str:
    """An email address in its normal form, checked for form only (never looked up);
    ``ValueError`` saying what is wrong with one that is not an address."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


# --- the file ----------------------------------------------------------------------------


@contextlib.contextmanager
def _as_staff_list(path: Path) -> Iterator[None]:
    """The case export reader's refusals, worded for a staff list."""
    try:
        yield
    except ExportError as exc:
        text = str(exc)
        again = case_export._AGAIN
        text = text.replace(again, _AGAIN).replace(again[:-1], _AGAIN[:-1])
        text = text.replace("a case export", "a staff list").replace("case export", "staff list")
        text = text.replace("the case management system", "HR's system")
        raise StaffListError(text) from exc


@dataclass(frozen=True)
class _Header:
    sheet: str | None
    index: int  # 0-based row of the header
    mapping: dict[str, int]  # field -> column index
    cells: list[str]


def _find_header(sheet: str | None, rows: Sequence[Sequence[Any]],
                 aliases: dict[str, list[str]]) -> _Header | None:
    """The first row naming the worker id and the name, and the most other fields."""
    keys = {f: [normalise_label(n) for n in names] for f, names in aliases.items()}
    best: _Header | None = None
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        mapping = case_export._match_header(row, keys)
        if {"worker_id", "name"} <= mapping.keys() and (
                best is None or len(mapping) > len(best.mapping)):
            best = _Header(sheet, index, mapping, ["" if c is None else str(c).strip()
                                                       for c in row])
    return best


def _column(header: _Header, index: int) -> str:
    letter = case_export._letters(index + 1)
    return f'column {letter if header.sheet is not None else index + 1} "{header.cells[index]}"'


def _check_header(header: _Header | None, path: Path, aliases: dict[str, list[str]]) -> _Header:
    if header is None:
        wanted = "; ".join(f"{FIELD_NAMES[f]}: {', '.join(aliases[f][:3])}"
                           for f in ("worker_id", "name"))
        raise StaffListError(
            f"no header row found in {path}: none of the first {HEADER_SCAN_ROWS} rows of any"
            f" sheet names both a worker id and a name column ({wanted}). Check it is the"
            " staff list, or set the header names under [staff.columns] in qaudit.toml.")
    positions: dict[str, list[int]] = {}
    for i, cell in enumerate(header.cells):
        if key := normalise_label(cell):
            positions.setdefault(key, []).append(i)
    used = set(header.mapping.values())
    problems = []
    for field, chosen in header.mapping.items():
        columns = sorted({p for name in aliases[field] for p in
                          positions.get(normalise_label(name), ()) if p == chosen or p not in used})
        if len(columns) > 1:
            listed = " and ".join(_column(header, p) for p in columns)
            problems.append(
                f"{listed} could each be the {FIELD_NAMES[field]}, and qaudit will not guess"
                f" which. Rename or delete the one that is not, or set staff.columns.{field}"
                f' in qaudit.toml to the header of the one to use')
    if problems:
        where = f" of sheet {header.sheet!r}" if header.sheet else ""
        raise StaffListError(f"{path}: in the header row (row {header.index + 1}{where}), "
                             + "; also, ".join(problems) + ".")
    return header


def _xlsx(path: Path, aliases: dict[str, list[str]]) -> tuple[_Header, list[list[Any]]]:
    from python_calamine import CalamineWorkbook

    case_export._check_workbook(path)
    with case_export._calamine_errors(path):
        book = CalamineWorkbook.from_path(str(path))
    try:
        with case_export._calamine_errors(path):
            names = [m.name for m in book.sheets_metadata
                     if str(m.typ).endswith("WorkSheet")] or list(book.sheet_names)
        best: tuple[_Header, Any] | None = None
        for name in names:
            with case_export._calamine_errors(path):
                sheet = book.get_sheet_by_name(name)
                head = sheet.to_python(skip_empty_area=False, nrows=HEADER_SCAN_ROWS)
            found = _find_header(name, head, aliases)
            if found is not None and (best is None or len(found.mapping) > len(best[0].mapping)):
                best = found, sheet
        header = _check_header(best[0] if best else None, path, aliases)
        assert best is not None
        sheet = best[1]
        if sheet.total_height > MAX_STAFF_ROWS + header.index + 1:
            raise StaffListError(
                f"{path}: sheet {header.sheet!r} has {sheet.total_height:,} rows; a staff list"
                f" has fewer than {MAX_STAFF_ROWS:,}. Delete the rows below the list (Ctrl+End"
                " finds the last cell) and try again.")
        with case_export._calamine_errors(path):
            rows: list[list[Any]] = sheet.to_python(skip_empty_area=False)
    finally:
        with contextlib.suppress(Exception):
            book.close()
    return header, rows[header.index + 1:]


def _csv(path: Path, aliases: dict[str, list[str]]) -> tuple[_Header, list[list[Any]]]:
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise StaffListError(
            f"{path} is {case_export._size(size)}, far larger than a staff list; qaudit reads"
            f" staff lists of up to {case_export._size(MAX_CSV_BYTES)}. Check it is the staff"
            " list.")
    text = case_export._decode(path.read_bytes(), path)
    if "\x00" in text:
        raise StaffListError(f"{path} is not a text CSV file. {_AGAIN}")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:65536], ",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows: list[list[Any]] = list(csv.reader(io.StringIO(text, newline=""), dialect))
    except csv.Error as exc:
        why = ("a value in it is far longer than any a staff list holds" if "field limit"
               in str(exc) else "a quotation mark may be left open")
        raise StaffListError(f"{path} is not a well-formed CSV file ({why}). {_AGAIN}") from exc
    if len(rows) > MAX_STAFF_ROWS + HEADER_SCAN_ROWS:
        raise StaffListError(f"{path} has {len(rows):,} lines; a staff list has fewer than"
                             f" {MAX_STAFF_ROWS:,}. Check it is the staff list.")
    header = _check_header(_find_header(None, rows, aliases), path, aliases)
    return header, rows[header.index + 1:]


# --- the values ----------------------------------------------------------------------------


def _value(raw: Any, field: str) -> tuple[str, str | None]:
    """A cell as stored, and what is wrong with it (None if nothing)."""
    text = normalise_id(raw)
    if (m := _HIDDEN.search(text)) is not None:
        return text, (f"holds a hidden control character (U+{ord(m[0]):04X}), which has no"
                      " place in it; retype the value")
    most = MAX_ID if field == "worker_id" else MAX_TEXT
    if len(text) > most:
        return text, (f"is {len(text):,} characters long, where a {FIELD_NAMES[field]} has at"
                      f" most {most}")
    if field in EMAIL_FIELDS and text:
        try:
            return check_email(text), None
        except ValueError as exc:
            return text, f"is not an email address: {exc}"
    return text, None


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def read_staff_list(path: Path, aliases: dict[str, list[str]]) -> StaffList:
    """Read and check a staff list; ``StaffListError`` naming every row, column and value
    that is wrong (nothing of such a file is to be stored)."""
    with _as_staff_list(path):
        kind = case_export._file_kind(path)
        header, rows = (_xlsx if kind == "xlsx" else _csv)(path, aliases)
        sha256 = case_export._sha256(path)
    first = header.index + 2  # the sheet row (csv line) of the first data row
    problems: list[str] = []
    people: list[StaffRow] = []
    skipped: list[SkippedRow] = []
    seen: dict[str, StaffRow] = {}
    for offset, row in enumerate(rows):
        number = first + offset
        values: dict[str, str] = {}
        for field, index in header.mapping.items():
            raw = row[index] if index < len(row) else None
            values[field], problem = _value(raw, field)
            if problem:
                problems.append(f"row {number}, {_column(header, index)}:"
                                f" {_shown(values[field])} {problem}")
        if not any(values.values()):
            continue
        member = StaffMember(**{f: values.get(f, "") for f in STAFF_FIELDS})
        if not member.worker_id or not member.name:
            if member.worker_id.casefold().startswith(("total", "count")):
                continue
            missing = "worker id" if not member.worker_id else "name"
            shown = ", ".join(v for v in values.values() if v)
            skipped.append(SkippedRow(number, f"no {missing}", shown[:120]))
            continue
        before = seen.get(member.worker_id)
        if before is not None:
            if before.member != member:
                problems.append(
                    f"rows {before.row} and {number}: worker id {_shown(member.worker_id)} is"
                    " given twice with different details; keep one row per worker")
            continue
        seen[member.worker_id] = StaffRow(number, member)
        people.append(seen[member.worker_id])
    if problems:
        listed = problems[:MAX_PROBLEMS_LISTED]
        more = len(problems) - len(listed)
        raise StaffListError(
            f"{path} was not imported (nothing of it is stored): {len(problems)} problem(s)."
            " Put each right in the list and import it again.\n"
            + "\n".join(f"  {p}" for p in listed)
            + (f"\n  ... and {more} more" if more else ""))
    if not people and skipped:
        rows_listed = ", ".join(f"row {s.row} has {s.reason}" for s in skipped[:5])
        raise StaffListError(f"{path}: no row has both a worker id and a name ({rows_listed})."
                             " Check the columns, or set [staff.columns] in qaudit.toml.")
    if not people:
        raise StaffListError(f"{path} has a header row but nobody under it. {_AGAIN}")
    return StaffList(
        path=path, sha256=sha256, sheet=header.sheet, header_row=header.index + 1,
        columns={f: header.cells[i] for f, i in header.mapping.items()}, rows=people,
        skipped=skipped, rows_read=len(rows))


def missing_optional(found: dict[str, str]) -> list[str]:
    """The optional fields a list has no column for (their stored values are kept)."""
    return [f for f in STAFF_FIELDS if f in OPTIONAL_STAFF_FIELDS and f not in found]
