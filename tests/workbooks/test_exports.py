"""Reading messy case exports: every fixture is named after the mess it covers."""

from __future__ import annotations

import codecs
import csv
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from qaudit.config import Settings, parse_settings
from qaudit.errors import ExportError
from qaudit.values import normalise_id, parse_date
from qaudit.workbooks.case_export import read_export
from qaudit.workbooks.export_values import (
    BAD_DATE,
    BAD_QUADRANT,
    BAD_TYPE,
    BLANK,
    DUPLICATE,
    NO_DATE,
    NO_PERSON,
    NO_RECORD,
    TOTAL,
)

SETTINGS = Settings()


def read(name: str, **kw: object):  # type: ignore[no-untyped-def]
    return read_export(FIXTURES / name, SETTINGS, **kw)  # type: ignore[arg-type]


def test_clean_export_is_read_whole() -> None:
    export = read("clean.xlsx")
    assert export.header_row == 1 and export.sheet == "Report"
    assert len(export.cases) == 24
    assert export.unusable_counts == {BAD_TYPE: 4}
    assert set(export.cases["audit_type"]) == set(SETTINGS.audit_types)
    assert set(export.cases["quadrant"]) == set(SETTINGS.quadrants)
    assert len(export.sha256) == 64


def test_header_is_found_below_titles_on_the_right_sheet() -> None:
    export = read("title_rows_and_cover_sheet.xlsx")
    assert (export.sheet, export.header_row) == ("Report", 4)
    assert len(export.cases) == 24
    assert export.unusable_counts == {BLANK: 2, TOTAL: 1}
    total = export.unusable[export.unusable["reason"] == TOTAL]
    assert total["source_row"].tolist() == [31]


def test_source_rows_are_the_rows_a_user_sees_in_excel() -> None:
    export = read("title_rows_and_cover_sheet.xlsx")
    assert export.cases["source_row"].iloc[0] == 5


def test_sheet_option_overrides_and_unknown_sheet_lists_the_sheets() -> None:
    assert read("title_rows_and_cover_sheet.xlsx", sheet="Report").header_row == 4
    with pytest.raises(ExportError, match="its sheets are Cover, Report, Notes"):
        read("title_rows_and_cover_sheet.xlsx", sheet="Data")
    with pytest.raises(ExportError, match="no header row found"):
        read("title_rows_and_cover_sheet.xlsx", sheet="Cover")


def test_differently_named_columns_are_recognised() -> None:
    export = read("renamed_columns.xlsx")
    assert export.columns["person_id"] == "Client ID"
    assert export.columns["completed_date"] == "Date Completed"
    assert len(export.cases) + sum(export.unusable_counts.values()) == 20
    assert len(export.cases) > 0


def test_uk_text_dates_are_never_month_first() -> None:
    export = read("uk_text_dates.csv")
    days = set(export.cases["completed_date"].dt.date)
    assert {date(2026, 10, 5), date(2026, 4, 5), date(2026, 4, 13), date(2026, 12, 1),
            date(2026, 10, 2), date(2026, 10, 1)} <= days
    assert date(2026, 5, 10) not in days


def test_one_id_however_it_is_stored() -> None:
    export = read("ids_as_numbers_and_text.xlsx")
    assert (export.cases["person_id"].iloc[:5] == "123456").all()
    assert "3100057" in set(export.cases["record_id"])


def test_unusable_rows_are_counted_by_reason_and_listed() -> None:
    export = read("problem_rows.xlsx")
    assert len(export.cases) == 12
    assert export.unusable_counts == {
        NO_RECORD: 1, NO_PERSON: 1, BAD_DATE: 2, BAD_TYPE: 1, BAD_QUADRANT: 1, DUPLICATE: 2,
    }
    listed = export.unusable.set_index("reason")
    assert set(listed.loc[BAD_DATE, "detail"]) == {"31/02/2026", "TBC"}
    assert listed.loc[BAD_QUADRANT, "detail"] == "Atlantis"
    duplicates = export.unusable[export.unusable["reason"] == DUPLICATE]
    assert all(d.startswith("first seen on row ") for d in duplicates["detail"])


def test_missing_column_names_headers_found_and_the_setting() -> None:
    with pytest.raises(ExportError) as caught:
        read("missing_person_column.xlsx")
    message = str(caught.value)
    assert "no column for person_id" in message
    assert "Person Name" in message and "columns.person_id" in message


def test_missing_column_can_be_mapped_in_settings() -> None:
    settings = parse_settings({"columns": {"person_id": ["Person Name"]}}, "x")
    assert len(read_export(FIXTURES / "missing_person_column.xlsx", settings).cases) > 0


def test_macro_enabled_workbook_is_read() -> None:
    assert len(read("macro_enabled.xlsm").cases) == 24


def test_formula_like_names_are_kept_as_text() -> None:
    export = read("formula_like_text.xlsx")
    names = set(export.cases["worker_name"])
    assert {"=Smith, Jo", "+Priya Shah", "-Ann Lee", "@Sam Okafor", "=SUM(1,1)"} <= names


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("not_a_workbook.xlsx", "is not an Excel workbook"),
        ("empty.xlsx", "no header row found"),
    ],
)
def test_wrong_files_are_refused_with_what_to_do(name: str, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        read(name)


def test_old_xls_or_password_protected_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "protected.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    with pytest.raises(ExportError, match="password-protected"):
        read_export(path, SETTINGS)


def test_unsupported_suffix_and_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "export.pdf").write_text("x")
    with pytest.raises(ExportError, match=r"reads \.xlsx, \.xlsm and \.csv"):
        read_export(tmp_path / "export.pdf", SETTINGS)
    with pytest.raises(ExportError, match="is a folder"):
        read_export(tmp_path, SETTINGS)


def test_header_only_export_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "header-only.csv"
    path.write_text("Record ID,Person ID,Work Type,Completed Date,Worker ID,Team,"
                    "Service Manager,Quadrant\n")
    with pytest.raises(ExportError, match="no data under it"):
        read_export(path, SETTINGS)


def test_semicolon_csv_in_windows_encoding_is_read(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    text = ("Record ID;Person ID;Work Type;Completed Date;Worker ID;Worker;Team;Service Manager;"
            "Quadrant\n1;2;MCA;05/09/2026;W1;Zoë Brontë;Team é;SM;Mid\n")
    path.write_bytes(text.encode("cp1252"))
    export = read_export(path, SETTINGS)
    assert export.cases["worker_name"].tolist() == ["Zoë Brontë"]


def test_export_with_empty_first_column_reads_the_right_fields(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append([None, "Record ID", "Person ID", "Work Type", "Completed Date", "Worker ID", "Team",
               "Service Manager", "Quadrant"])
    for i in range(3):
        ws.append([None, 100 + i, 200 + i, "MCA", date(2026, 9, 5), "W1", "T", "SM", "Mid"])
    wb.save(tmp_path / "export.xlsx")
    export = read_export(tmp_path / "export.xlsx", SETTINGS)
    assert export.cases["record_id"].tolist() == ["100", "101", "102"]
    assert export.cases["person_id"].tolist() == ["200", "201", "202"]


def test_a_good_row_is_kept_when_an_unusable_row_shares_its_record_id(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Record ID,Person ID,Work Type,Completed Date,Worker ID,Team,Service Manager,Quadrant\n"
        "100,1,MCA,TBC,W1,T,SM,Mid\n"
        "100,1,MCA,05/09/2026,W1,T,SM,Mid\n"
    )
    export = read_export(path, SETTINGS)
    assert export.cases["record_id"].tolist() == ["100"]
    assert export.unusable_counts == {BAD_DATE: 1}


# --- careless files: encodings, short rows, columns that could be either -------------

UNICODE_HEADER = ("Record ID\tPerson ID\tWork Type\tCompleted Date\tWorker ID\tWorker\tTeam\t"
                  "Service Manager\tQuadrant\r\n")
UNICODE_ROW = "1\t2\tMCA\t05/09/2026\tW1\tZoë Brontë\tTeam é\tSM\tMid\r\n"


@pytest.mark.parametrize(
    "encoded",
    [
        codecs.BOM_UTF16_LE + (UNICODE_HEADER + UNICODE_ROW).encode("utf-16-le"),
        codecs.BOM_UTF16_BE + (UNICODE_HEADER + UNICODE_ROW).encode("utf-16-be"),
        (UNICODE_HEADER + UNICODE_ROW).encode("utf-16-le"),
    ],
    ids=["little-endian", "big-endian", "no byte-order mark"],
)
def test_excel_unicode_text_utf16_and_tabs_is_read(tmp_path: Path, encoded: bytes) -> None:
    # Excel's "Unicode Text (*.txt)" is UTF-16 with a byte-order mark, tab-separated.
    path = tmp_path / "export.txt"
    path.write_bytes(encoded)
    export = read_export(path, SETTINGS)
    assert export.cases["worker_name"].tolist() == ["Zoë Brontë"]
    assert export.cases["team"].tolist() == ["Team é"]


def test_a_csv_mixing_utf8_and_latin1_lines_is_refused_naming_the_first_bad_line(
    tmp_path: Path,
) -> None:
    header = ("Record ID,Person ID,Work Type,Completed Date,Worker ID,Worker,Team,"
              "Service Manager,Quadrant\n")
    utf8 = "1,2,MCA,05/09/2026,W1,José Núñez,T,SM,Mid\n"
    latin1 = "3,4,MCA,05/09/2026,W2,Zoë Brontë,T,SM,Mid\n"
    path = tmp_path / "export.csv"
    path.write_bytes((header + utf8 + utf8).encode() + latin1.encode("latin-1")
                     + utf8.encode())
    with pytest.raises(ExportError) as caught:
        read_export(path, SETTINGS)
    message = str(caught.value)
    assert "mixes text encodings" in message and "line 4 is not" in message
    assert "CSV UTF-8" in message


def test_a_windows_1252_csv_with_commas_keeps_its_accents(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    text = ("Record ID,Person ID,Work Type,Completed Date,Worker ID,Worker,Team,"
            "Service Manager,Quadrant\r\n1,2,MCA,05/09/2026,W1,José Núñez,Team é,SM,Mid\r\n")
    path.write_bytes(text.encode("cp1252"))
    assert read_export(path, SETTINGS).cases["worker_name"].tolist() == ["José Núñez"]


def test_a_line_with_an_extra_field_is_named(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Case list\n"
        "Record ID,Person ID,Work Type,Completed Date,Worker ID,Worker,Team,Service Manager,"
        "Quadrant\n"
        "1,2,MCA,05/09/2026,W1,Ann Lee,T,SM,Mid\n"
        "3,4,MCA,05/09/2026,W1,Smith, Jo,T,SM,Mid\n"
    )
    with pytest.raises(ExportError) as caught:
        read_export(path, SETTINGS)
    message = str(caught.value)
    assert "line 4 has 10 fields where the lines above it have 9" in message
    assert "Error tokenizing" not in message and "C error" not in message


def test_rows_that_stop_short_of_the_header_are_read(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("Record ID,Person ID,Work Type,Completed Date,Worker ID,Team,"
                    "Service Manager,Quadrant\n1,2,MCA,05/09/2026,W1,T,SM\n")
    export = read_export(path, SETTINGS)
    assert export.unusable_counts == {BAD_QUADRANT: 1}
    assert export.unusable["record_id"].tolist() == ["1"]


def _two_person_ids(path: Path) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Record ID", "Person ID", "Work Type", "Completed Date", "Worker ID",
               "Person ID", "Team", "Service Manager", "Quadrant"])
    ws.append([1, 2, "MCA", date(2026, 9, 5), "W1", 3, "T", "SM", "Mid"])
    wb.save(path)
    return path


def test_two_columns_with_the_same_header_are_refused_naming_both(tmp_path: Path) -> None:
    with pytest.raises(ExportError) as caught:
        read_export(_two_person_ids(tmp_path / "export.xlsx"), SETTINGS)
    message = str(caught.value)
    assert 'column B "Person ID" and column F "Person ID" could each be the person id' in message
    assert "rename or delete the one that is not the person id" in message
    assert "[columns]" in message


def test_two_names_for_one_field_are_refused_naming_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("Record ID,Person ID,Work Type,Completed Date,Worker ID,Team,"
                    "Service Manager,Quadrant,Client ID\n1,2,MCA,05/09/2026,W1,T,SM,Mid,C9\n")
    with pytest.raises(ExportError) as caught:
        read_export(path, SETTINGS)
    message = str(caught.value)
    assert "the header row (row 1)" in message
    assert 'column 2 "Person ID" and column 9 "Client ID" could each be the person id' in message
    assert 'Set columns.person_id under [columns] in qaudit.toml' in message
    settings = parse_settings({"columns": {"person_id": ["Client ID"]}}, "x")
    export = read_export(path, settings)
    assert export.columns["person_id"] == "Client ID"
    assert export.cases["person_id"].tolist() == ["C9"]


# --- email columns: optional, checked for form, never costing a case --------------------

EMAIL_EXPORT_HEADER = ["Record ID", "Person ID", "Work Type", "Completed Date", "Worker ID",
                       "Worker", "Team", "Service Manager", "Quadrant"]
HEADER_INJECTION = "a@b.org\r\nBcc: x@y.org"
FORMULA = '=HYPERLINK("http://evil.example","pat@example.org")'


def _export_with_emails(path: Path, emails: list[tuple[str, str]],
                        headers: tuple[str, ...] = ("Worker Email", "SM Email"),
                        work_type: str = "MCA") -> Path:
    """One MCA case per (worker email, Service Manager email), rows 2 onwards."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*EMAIL_EXPORT_HEADER, *headers])
        for n, (worker, manager) in enumerate(emails, start=1):
            writer.writerow([n, 100 + n, work_type, "05/09/2026", f"W{n}", f"Ann Lee {n}", "T",
                             "Sam Manager", "Mid", worker, manager][:9 + len(headers)])
    return path


def test_the_practitioners_and_service_managers_emails_are_read_when_there(
    tmp_path: Path,
) -> None:
    export = read_export(_export_with_emails(
        tmp_path / "export.csv",
        [(" Ann.Lee1@Example.ORG ", "sam.manager@example.org"), ("", "sam.manager@example.org")],
        headers=("Practitioner Email", "Service Manager Email")), SETTINGS)
    assert export.columns["worker_email"] == "Practitioner Email"
    assert export.columns["service_manager_email"] == "Service Manager Email"
    assert export.cases["worker_email"].tolist() == ["Ann.Lee1@example.org", ""]
    assert export.cases["service_manager_email"].tolist() == ["sam.manager@example.org"] * 2
    assert export.warnings == []


def test_an_export_without_email_columns_is_read_as_before() -> None:
    export = read("clean.xlsx")
    assert "worker_email" not in export.columns
    assert "service_manager_email" not in export.columns
    assert set(export.cases["worker_email"]) == {""}
    assert set(export.cases["service_manager_email"]) == {""}
    assert export.warnings == []


def test_an_email_that_is_not_one_is_left_out_and_listed_and_its_case_kept(
    tmp_path: Path,
) -> None:
    bad = ["not an email", FORMULA, HEADER_INJECTION, "\x1b[2Jx@example.org", "=x@example.org",
           "p@" + "x" * 100_000 + ".org"]
    export = read_export(_export_with_emails(
        tmp_path / "export.csv",
        [("good@example.org", "sam.manager@example.org"),
         *((value, "sam.manager@example.org") for value in bad)]), SETTINGS)
    assert len(export.cases) == 1 + len(bad) and export.unusable_counts == {}
    assert export.cases["worker_email"].tolist() == ["good@example.org"] + [""] * len(bad)
    assert set(export.cases["service_manager_email"]) == {"sam.manager@example.org"}
    [warning] = export.warnings
    assert warning.startswith(f"{len(bad)} rows give a worker email that is not an email"
                              " address (row 3: 'not an email'; row 4: ")
    assert "row 5: 'a@b.org\\r\\nBcc: x@y.org'" in warning  # shown escaped, never as a break
    assert f"and {len(bad) - 3} more" in warning and "is kept" in warning
    assert "\r" not in warning and "\n" not in warning and "\x1b" not in warning
    assert len(warning) < 1_000


def test_a_bad_email_on_a_row_that_cannot_be_drawn_is_not_warned_about(tmp_path: Path) -> None:
    export = read_export(_export_with_emails(
        tmp_path / "export.csv", [("not an email", "nor this")], work_type="Financial"),
        SETTINGS)
    assert export.cases.empty and export.unusable_counts == {BAD_TYPE: 1}
    assert export.warnings == []


def test_email_headers_can_be_set_in_the_settings(tmp_path: Path) -> None:
    settings = parse_settings({"columns": {"worker_email": ["E-mail (worker)"]}}, "x")
    path = _export_with_emails(tmp_path / "export.csv", [("pat@example.org", "")],
                               headers=("E-mail (worker)",))
    assert read_export(path, settings).cases["worker_email"].tolist() == ["pat@example.org"]
    assert read_export(path, SETTINGS).cases["worker_email"].tolist() == [""]


def test_two_columns_that_could_each_be_the_worker_email_are_refused(tmp_path: Path) -> None:
    path = _export_with_emails(tmp_path / "export.csv", [("a@example.org", "b@example.org")],
                               headers=("Worker Email", "Practitioner Email"))
    with pytest.raises(ExportError, match="could each be the worker email"):
        read_export(path, SETTINGS)


def test_a_formula_in_an_email_cell_of_a_workbook_is_never_an_address(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([*EMAIL_EXPORT_HEADER, "Worker Email", "SM Email"])
    ws.append([1, 101, "MCA", date(2026, 9, 5), "W1", "Ann Lee", "T", "Sam Manager", "Mid",
               FORMULA, "sam.manager@example.org"])  # a formula: its (empty) value is read
    ws.append([2, 102, "MCA", date(2026, 9, 5), "W2", "Bo Lee", "T", "Sam Manager", "Mid",
               "", HEADER_INJECTION])
    ws["J3"] = FORMULA
    ws["J3"].data_type = "s"  # the same text, stored as text
    wb.save(tmp_path / "export.xlsx")
    export = read_export(tmp_path / "export.xlsx", SETTINGS)
    assert export.cases["worker_email"].tolist() == ["", ""]
    assert export.cases["service_manager_email"].tolist() == ["sam.manager@example.org", ""]
    assert len(export.warnings) == 2
    assert "row 3: '=HYPERLINK(" in export.warnings[0]
    # (the line break shown escaped, as one newline or CR LF as the writer kept it)
    assert "Service Manager email" in export.warnings[1]
    assert "row 3: 'a@b.org\\nBcc" in export.warnings[1] or (
        "row 3: 'a@b.org\\r\\nBcc" in export.warnings[1])


# --- every kind of cell, read as python-calamine gives it ------------------------------
#
# The reader takes each cell as fastexcel's text and reads that back into the number, date,
# time or yes/no it was (export_values.cell_value), so that every rule in qaudit.values sees
# what python-calamine gives for the cell. These tests hold the two to each other.

FIELDS = ["Record ID", "Person ID", "Work Type", "Completed Date", "Worker ID", "Worker",
          "Team", "Service Manager", "Quadrant"]
#: Text that reads exactly as fastexcel writes a number, a date or a yes/no: left out of the
#: random text (see test_text_that_reads_exactly_like_a_number_date_or_yes_no_is_taken_as_one).
LOOKS_TYPED = re.compile(
    r"true|false|-?[0-9]+(\.[0-9]+)?|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}.*"
)
XML_TEXT = st.characters(
    codec="utf-8", exclude_categories=["Cs"],
    exclude_characters="".join(map(chr, [*range(0, 9), 11, 12, *range(14, 32), 0xFFFE, 0xFFFF])),
)
CELLS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10**15, 10**15),
    st.builds(lambda n, k: n / 10**k, st.integers(-10**9, 10**9), st.integers(0, 4)),
    st.dates(date(1900, 3, 1), date(9999, 12, 31)),
    st.datetimes(datetime(1900, 3, 1), datetime(9999, 12, 31)).map(
        lambda d: d.replace(microsecond=0)),
    st.times().map(lambda t: t.replace(microsecond=0)),
    st.text(XML_TEXT, max_size=12).filter(lambda s: not LOOKS_TYPED.fullmatch(s)),
    st.sampled_from(["05/09/2026", " 5/9/26 ", "2026-09-05", "5 Sep 2026", "46270", "TBC",
                     "123456.0", " 123456", "0123", "Total", "  Ann   Lee ", "N/A", "nan"]),
)


def _typed_workbook(path: Path, dates: list[object], names: list[object]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(FIELDS)
    for i, (when, name) in enumerate(zip(dates, names, strict=True)):
        ws.append([3_100_000 + i, 400_000 + i, "MCA", None, "W1", None, "T", "SM", "Mid"])
        for column, value in ((4, when), (6, name)):
            if value is None:
                continue
            cell = ws.cell(row=i + 2, column=column, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, even "=x"
            elif isinstance(value, datetime):
                cell.number_format = "dd/mm/yyyy hh:mm:ss"
            elif isinstance(value, date):
                cell.number_format = "dd/mm/yyyy"
    wb.save(path)
    return path


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.tuples(CELLS, CELLS), min_size=1, max_size=12))
def test_every_kind_of_cell_reads_as_python_calamine_gives_it(
    tmp_path: Path, cells: list[tuple[object, object]]
) -> None:
    from python_calamine import CalamineWorkbook

    path = _typed_workbook(tmp_path / "export.xlsx", *map(list, zip(*cells, strict=True)))
    given_rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(
        skip_empty_area=False)[1:]
    export = read_export(path, SETTINGS)
    cases = export.cases.set_index("source_row")
    unusable = export.unusable.set_index("source_row")
    for row, values in enumerate(given_rows, start=2):
        when, name = values[3], values[5]
        day, written = parse_date(when), normalise_id(when)
        if day is None:
            reason = BAD_DATE if written else NO_DATE
            assert unusable.loc[row, "reason"] == reason, (when, name)
            assert unusable.loc[row, "completed_date"] == written
            assert unusable.loc[row, "detail"] == (written if written else "")
        else:
            assert cases.loc[row, "completed_date"].date() == day, (when, name)
            assert cases.loc[row, "worker_name"] == normalise_id(name), (when, name)


def test_ids_stored_as_numbers_read_as_whole_numbers(tmp_path: Path) -> None:
    ids = [3100001, 3100002.0, 12.5, 1e20, 0, -7, 2**53]
    path = _typed_workbook(tmp_path / "export.xlsx", [date(2026, 9, 5)] * len(ids), ids)
    export = read_export(path, SETTINGS)
    assert export.cases["worker_name"].tolist() == [
        "3100001", "3100002", "12.5", "100000000000000000000", "0", "-7", "9007199254740992"]


def test_dates_stored_every_way_read_as_before(tmp_path: Path) -> None:
    dates: list[object] = [datetime(2026, 9, 5), datetime(2026, 9, 5, 14, 30), 46270,
                           20260905, "05/09/2026", "2026-09-05", 46270.75, True, "TBC"]
    path = _typed_workbook(tmp_path / "export.xlsx", dates, ["A"] * len(dates))
    export = read_export(path, SETTINGS)
    assert export.cases["completed_date"].dt.date.tolist() == [date(2026, 9, 5)] * 7
    assert export.unusable_counts == {NO_DATE: 1, BAD_DATE: 1}  # a yes/no is no date
    assert export.unusable["detail"].tolist() == ["", "TBC"]


def test_the_date_of_a_row_listed_as_unusable_is_shown_as_before(tmp_path: Path) -> None:
    path = _typed_workbook(tmp_path / "export.xlsx",
                           [datetime(2026, 9, 5), datetime(2026, 9, 5, 14, 30, 5)], ["A", "B"])
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb.active
    assert ws is not None
    ws["C2"] = ws["C3"] = "Financial Assessment"  # not audited: listed with its date
    wb.save(path)
    export = read_export(path, SETTINGS)
    assert export.unusable["completed_date"].tolist() == ["2026-09-05", "2026-09-05T14:30:05"]


def test_text_that_reads_exactly_like_a_number_date_or_yes_no_is_taken_as_one(
    tmp_path: Path,
) -> None:
    # fastexcel gives every cell as text; a text cell written exactly as it writes a number,
    # a date and time or a yes/no cannot be told from one. Nothing a case system exports.
    names = ["true", "2026-09-05 00:00:00", "-0", "12345678901234567890"]
    path = _typed_workbook(tmp_path / "export.xlsx", ["20260905", *["05/09/2026"] * 3], names)
    export = read_export(path, SETTINGS)
    assert export.unusable_counts == {}  # "20260905" as text: a date, as the number is
    # ... but a run of digits no number is written as stays text
    assert export.cases["worker_name"].tolist() == ["", "2026-09-05", "0",
                                                    "12345678901234567890"]


@pytest.mark.parametrize("space", [c for c in map(chr, range(0x3001)) if c.isspace()])
def test_every_kind_of_white_space_is_folded(tmp_path: Path, space: str) -> None:
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(FIELDS)
        writer.writerow([f"{space}1", "2", "MCA", "05/09/2026", "W1", f"Ann{space}{space}Lee",
                         "T", "SM", f"Mid{space}"])
    export = read_export(path, SETTINGS)
    assert export.cases[["record_id", "worker_name", "quadrant"]].values.tolist() == [
        ["1", "Ann Lee", "Mid"]]


@pytest.mark.parametrize(
    ("first_cell", "total"),
    [("Total", True), ("  GRAND TOTAL (all teams)", True), ("\u00a0count: 12", True),
     ("Sum", True), ("Subtotal", False), ("Tot", False), ("\uff34otal", False)],
)
def test_a_row_whose_record_id_reads_like_a_total_is_a_total(
    tmp_path: Path, first_cell: str, total: bool
) -> None:
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(FIELDS)
        writer.writerow([first_cell, "2", "MCA", "05/09/2026", "W1", "Ann", "T", "SM", "Mid"])
    export = read_export(path, SETTINGS)
    assert export.unusable_counts == ({TOTAL: 1} if total else {})


def test_a_long_csv_read_in_pieces_is_read_whole(tmp_path: Path) -> None:
    # pandas reads a long file a block of rows at a time: each column comes back in pieces.
    path = tmp_path / "export.csv"
    rows = 70_000
    path.write_text(",".join(FIELDS) + "\n" + "".join(
        f"{i},{i % 97},MCA,05/09/2026,W{i % 7},Ann Lee,T,SM,Mid\n" for i in range(rows)))
    export = read_export(path, SETTINGS)
    assert len(export.cases) == rows
    assert export.cases["record_id"].iloc[[0, -1]].tolist() == ["0", str(rows - 1)]
