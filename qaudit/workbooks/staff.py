"""Reading a staff list (xlsx or csv): who works where, their email, and who manages them.

The list comes from HR or is kept by the QA team, so it is read like a case export and with
the same hardened parts (``workbooks.sheet_safety``, ``workbooks.headers``): the file's kind
sniffed from its bytes, a workbook's archive checked before python-calamine opens it, CSV text
decoded only when its encoding is certain (UTF-8, UTF-16, Windows-1252; a file mixing them
refused), and its refusals worded for a staff list. Only the sheets the officer can see are
read (a hidden or very hidden sheet never is), and a workbook with a staff list header on
two of them is refused rather than guessed between (``sheet`` names the one). Its header row
is found in the first rows by the header names of ``[staff.columns]``, compared as the
export's are (``values.normalise_label``), and two columns that could each be one field are
refused rather than guessed between. A CSV file's rows are counted as they are read: one
longer than any staff list is refused there, not parsed whole first.

Then every value is checked, and the whole file is refused, naming each row, column and
value, if any is wrong: an email address qaudit could not send to (``values.checked_email``),
a line break or hidden character in what is one line (``values.HIDDEN_IN_LINE``: a name, a
team, an id, an address), a value far longer than a name or a team, or one worker id given
twice with different details. A row without a worker id or a name cannot be stored and is
listed as not stored (a totals row too, saying so); a row without an email is kept and
listed. Formula-like text (``=HYPERLINK(...)``) is only text here, as it is everywhere.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaudit.config import OPTIONAL_STAFF_FIELDS, STAFF_FIELDS
from qaudit.db.people import StaffMember
from qaudit.errors import ExportError, StaffListError
from qaudit.values import (
    HIDDEN_IN_LINE,
    NotAnEmail,
    checked_email,
    normalise_id,
    normalise_label,
)
from qaudit.workbooks import sheet_safety
from qaudit.workbooks.headers import HEADER_SCAN_ROWS, match_header
from qaudit.workbooks.sheet_extents import column_letters

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
_AGAIN = "Save the staff list again from HR's system or from Excel."
#: A row whose first cell is one of these alone (a trailing colon aside) sums up the list.
_TOTAL_WORDS = frozenset({"total", "totals", "grand total", "count", "sum"})
TOTALS_ROW = "a totals row"
_LINE_BREAKS = "\n\r\x0b\x0c\x85\u2028\u2029"
#: The case export reader's words, and the staff list's for them: its refusals are about
#: the file, not the export. Longer sentences first, so a shorter one never cuts into them.
_STAFF_WORDS = (
    (sheet_safety.AGAIN, _AGAIN),
    (sheet_safety.AGAIN[:-1], _AGAIN[:-1]),
    ("Give the export file itself", "Give the staff list file itself"),
    ("Save or export the report as one of those.", "Save the staff list as one of those."),
    ("otherwise export the report again as .csv", "otherwise save the staff list again as .csv"),
    ("If it came from the case management system, export the report again;",
     "If it came from HR's system, save it from there again;"),
    ("Export the report again, or open it", "Save the staff list again from HR's system, or"
     " open it"),
    ("or export the report again", "or save it again from HR's system"),
    (", or export a shorter date range.", "."),
    ("it is not an export qaudit can read", "it is not a staff list qaudit can read"),
    ("a case export", "a staff list"),
    ("case export", "staff list"),
    ("the case management system", "HR's system"),
)


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


# --- the file ----------------------------------------------------------------------------


@contextlib.contextmanager
def _as_staff_list(path: Path) -> Iterator[None]:
    """The case export reader's refusals, worded for a staff list (the file's name as
    given, whatever words it holds)."""
    try:
        yield
    except ExportError as exc:
        parts = str(exc).split(str(path))
        for export_words, staff_words in _STAFF_WORDS:
            parts = [part.replace(export_words, staff_words) for part in parts]
        raise StaffListError(str(path).join(parts)) from exc


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
        mapping = match_header(row, keys)
        if {"worker_id", "name"} <= mapping.keys() and (
                best is None or len(mapping) > len(best.mapping)):
            best = _Header(sheet, index, mapping, ["" if c is None else str(c).strip()
                                                       for c in row])
    return best


def _column(header: _Header, index: int) -> str:
    letter = column_letters(index + 1)
    return f'column {letter if header.sheet is not None else index + 1} "{header.cells[index]}"'


def _check_header(header: _Header | None, path: Path, aliases: dict[str, list[str]],
                  where: str = "any sheet", unread: str = "") -> _Header:
    """The header found, unless none was, or two of its columns could each be one field.
    ``where`` is what was searched; ``unread`` says what was not (hidden sheets)."""
    if header is None:
        wanted = "; ".join(f"{FIELD_NAMES[f]}: {', '.join(aliases[f][:3])}"
                           for f in ("worker_id", "name"))
        raise StaffListError(
            f"no header row found in {path}: none of the first {HEADER_SCAN_ROWS} rows of"
            f" {where} names both a worker id and a name column ({wanted}){unread}. Check it"
            " is the staff list, or set the header names under [staff.columns] in qaudit.toml.")
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


def _listed(names: Sequence[str]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _sheets(book: Any, path: Path, asked: str | None) -> tuple[list[str], str]:
    """The worksheets to look in for the header (only ones the officer can see: a hidden
    sheet is never read), and a note of the hidden ones left unread, for a refusal."""
    from python_calamine import SheetTypeEnum, SheetVisibleEnum

    with sheet_safety.calamine_errors(path):
        sheets = [(m.name, m.visible == SheetVisibleEnum.Visible) for m in book.sheets_metadata
                  if m.typ == SheetTypeEnum.WorkSheet]
    visible = [name for name, shown in sheets if shown]
    hidden = len(sheets) - len(visible)
    unread = "" if not hidden else (
        f" ({hidden} hidden sheet{' is' if hidden == 1 else 's are'} not read: if the list is"
        " on one, unhide it in Excel first)")
    if asked is None:
        return visible, unread
    wanted = " ".join(asked.split()).casefold()
    chosen = [name for name, _ in sheets if " ".join(name.split()).casefold() == wanted]
    if not chosen:
        raise StaffListError(f"{path} has no sheet {asked!r}; its sheets are"
                             f" {_listed(visible)}." if visible else
                             f"{path} has no sheet {asked!r}, and no sheet anyone can see.")
    if chosen[0] not in visible:
        raise StaffListError(
            f"{path}: sheet {chosen[0]!r} is hidden, and qaudit reads only what can be seen"
            " in Excel. If it is the staff list, unhide it (right-click a sheet tab >"
            " Unhide), check it, save, and import again.")
    return chosen[:1], ""


def _xlsx(path: Path, aliases: dict[str, list[str]], asked: str | None
          ) -> tuple[_Header, list[list[Any]]]:
    from python_calamine import CalamineWorkbook

    sheet_safety.check_workbook(path)
    with sheet_safety.calamine_errors(path):
        book = CalamineWorkbook.from_path(str(path))
    try:
        names, unread = _sheets(book, path, asked)
        found: list[tuple[_Header, Any]] = []
        for name in names:
            with sheet_safety.calamine_errors(path):
                sheet = book.get_sheet_by_name(name)
                head = sheet.to_python(skip_empty_area=False, nrows=HEADER_SCAN_ROWS)
            if (header := _find_header(name, head, aliases)) is not None:
                found.append((header, sheet))
        if len(found) > 1:
            sheets = [f"{h.sheet!r} (header on row {h.index + 1})" for h, _ in found]
            raise StaffListError(
                f"{path}: sheets {', '.join(sheets[:-1])} and {sheets[-1]} each hold a staff"
                " list header row, and qaudit will not guess which to import. Name the one to"
                f" import with --sheet, e.g. --sheet {found[0][0].sheet!r}.")
        where = f"sheet {names[0]!r}" if asked is not None else "any sheet"
        header = _check_header(found[0][0] if found else None, path, aliases, where, unread)
        sheet = found[0][1]
        if sheet.total_height > MAX_STAFF_ROWS + header.index + 1:
            raise StaffListError(
                f"{path}: sheet {header.sheet!r} has {sheet.total_height:,} rows; a staff list"
                f" has fewer than {MAX_STAFF_ROWS:,}. Delete the rows below the list (Ctrl+End"
                " finds the last cell) and try again.")
        with sheet_safety.calamine_errors(path):
            rows: list[list[Any]] = sheet.to_python(skip_empty_area=False)
    finally:
        with contextlib.suppress(Exception):
            book.close()
    return header, rows[header.index + 1:]


def _lines(text: str) -> Iterator[str]:
    """The lines of a text, each with its line ending (so a quoted value may run over
    several), without copying the text whole as ``io.StringIO`` would."""
    if "\n" not in text:
        text = text.replace("\r", "\n")  # saved with classic Mac line endings
    start, end = 0, len(text)
    while start < end:
        stop = text.find("\n", start)
        stop = end if stop < 0 else stop + 1
        yield text[start:stop]
        start = stop


def _csv(path: Path, aliases: dict[str, list[str]], asked: str | None
         ) -> tuple[_Header, list[list[Any]]]:
    if asked is not None:
        raise StaffListError(f"--sheet {asked!r} names a sheet of a workbook, but {path} is"
                             " CSV text, which has no sheets; import it without --sheet.")
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise StaffListError(
            f"{path} is {sheet_safety.size_text(size)}, far larger than a staff list; qaudit"
            f" reads staff lists of up to {sheet_safety.size_text(MAX_CSV_BYTES)}. Check it is"
            " the staff list.")
    text = sheet_safety.decode(path.read_bytes(), path)
    if "\x00" in text:
        raise StaffListError(f"{path} is not a text CSV file. {_AGAIN}")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:65536], ",;\t|")
    except csv.Error:
        dialect = csv.excel
    most = MAX_STAFF_ROWS + HEADER_SCAN_ROWS
    rows: list[list[Any]] = []
    try:
        for row in csv.reader(_lines(text), dialect):
            if len(rows) == most:  # counted as read: nothing past the limit is parsed
                lines = text.count("\n") or text.count("\r")
                lines += not text.endswith(("\n", "\r"))
                raise StaffListError(f"{path} has {lines:,} lines; a staff list has fewer"
                                     f" than {MAX_STAFF_ROWS:,}. Check it is the staff list.")
            rows.append(row)
    except csv.Error as exc:
        why = ("a value in it is far longer than any a staff list holds" if "field limit"
               in str(exc) else "a quotation mark may be left open")
        raise StaffListError(f"{path} is not a well-formed CSV file ({why}). {_AGAIN}") from exc
    header = _check_header(_find_header(None, rows, aliases), path, aliases)
    return header, rows[header.index + 1:]


# --- the values ----------------------------------------------------------------------------


def _hidden(char: str) -> str:
    what = ("a line break" if char in _LINE_BREAKS else "a tab" if char == "\t"
            else "a hidden character")
    return (f"holds {what} (U+{ord(char):04X}), which has no place in a one-line value; retype"
            " it on one line")


def _value(raw: Any, field: str) -> tuple[str, str | None]:
    """A cell as stored, and what is wrong with it (None if nothing). Every field is one
    line: trimmed at its ends, a line break or hidden character left in it is refused, never
    folded into a space (a name "Jude<CR><LF>Bcc: ..." must not pass as "Jude Bcc: ...")."""
    if isinstance(raw, str) and (m := HIDDEN_IN_LINE.search(raw.strip())) is not None:
        return raw.strip(), _hidden(m[0])
    text = normalise_id(raw)
    most = MAX_ID if field == "worker_id" else MAX_TEXT
    if len(text) > most:
        return text, (f"is {len(text):,} characters long, where a {FIELD_NAMES[field]} has at"
                      f" most {most}")
    if field in EMAIL_FIELDS and text:
        try:
            return checked_email(text), None
        except NotAnEmail as exc:
            return text, f"is not an email address: {exc}"
    return text, None


def _totals_row(row: Sequence[Any]) -> bool:
    """Whether a row sums the list up: its first cell with anything in it is "Total",
    "Totals", "Count" (...) alone. An id that only starts so ("Count-42") is not."""
    first = next((text for cell in row if (text := normalise_id(cell))), "")
    return first.casefold().rstrip(":").strip() in _TOTAL_WORDS


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def read_staff_list(path: Path, aliases: dict[str, list[str]],
                    sheet: str | None = None) -> StaffList:
    """Read and check a staff list (of a workbook, the one visible sheet with a staff list
    header, or ``sheet``); ``StaffListError`` naming every row, column and value that is
    wrong (nothing of such a file is to be stored)."""
    with _as_staff_list(path):
        kind = sheet_safety.file_kind(path)
        header, rows = (_xlsx if kind == "xlsx" else _csv)(path, aliases, sheet)
        sha256 = sheet_safety.sha256(path)
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
            why = (TOTALS_ROW if _totals_row(row) else
                   "no worker id" if not member.worker_id else "no name")
            shown = ", ".join(v for v in values.values() if v)
            skipped.append(SkippedRow(number, why, shown[:120]))
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
        rows_listed = ", ".join(f"row {s.row} {'is' if s.reason == TOTALS_ROW else 'has'}"
                                f" {s.reason}" for s in skipped[:5])
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
