"""Reading a staff list: the columns found as the export's are, every email checked, and a
hostile or careless file refused whole with the row, column and value (never a crash).

Every file is built here, small, in a temporary folder; all names are invented.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from qaudit.config import Settings
from qaudit.db.people import StaffMember
from qaudit.errors import StaffListError
from qaudit.workbooks import staff as staff_reader
from qaudit.workbooks.cells import put
from qaudit.workbooks.staff import StaffList, read_staff_list

COLUMNS = Settings().staff.columns
HEADERS = ["Worker ID", "Name", "Email", "Team", "Role", "Line Manager", "Line Manager Email",
           "Service Manager", "Service Manager Email"]
JO = ["W1001", "Jo Lane", "jo.lane@example.org", "Mid Team", "Social Worker", "Ann Reid",
      "ann.reid@example.org", "Hana Cole", "hana.cole@example.org"]
SAM = ["W1002", "Sam Okafor", "", "Mid Team", "Senior Practitioner", "Ann Reid",
       "ann.reid@example.org", "Hana Cole", "hana.cole@example.org"]
#: Library internals a message must never show.
INTERNALS = ("Traceback", "calamine", "BadZipFile", "EmailNotValidError", "Error tokenizing",
             "case export", "case management system")


def csv_file(path: Path, rows: list[list[Any]], encoding: str = "utf-8",
             delimiter: str = ",") -> Path:
    text = "\r\n".join(delimiter.join(str(v) for v in row) for row in rows) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path


def xlsx_file(path: Path, rows: list[list[Any]], title_rows: int = 0,
              cover: bool = False, formulas: bool = False) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    if cover:
        ws.title = "Cover"
        ws.append(["Staff list, Adult Social Care", "run 01/11/2026"])
        ws = wb.create_sheet("Staff")
    for i in range(title_rows):
        ws.append([f"Report line {i + 1}"])
    start = ws.max_row + 1 if title_rows or cover else 1
    for r, row in enumerate(rows, start=start):
        for c, value in enumerate(row, start=1):
            if isinstance(value, str) and value.startswith("=") and formulas:
                ws.cell(r, c).value = value  # a real formula, as a person would type it
            else:
                put(ws, f"{get_column_letter(c)}{r}", value)  # text stays text
    wb.save(path)
    return path


def read(path: Path) -> StaffList:
    return read_staff_list(path, COLUMNS)


def refusal(path: Path) -> str:
    with pytest.raises(StaffListError) as refused:
        read(path)
    message = str(refused.value)
    for word in INTERNALS:
        assert word not in message, f"{word!r} in {message!r}"
    return message


# --- what a good list gives ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_every_field_is_found_by_its_header_and_read_as_typed(tmp_path: Path, kind: str) -> None:
    rows = [HEADERS, JO, SAM]
    path = (csv_file(tmp_path / "staff.csv", rows) if kind == "csv"
            else xlsx_file(tmp_path / "staff.xlsx", rows, title_rows=2, cover=True))
    staff = read(path)
    assert [r.member for r in staff.rows] == [StaffMember(*JO), StaffMember(*SAM)]
    assert staff.columns["line_manager_email"] == "Line Manager Email"
    assert staff.header_row == (1 if kind == "csv" else 3)
    assert staff.sheet == (None if kind == "csv" else "Staff")
    assert [r.member.worker_id for r in staff.without_email] == ["W1002"]
    assert [r.row for r in staff.without_email] == [3 if kind == "csv" else 5]


def test_other_header_names_and_a_list_with_only_id_and_name(tmp_path: Path) -> None:
    path = csv_file(tmp_path / "hr.csv", [["Employee ID", "Full Name"], ["1001", "Jo Lane"]])
    staff = read(path)
    assert staff.rows[0].member == StaffMember("1001", "Jo Lane")
    assert staff.columns == {"worker_id": "Employee ID", "name": "Full Name"}


def test_ids_stored_as_numbers_are_the_export_s_ids(tmp_path: Path) -> None:
    path = xlsx_file(tmp_path / "staff.xlsx", [["Staff ID", "Name"], [123456, "Jo Lane"],
                                               [123457.0, "Sam Okafor"]])
    assert [r.member.worker_id for r in read(path).rows] == ["123456", "123457"]


def test_emails_are_stored_in_their_normal_form(tmp_path: Path) -> None:
    path = csv_file(tmp_path / "staff.csv", [["Worker ID", "Name", "Email"],
                                             ["W1", "Jo Lane", " Jo.Lane@Example.ORG "]])
    assert read(path).rows[0].member.email == "Jo.Lane@example.org"


def test_rows_without_a_worker_id_or_name_are_listed_not_stored(tmp_path: Path) -> None:
    path = csv_file(tmp_path / "staff.csv", [
        HEADERS, JO, ["", "Agency Worker", "agency@example.org", "Mid Team"],
        ["W1003", "", "", "Mid Team"], [""] * 9, ["Total", "", "", ""]])
    staff = read(path)
    assert [r.member.worker_id for r in staff.rows] == ["W1001"]
    assert [(s.row, s.reason) for s in staff.skipped] == [
        (3, "no worker id"), (4, "no name"), (6, "a totals row")]
    assert "Agency Worker" in staff.skipped[0].text


def test_only_a_totals_row_is_taken_for_one_and_every_row_not_stored_is_listed(
    tmp_path: Path,
) -> None:
    """An id that merely starts like "total" or "count" is somebody's row, never dropped
    unseen; a row whose first cell is "Total", "Totals" or "Count" alone is a totals row."""
    path = csv_file(tmp_path / "staff.csv", [
        HEADERS, JO, ["Count-42", "", "c42@example.org"], ["Totally Real", ""],
        ["Totals", "", "", "", "2"], ["", "", "", "Count:", "2"],
        ["TOTAL", "Tom Hale"]])
    staff = read(path)
    assert [r.member.worker_id for r in staff.rows] == ["W1001", "TOTAL"]
    assert [(s.row, s.reason) for s in staff.skipped] == [
        (3, "no name"), (4, "no name"), (5, "a totals row"), (6, "a totals row")]
    assert "Count-42" in staff.skipped[0].text and "Totally Real" in staff.skipped[1].text


def test_the_same_person_twice_is_one_row(tmp_path: Path) -> None:
    staff = read(csv_file(tmp_path / "staff.csv", [HEADERS, JO, JO]))
    assert len(staff.rows) == 1


def test_formula_like_names_stay_text(tmp_path: Path) -> None:
    name = '=HYPERLINK("http://evil.example","Jo")'
    path = csv_file(tmp_path / "staff.csv", [["Worker ID", "Name", "Team"],
                                             ["W1", f'"{name.replace(chr(34), 2 * chr(34))}"',
                                              "+Plus Team"], ["W2", "@Sam", "-Team"]])
    members = [r.member for r in read(path).rows]
    assert [(m.name, m.team) for m in members] == [(name, "+Plus Team"), ("@Sam", "-Team")]


def test_a_real_formula_cell_gives_its_value_never_the_formula(tmp_path: Path) -> None:
    path = xlsx_file(tmp_path / "staff.xlsx", [["Worker ID", "Name", "Email"],
                                               ["W1", '=HYPERLINK("http://evil.example","Jo")',
                                                "jo@example.org"], ["W2", "Sam", ""]],
                     formulas=True)
    staff = read(path)
    # openpyxl stores no value for it: no name, so the row is listed, not stored.
    assert [r.member.name for r in staff.rows] == ["Sam"]
    assert [(s.row, s.reason) for s in staff.skipped] == [(2, "no name")]
    only = xlsx_file(tmp_path / "only.xlsx", [["Worker ID", "Name"], ["W1", "=1+1"]],
                     formulas=True)
    assert "no row has both a worker id and a name (row 2 has no name)" in refusal(only)


# --- refusals: every one names row, column and value; nothing of the file is taken ----------


@pytest.mark.parametrize(("field", "value", "why"), [
    ("Email", "jo.lane@@example.org", "is not an email address"),
    ("Email", "Jo Lane <jo.lane@example.org>", "display name"),
    ("Email", "jo.lane@example", "is not an email address"),
    ("Line Manager Email", '=HYPERLINK("mailto:x@example.org")', "must have an @-sign"),
    ("Service Manager Email", "hana cole@example.org", "invalid characters"),
])
def test_a_bad_email_refuses_the_file_naming_row_column_and_value(
    tmp_path: Path, field: str, value: str, why: str,
) -> None:
    bad = list(SAM)
    bad[HEADERS.index(field)] = value
    path = xlsx_file(tmp_path / "staff.xlsx", [HEADERS, JO, bad])
    message = refusal(path)
    column = "ABCDEFGHI"[HEADERS.index(field)]
    assert f'row 3, column {column} "{field}": {value!r}' in message
    assert why in message and "nothing of it is stored" in message


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    rows = [HEADERS, *([f"W{i}", f"Person {i}", f"bad{i}@", "T"] for i in range(30))]
    message = refusal(csv_file(tmp_path / "staff.csv", rows))
    assert "30 problem(s)" in message and "row 2, column 3" in message
    assert "and 10 more" in message


@pytest.mark.parametrize(("value", "code"), [
    ("Jo\x1b[31mLane", "U+001B"), ("Jo\u202eenaL", "U+202E"), ("Jo\x00Lane", "U+0000"),
    ("Jo\u200bLane", "U+200B"), ("Jo\U000e0041Lane", "U+E0041"), ("Jo\ufeffLane", "U+FEFF"),
    ("Jo\x1fLane", "U+001F"), ("Jo\x85Lane", "U+0085"),
])
def test_control_characters_refuse_the_file(tmp_path: Path, value: str, code: str) -> None:
    path = xlsx_file(tmp_path / "staff.xlsx", [["Worker ID", "Name"], ["W1", "Ann"],
                                               ["W2", value]])
    message = refusal(path)
    assert 'row 3, column B "Name"' in message and code in message


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@pytest.mark.parametrize(("column", "value"), [
    (1, "Jude\r\nBcc: evil@example.com"), (3, "Mid\nTeam"), (0, "W\u20281"),
    (1, "Jo\tLane"),
])
def test_a_line_break_in_a_one_line_value_is_refused_not_folded(
    tmp_path: Path, kind: str, column: int, value: str,
) -> None:
    """A name, team or id is one line: "Jude<CR><LF>Bcc: ..." is refused with its row and
    column, never stored as "Jude Bcc: ...", which would pass as a name."""
    row = ["W1", "Jude Law", "", "South Team"]
    row[column] = value
    rows = [HEADERS[:4], ["W0", "Ann Reid", "ann.reid@example.org", "Mid Team"], row]
    if kind == "csv":
        path = tmp_path / "staff.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    else:
        path = xlsx_file(tmp_path / "staff.xlsx", rows)
    message = refusal(path)
    letter = "ABCD"[column] if kind == "xlsx" else str(column + 1)
    assert f'row 3, column {letter} "{HEADERS[column]}": {value!r}' in message
    assert ("a tab" if "\t" in value else "a line break") in message
    assert "nothing of it is stored" in message


@pytest.mark.parametrize(("typed", "why"), [
    ("zoë.lane@example.org", "is not an email address"),  # no relay without SMTPUTF8 takes it
    ("jo.lane@exa\u200bmple.org", "hidden"),
    ("jo.lane@example.org\u202e", "hidden"),
])
def test_an_address_qaudit_could_not_send_to_is_refused(tmp_path: Path, typed: str,
                                                        why: str) -> None:
    path = xlsx_file(tmp_path / "staff.xlsx", [HEADERS[:3], ["W1", "Jo Lane", typed]])
    message = refusal(path)
    assert 'row 2, column C "Email"' in message and why in message


def test_an_international_domain_is_stored_in_its_ascii_form(tmp_path: Path) -> None:
    path = csv_file(tmp_path / "staff.csv", [HEADERS[:3], ["W1", "Jo Lane",
                                                           "Jo.Lane@Bücher.example.org"]])
    assert read(path).rows[0].member.email == "Jo.Lane@xn--bcher-kva.example.org"


def test_huge_values_are_refused_not_stored(tmp_path: Path) -> None:
    path = xlsx_file(tmp_path / "staff.xlsx", [["Worker ID", "Name", "Team"],
                                               ["W1", "Jo Lane", "T" * 30_000],
                                               ["W" * 100, "Sam", ""]])
    message = refusal(path)
    assert "is 30,000 characters long, where a team has at most 200" in message
    assert "row 3, column A" in message and "TTTT..." in message
    assert "T" * 100 not in message


def test_a_csv_field_longer_than_any_is_refused(tmp_path: Path) -> None:
    path = csv_file(tmp_path / "staff.csv", [["Worker ID", "Name"], ["W1", "x" * 200_000]])
    assert "far longer than any a staff list holds" in refusal(path)


def test_one_worker_id_with_two_different_rows_is_refused(tmp_path: Path) -> None:
    other = [JO[0], "Joanne Lane", *JO[2:]]
    message = refusal(csv_file(tmp_path / "staff.csv", [HEADERS, JO, SAM, other]))
    assert "rows 2 and 4: worker id 'W1001' is given twice" in message


def test_two_columns_that_could_each_be_the_email_are_refused(tmp_path: Path) -> None:
    path = xlsx_file(tmp_path / "staff.xlsx", [["Worker ID", "Name", "Email", "Work Email"],
                                               ["W1", "Jo", "jo@example.org", "j@example.org"]])
    message = refusal(path)
    assert 'column C "Email" and column D "Work Email" could each be the email' in message
    assert "staff.columns.email" in message


def test_no_header_says_which_columns_are_looked_for(tmp_path: Path) -> None:
    message = refusal(csv_file(tmp_path / "staff.csv", [["Person", "Address"], ["x", "y"]]))
    assert "names both a worker id and a name column" in message
    assert "[staff.columns]" in message


def test_a_header_without_anyone_under_it_is_refused(tmp_path: Path) -> None:
    assert "nobody under it" in refusal(csv_file(tmp_path / "staff.csv", [HEADERS]))


@pytest.mark.parametrize(("name", "content", "says"), [
    ("staff.xlsx", b"Worker ID,Name\r\nW1,Jo\r\n", "not an Excel workbook, whatever its name"),
    ("staff.xlsx", b"", "is empty"),
    ("staff.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old-style .xls"),
    ("staff.pdf", b"%PDF-1.7", "qaudit reads .xlsx, .xlsm and .csv"),
    ("staff.xlsx", b"PK\x03\x04" + b"\0" * 40, "damaged"),
])
def test_a_file_that_is_not_a_staff_list_is_refused_in_words(
    tmp_path: Path, name: str, content: bytes, says: str,
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    message = refusal(path)
    assert says in message


def test_a_zip_that_is_no_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "staff.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("staff.csv", "Worker ID,Name\r\nW1,Jo\r\n")
    message = refusal(path)
    assert "zip file but not an Excel workbook" in message
    assert "Save the staff list again" in message


def test_a_zip_bomb_named_xlsx_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    path = xlsx_file(tmp_path / "staff.xlsx", [HEADERS, JO])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", bytes(80 * 1024**2))
    message = refusal(path)
    assert "zip bomb" in message and "A real staff list expands" in message


def test_a_stray_cell_far_out_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = xlsx_file(tmp_path / "staff.xlsx", [HEADERS, JO])
    from openpyxl import load_workbook

    wb = load_workbook(path)
    sheet = wb.active
    assert sheet is not None
    sheet["XFD1048576"] = "oops"
    wb.save(path)
    assert "XFD1048576" in refusal(path)


# --- encodings ---------------------------------------------------------------------------


def test_utf16_tab_separated_text_as_excel_saves_unicode_text(tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    rows = [["Worker ID", "Name", "Team"], ["W1", "José Núñez", "Équipe Mid"]]
    text = "\r\n".join("\t".join(r) for r in rows) + "\r\n"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert read(path).rows[0].member.name == "José Núñez"


def test_windows_1252_text_is_read(tmp_path: Path) -> None:
    path = csv_file(tmp_path / "staff.csv", [["Worker ID", "Name"], ["W1", "José Núñez"]],
                    encoding="cp1252")
    assert read(path).rows[0].member.name == "José Núñez"


def test_a_csv_mixing_utf8_and_windows_1252_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_bytes("Worker ID,Name\r\nW1,José\r\n".encode()
                     + "W2,Zoë\r\n".encode("cp1252"))
    message = refusal(path)
    assert "mixes text encodings" in message and "line 3" in message


# --- anything at all: a list, or a refusal in words -----------------------------------------

cell_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(cell_text, min_size=1, max_size=5), min_size=1, max_size=6))
def test_any_cells_give_a_list_or_a_clean_refusal(tmp_path: Path, body: list[list[str]]) -> None:
    path = tmp_path / "fuzz.xlsx"
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for r, row in enumerate([["Worker ID", "Name", "Email"], *body], start=1):
        for c, value in enumerate(row):
            put(ws, f"{'ABCDE'[c]}{r}", value)
    wb.save(path)
    try:
        staff = read(path)
    except StaffListError as exc:
        assert "Traceback" not in str(exc)
        return
    for row in staff.rows:
        assert row.member.worker_id and row.member.name
        assert all("\x1b" not in v and len(v) <= 200 for v in vars(row.member).values())


# --- which sheet: only what the officer can see, and never a guess between two ---------------


def sheets_file(path: Path, sheets: list[tuple[str, str, list[list[Any]]]]) -> Path:
    """A workbook of (title, state, rows) sheets; state is visible, hidden or veryHidden."""
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    for title, state, rows in sheets:
        ws = wb.create_sheet(title)
        ws.sheet_state = state
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                put(ws, f"{get_column_letter(c)}{r}", value)
    wb.active = next(i for i, s in enumerate(sheets) if s[1] == "visible")
    wb.save(path)
    return path


EVIL = ["W666", "Jo Lane", "attacker@example.com", "Mid Team", "Social Worker", "Ann Reid",
        "attacker@example.com", "Hana Cole", "attacker@example.com"]


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_sheet_is_never_read(tmp_path: Path, state: str) -> None:
    """The officer checks the list they can see: a hidden sheet (even one with more
    columns, which would otherwise win) is not read."""
    path = sheets_file(tmp_path / "staff.xlsx", [
        ("Staff", "visible", [HEADERS[:2], JO[:2]]),
        ("Shadow", state, [HEADERS, EVIL])])
    staff = read(path)
    assert staff.sheet == "Staff"
    assert [r.member for r in staff.rows] == [StaffMember("W1001", "Jo Lane")]


def test_a_list_only_on_a_hidden_sheet_is_refused_saying_so(tmp_path: Path) -> None:
    path = sheets_file(tmp_path / "staff.xlsx", [
        ("Cover", "visible", [["Staff list"]]), ("Staff", "hidden", [HEADERS, JO])])
    message = refusal(path)
    assert "no header row found" in message and "1 hidden sheet is not read" in message
    assert "'Staff'" not in message  # what is hidden is not named either


def test_two_visible_sheets_with_a_staff_header_are_refused_naming_both(
    tmp_path: Path,
) -> None:
    path = sheets_file(tmp_path / "staff.xlsx", [
        ("Staff", "visible", [HEADERS, JO]),
        ("Leavers", "visible", [["Leavers, 2026"], HEADERS[:3], SAM[:3]])])
    message = refusal(path)
    assert "sheets 'Staff' (header on row 1) and 'Leavers' (header on row 2)" in message
    assert "will not guess" in message and "--sheet 'Staff'" in message
    chosen = read_staff_list(path, COLUMNS, sheet="leavers")
    assert (chosen.sheet, [r.member.worker_id for r in chosen.rows]) == ("Leavers", ["W1002"])
    assert read_staff_list(path, COLUMNS, sheet=" Staff ").rows[0].member == StaffMember(*JO)


@pytest.mark.parametrize(("sheet", "says"), [
    ("Starters", "has no sheet 'Starters'; its sheets are 'Staff' and 'Leavers'"),
    ("Shadow", "sheet 'Shadow' is hidden"),
    ("Leavers", "none of the first 50 rows of sheet 'Leavers' names both"),
])
def test_a_sheet_asked_for_that_cannot_be_read_is_refused_in_words(
    tmp_path: Path, sheet: str, says: str,
) -> None:
    path = sheets_file(tmp_path / "staff.xlsx", [
        ("Staff", "visible", [HEADERS, JO]), ("Leavers", "visible", [["nobody yet"]]),
        ("Shadow", "veryHidden", [HEADERS, EVIL])])
    with pytest.raises(StaffListError, match=re.escape(says)):
        read_staff_list(path, COLUMNS, sheet=sheet)


def test_a_sheet_asked_for_in_a_csv_file_is_refused(tmp_path: Path) -> None:
    path = csv_file(tmp_path / "staff.csv", [HEADERS, JO])
    with pytest.raises(StaffListError, match="is CSV text, which has no sheets"):
        read_staff_list(path, COLUMNS, sheet="Staff")


# --- a file far larger than a staff list ----------------------------------------------------


def test_a_csv_longer_than_any_staff_list_is_refused_as_soon_as_the_limit_is_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows are counted while they are read: past the limit nothing more is parsed (a 63 MB
    file of 3 million lines once took 11 s and 1.3 GB before it was refused)."""
    lines = staff_reader.MAX_STAFF_ROWS + staff_reader.HEADER_SCAN_ROWS + 5_000
    path = tmp_path / "staff.csv"
    path.write_text("Worker ID,Name\n" + "".join(f"W{i},P{i}\n" for i in range(lines)),
                    encoding="utf-8")
    parsed = 0
    reader = csv.reader

    def counting(*args: Any, **kwargs: Any) -> Iterator[list[str]]:
        nonlocal parsed
        for row in reader(*args, **kwargs):
            parsed += 1
            yield row

    monkeypatch.setattr(staff_reader.csv, "reader", counting)
    message = refusal(path)
    assert f"has {lines + 1:,} lines; a staff list has fewer than 100,000" in message
    assert parsed <= staff_reader.MAX_STAFF_ROWS + staff_reader.HEADER_SCAN_ROWS + 1


# --- every refusal speaks of the staff list --------------------------------------------------


def _zip(path: Path, parts: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return path


def _good_parts(tmp_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(xlsx_file(tmp_path / "good.xlsx", [HEADERS, JO])) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "staff.xlsx").mkdir()
    return tmp_path / "staff.xlsx"


def _named(name: str, content: bytes) -> Callable[[Path], Path]:
    def build(tmp_path: Path) -> Path:
        (tmp_path / name).write_bytes(content)
        return tmp_path / name
    return build


def _workbook_named_csv(tmp_path: Path) -> Path:
    return _zip(tmp_path / "staff.csv", _good_parts(tmp_path))


def _not_a_workbook(tmp_path: Path) -> Path:
    return _zip(tmp_path / "staff.xlsx", {"word/document.xml": b"<x/>"})


def _many_parts(tmp_path: Path) -> Path:
    parts = _good_parts(tmp_path) | {f"xl/media/p{i}.bin": b"" for i in range(2_001)}
    return _zip(tmp_path / "staff.xlsx", parts, zipfile.ZIP_STORED)


def _odd_compression(tmp_path: Path) -> Path:
    return _zip(tmp_path / "staff.xlsx", _good_parts(tmp_path), zipfile.ZIP_BZIP2)


def _bomb(tmp_path: Path) -> Path:
    path = xlsx_file(tmp_path / "staff.xlsx", [HEADERS, JO])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", bytes(80 * 1024**2))
    return path


def _stretched(tmp_path: Path) -> Path:
    from openpyxl import load_workbook

    path = xlsx_file(tmp_path / "staff.xlsx", [HEADERS, JO])
    wb = load_workbook(path)
    assert wb.active is not None
    wb.active["IZ9"] = "far"
    wb.save(path)
    return path


def _doctype(tmp_path: Path) -> Path:
    parts = _good_parts(tmp_path)
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = b"<!DOCTYPE x>" + parts[sheet]
    return _zip(tmp_path / "staff.xlsx", parts)


def _cut_short(tmp_path: Path) -> Path:
    path = xlsx_file(tmp_path / "staff.xlsx", [HEADERS, JO])
    path.write_bytes(path.read_bytes()[:1500])
    return path


def _unreadable_xml(tmp_path: Path) -> Path:
    parts = _good_parts(tmp_path)
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = parts[sheet].replace(b"Jo Lane", b"&unknown;")
    return _zip(tmp_path / "staff.xlsx", parts)


def _mixed_encodings(tmp_path: Path) -> Path:
    path = tmp_path / "staff.csv"
    path.write_bytes("Worker ID,Name\r\nW1,José\r\n".encode() + "W2,Zoë\r\n".encode("cp1252"))
    return path


def _broken_utf16(tmp_path: Path) -> Path:
    path = tmp_path / "staff.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "Worker ID\tName\r\n".encode("utf-16-le") + b"\x00")
    return path


@pytest.mark.parametrize("build", [
    _folder, _named("staff.pdf", b"%PDF-1.7"), _named("staff.xlsx", b""),
    _named("staff.xlsx", b"Worker ID,Name\r\n"), _workbook_named_csv, _not_a_workbook,
    _many_parts, _odd_compression, _bomb, _stretched, _doctype, _cut_short, _unreadable_xml,
    _mixed_encodings, _broken_utf16,
], ids=lambda b: getattr(b, "__name__", "named").strip("_"))
def test_every_refusal_of_the_file_speaks_of_the_staff_list(
    tmp_path: Path, build: Callable[[Path], Path],
) -> None:
    """The file checks are the case export's; their words are the staff list's."""
    path = build(tmp_path)
    words = refusal(path).replace(str(path), "FILE")
    assert not re.search(r"export|report|case management", words, re.IGNORECASE), words
    assert re.search("staff list|HR's system|Check the path", words), words


def test_a_workbook_too_large_for_memory_speaks_of_the_staff_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import python_calamine

    class Short:
        @staticmethod
        def from_path(path: str) -> None:
            raise MemoryError

    monkeypatch.setattr(python_calamine, "CalamineWorkbook", Short)
    path = xlsx_file(tmp_path / "staff.xlsx", [HEADERS, JO])
    message = refusal(path)
    assert "too large to read in the memory" in message
    assert not re.search(r"export|report", message.replace(str(path), "FILE"), re.IGNORECASE)
