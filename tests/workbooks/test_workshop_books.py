"""The workshop's workbooks: the anonymised case pack and the grading workbook, written
and read back as the forms are (named cells, hidden signed identification, text as text)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from qaudit.db.workshops import Participant, Workshop, WorkshopCase
from qaudit.errors import FormFileError
from qaudit.validation import check_workshop
from qaudit.values import HIDDEN_IN_TEXT
from qaudit.workbooks.cells import read_text
from qaudit.workbooks.reader import read_form
from qaudit.workbooks.workshop import (
    GradingSheet,
    PackAnswer,
    PackCase,
    WorkshopPack,
    grading_meta,
    write_grading_workbook,
    write_pack,
)

KEY = b"k" * 32
TODAY = date(2026, 9, 20)
HOSTILE = '=HYPERLINK("http://evil.example","click")'


def workshop(cases: int = 3) -> Workshop:
    return Workshop(
        7, "Q2 2026-27", date(2026, 9, 14), None, 5, "2026-09-01T10:00:00",
        (Participant(1, "Participant 1"), Participant(2, "Participant 2", "Ann Lee")),
        tuple(WorkshopCase(10 + n, n, f"Case {'ABCDEFG'[n - 1]}", 100 + n, 200 + n,
                           f"2026-27-C3-{n:03d}", "care_act_review", "good")
              for n in range(1, cases + 1)))


def sheet(participant: str = "Participant 1", cases: int = 3) -> GradingSheet:
    found = workshop(cases)
    return GradingSheet("ws-1", found.name, found.id, found.held_on, participant, "",
                        tuple((c.label, "Care Act review") for c in found.cases), KEY)


def set_named(path: Path, values: dict[str, object], formula: bool = False) -> None:
    wb = load_workbook(path)
    for name, value in values.items():
        ((title, ref),) = list(wb.defined_names[name].destinations)
        cell = wb[title][ref.replace("$", "")]
        cell.value = value
        if not formula:
            cell.data_type = "s"
    wb.save(path)


def test_grading_workbook_contract(tmp_path: Path) -> None:
    path = tmp_path / "g.xlsx"
    write_grading_workbook(path, sheet())
    wb = load_workbook(path)
    assert wb.sheetnames == ["Grades", "_qaudit"]
    assert wb["_qaudit"].sheet_state == "veryHidden"
    ws = wb["Grades"]
    assert ws.protection.sheet
    for n in range(1, 4):
        for name in (f"wsh_{n}_grade", f"wsh_{n}_note"):
            ((title, ref),) = list(wb.defined_names[name].destinations)
            assert title == "Grades"
            assert ws[ref.replace("$", "")].protection.locked is False
    assert ws["A6"].value == "Case A" and ws["A6"].protection.locked is not False
    raw = read_form(path)
    assert raw.meta["signature"] == grading_meta(sheet())["signature"]


def test_a_filled_workbook_reads_back_with_grades_typed_as_people_do(tmp_path: Path) -> None:
    path = tmp_path / "g.xlsx"
    write_grading_workbook(path, sheet())
    set_named(path, {"wsh_1_grade": " good ", "wsh_2_grade": "RI", "wsh_2_note": HOSTILE})
    parsed, findings = check_workshop(read_form(path), "ws-1", KEY, workshop(), None, TODAY)
    assert findings == []
    assert parsed is not None
    assert parsed.grades == {1: ("good", ""), 2: ("requires_improvement", HOSTILE)}
    assert parsed.ungraded == ["Case C"]


def test_a_blank_workbook_is_no_grades(tmp_path: Path) -> None:
    path = tmp_path / "g.xlsx"
    write_grading_workbook(path, sheet())
    parsed, findings = check_workshop(read_form(path), "ws-1", KEY, workshop(), None, TODAY)
    assert parsed is None and [f.code for f in findings] == ["no-grades"]


@pytest.mark.parametrize(("change", "code"), [
    ({"wsh_1_grade": "Excellent"}, "not-allowed"),
    ({"wsh_1_grade": "Good", "wsh_2_note": "x" * 2001}, "too-long"),
])
def test_bad_cells_are_findings(tmp_path: Path, change: dict[str, object], code: str) -> None:
    path = tmp_path / "g.xlsx"
    write_grading_workbook(path, sheet())
    set_named(path, change)
    parsed, findings = check_workshop(read_form(path), "ws-1", KEY, workshop(), None, TODAY)
    assert parsed is None and code in {f.code for f in findings}


def test_a_formula_is_refused_not_evaluated(tmp_path: Path) -> None:
    path = tmp_path / "g.xlsx"
    write_grading_workbook(path, sheet())
    set_named(path, {"wsh_1_grade": '=IF(1,"Good","")'}, formula=True)
    parsed, findings = check_workshop(read_form(path), "ws-1", KEY, workshop(), None, TODAY)
    assert parsed is None and [f.code for f in findings] == ["formula"]


def test_identification_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.xlsx"
    write_grading_workbook(path, sheet("Participant 9"))  # signed, but nobody of the workshop
    set_named(path, {"wsh_1_grade": "Good"})
    raw = read_form(path)
    assert [f.code for f in check_workshop(raw, "ws-1", KEY, workshop(), None, TODAY)[1]] == [
        "unknown-participant"]
    assert [f.code for f in check_workshop(raw, "ws-2", KEY, workshop(), None, TODAY)[1]] == [
        "foreign-workspace"]
    assert [f.code for f in check_workshop(raw, "ws-1", b"x" * 32, workshop(), None,
                                           TODAY)[1]] == ["signature-mismatch"]
    assert [f.code for f in check_workshop(raw, "ws-1", KEY, None, None, TODAY)[1]] == [
        "unknown-workshop"]
    assert [f.code for f in check_workshop(raw, "ws-1", KEY, workshop(), "Q3", TODAY)[1]] == [
        "another-workshop"]
    # the workshop made again (another id) or with other cases: not this workbook's
    assert [f.code for f in check_workshop(raw, "ws-1", KEY, workshop(4), None, TODAY)[1]
            ] == ["unknown-participant"]


def test_a_workbook_without_its_hidden_sheet_is_not_a_form(tmp_path: Path) -> None:
    path = tmp_path / "g.xlsx"
    write_grading_workbook(path, sheet())
    wb = load_workbook(path)
    del wb["_qaudit"]
    wb.save(path)
    with pytest.raises(FormFileError) as refused:
        read_form(path)
    assert refused.value.code == "not-a-form"


def test_the_pack_keeps_text_as_text(tmp_path: Path) -> None:
    path = tmp_path / "pack.xlsx"
    write_pack(path, WorkshopPack("Q2", date(2026, 9, 14), (PackCase(
        "Case A", "Care Act review",
        (PackAnswer("V1", "Is the person's voice heard?", "No", HOSTILE + "\x07bell"),),
        "Strong\nrecording", "-1 more visit"),)))
    wb = load_workbook(path)
    assert wb.sheetnames == ["Contents", "Case A"]
    cells = {read_text(str(c.value)): c.data_type for row in wb["Case A"].iter_rows()
             for c in row if c.value is not None}
    assert cells[HOSTILE + "bell"] == "s"  # the bell (a control character) dropped
    assert cells["-1 more visit"] == "s"  # not a formula either
    assert "Strong\nrecording" in cells
    assert wb["Case A"].protection.sheet


#: What hides, reorders or fakes text: a right-to-left override and its end, isolates,
#: zero-width space, joiner and non-joiner, left-to-right and right-to-left marks, the byte
#: order mark, a tag character, a bell, an escape and a C1 control.
HIDDEN = ["\u202e", "\u202c", "\u2066", "\u2069", "\u200b", "\u200d", "\u200c", "\u200e",
          "\u200f", "\ufeff", "\U000e0041", "\x07", "\x1b", "\x9b"]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.text("abc =+-@", max_size=6), st.sampled_from(HIDDEN)),
                min_size=1, max_size=6))
def test_the_pack_shows_no_hidden_or_reordering_character(
        tmp_path_factory: pytest.TempPathFactory, pieces: list[tuple[str, str]]) -> None:
    """Whatever a form's comments carried, the pack reads as the plain text around it."""
    text = "".join(visible + hidden for visible, hidden in pieces)
    plain = "".join(visible for visible, _ in pieces)
    path = tmp_path_factory.mktemp("pack") / "pack.xlsx"
    write_pack(path, WorkshopPack("Q2" + text, date(2026, 9, 14), (PackCase(
        "Case A", "Care Act review" + text,
        (PackAnswer("V1", "Voice heard?" + text, "No" + text, "Seen" + text),),
        "Strong" + text, "Learn" + text),)))
    wb = load_workbook(path)
    shown = [read_text(str(c.value)) for sheet in wb.worksheets for row in sheet.iter_rows()
             for c in row if isinstance(c.value, str)]
    assert not any(HIDDEN_IN_TEXT.search(value) for value in shown)
    for start in ("Voice heard?", "No", "Seen", "Strong", "Learn"):
        assert start + plain in shown
    assert f"Case A: Care Act review{plain}" in shown
    assert f"Audit workshop: Q2{plain}" in shown


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed;"
                    " .ci/run installs it with apt-get")
def test_a_grading_workbook_filled_and_saved_in_libreoffice_reads_back_the_same(
    tmp_path: Path,
) -> None:
    path = tmp_path / "filled" / "g.xlsx"
    path.parent.mkdir()
    write_grading_workbook(path, sheet())
    set_named(path, {"wsh_1_grade": "Outstanding", "wsh_2_grade": "Requires improvement",
                     "wsh_2_note": "Line one\nline two", "wsh_3_grade": "Adequate"})
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [str(SOFFICE), f"-env:UserInstallation=file://{profile}", "--headless",
         "--convert-to", "xlsx", "--outdir", str(tmp_path / "resaved"), str(path)],
        check=True, capture_output=True, timeout=240,
    )
    parsed, findings = check_workshop(read_form(tmp_path / "resaved" / "g.xlsx"), "ws-1", KEY,
                                      workshop(), None, TODAY)
    assert findings == []
    assert parsed is not None
    assert parsed.grades == {1: ("outstanding", ""),
                             2: ("requires_improvement", "Line one\nline two"),
                             3: ("adequate", "")}


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed;"
                    " .ci/run installs it with apt-get")
def test_libreoffice_opens_the_workshop_pack_with_its_text_as_written(tmp_path: Path) -> None:
    path = tmp_path / "pack.xlsx"
    write_pack(path, WorkshopPack("Q2", date(2026, 9, 14), (PackCase(
        "Case A", "Care Act review",
        (PackAnswer("V1", "Is the person's voice heard?", "No", HOSTILE),),
        "Strong\nrecording", "-1 more visit"),)))
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [str(SOFFICE), f"-env:UserInstallation=file://{profile}", "--headless",
         "--convert-to", "xlsx", "--outdir", str(tmp_path / "resaved"), str(path)],
        check=True, capture_output=True, timeout=240,
    )
    original, again = load_workbook(path), load_workbook(tmp_path / "resaved" / "pack.xlsx")
    assert again.sheetnames == original.sheetnames
    for title in original.sheetnames:
        for row in original[title].iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.strip():
                    resaved = again[title][cell.coordinate]
                    assert resaved.value == cell.value and resaved.data_type == "s"
