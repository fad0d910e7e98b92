"""Reading a staff list: the columns found as the export's are, every email checked, and a
hostile or careless file refused whole with the row, column and value (never a crash).

Every file is built here, small, in a temporary folder; all names are invented.
"""

from __future__ import annotations

import codecs
import zipfile
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
    assert [(s.row, s.reason) for s in staff.skipped] == [(3, "no worker id"), (4, "no name")]
    assert "Agency Worker" in staff.skipped[0].text


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
    ("Jo\u200bLane", "U+200B"),
])
def test_control_characters_refuse_the_file(tmp_path: Path, value: str, code: str) -> None:
    path = xlsx_file(tmp_path / "staff.xlsx", [["Worker ID", "Name"], ["W1", "Ann"],
                                               ["W2", value]])
    message = refusal(path)
    assert 'row 3, column B "Name"' in message and code in message


def test_line_breaks_and_tabs_in_a_name_are_folded_not_refused(tmp_path: Path) -> None:
    path = xlsx_file(tmp_path / "staff.xlsx", [["Worker ID", "Name"], ["W1", "Jo\r\n\tLane"]])
    assert read(path).rows[0].member.name == "Jo Lane"


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
