"""Generated workbooks: text stays text, forms carry their contract, real clients open them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from conftest import FIXTURES, Result
from qaudit.config import Settings
from qaudit.questions import load_question_set
from qaudit.workbooks.cells import read_text, write_table
from qaudit.workbooks.forms import (
    AUDIT_FIELDS,
    AUDIT_FORM,
    SELF_REFLECTION_FIELDS,
    SELF_REFLECTION_FORM,
    FormCase,
    answer_name,
    audit_form,
    comment_name,
    form_layout,
    self_reflection_form,
)
from qaudit.workbooks.paper import mark_workbook
from qaudit.workspace import Workspace

HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTabbed", "=1+1",
           "\rReturn", "line\r\nbreak", "bell\x07", "_x000D_ literal"]


def case(**kw: object) -> FormCase:
    values: dict[str, object] = dict(
        cycle="2026-27 C3", reference="2026-27-C3-001", audit_type_name="Care Act assessment",
        person_id="123456", practitioner="Jo Lane", team="Elmsworth Team", quadrant="Mid",
        completed_date=date(2026, 9, 5), due_date=date(2026, 12, 11),
    )
    values.update(kw)
    return FormCase(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_like_text_is_written_as_text(tmp_path: Path, text: str) -> None:
    form = self_reflection_form("Care Act assessment", "ws1")
    form.write(tmp_path / "f.xlsx", case(practitioner=text, team=text))
    ws = load_workbook(tmp_path / "f.xlsx")["Self-reflection"]
    cells = [c for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and read_text(c.value) == text]
    assert len(cells) == 2
    assert all(c.data_type == "s" for c in cells)


def test_audit_form_names_every_input_cell(tmp_path: Path) -> None:
    questions = load_question_set("mca_assessment")
    audit_form(questions, "MCA", Settings().grades, "ws1").write(tmp_path / "a.xlsx", case())
    wb = load_workbook(tmp_path / "a.xlsx")
    names = set(wb.defined_names)
    expected = {f.name for f in AUDIT_FIELDS}
    for q in questions.questions:
        expected |= {answer_name(q.id), comment_name(q.id)}
    assert expected <= names
    ws = wb["Audit"]
    for name in expected:
        ((sheet, ref),) = wb.defined_names[name].destinations
        assert sheet == "Audit"
        assert ws[ref.replace("$", "")].protection.locked is False, name
    assert ws.protection.sheet is True and not ws.protection.password


def test_the_case_block_says_which_record_and_where_to_return_it(tmp_path: Path) -> None:
    """A person may have several pieces of work of one type: the form names the record and
    the work type as the case record calls it, and where the form goes back to. Each of
    these cells is named (locked), so ingest can compare it with the hidden sheet."""
    questions = load_question_set("care_act_assessment")
    form = audit_form(questions, "Care Act assessment", Settings().grades, "ws1", b"k" * 32)
    form.write(tmp_path / "a.xlsx", case(record_id="WS-778812",
                                         work_type="Care Act Needs Assessment",
                                         return_to="Practice Quality Team (pqt@example.org)"))
    wb = load_workbook(tmp_path / "a.xlsx")
    shown = {}
    for name in ("case_reference", "case_record_id", "case_work_type", "case_return_to",
                 "case_person_id"):
        ((sheet, ref),) = wb.defined_names[name].destinations
        cell = wb[sheet][ref.replace("$", "")]
        assert cell.protection.locked is not False, name
        shown[name] = cell.value
    assert shown == {"case_reference": "2026-27-C3-001", "case_record_id": "WS-778812",
                     "case_work_type": "Care Act Needs Assessment",
                     "case_return_to": "Practice Quality Team (pqt@example.org)",
                     "case_person_id": "123456"}
    meta = {r[0].value: r[1].value for r in wb["_qaudit"].iter_rows()}
    assert len(meta["signature"]) == 64


def test_question_text_and_case_details_are_on_the_form(tmp_path: Path) -> None:
    questions = load_question_set("safeguarding_s42")
    form = audit_form(questions, "Safeguarding", Settings().grades, "ws1")
    form.write(tmp_path / "a.xlsx", case())
    ws = load_workbook(tmp_path / "a.xlsx")["Audit"]
    values = {c.value for row in ws.iter_rows() for c in row if c.value is not None}
    assert {"2026-27-C3-001", "123456", "Jo Lane", "Requires improvement"} <= values
    assert all(any(str(v).startswith(q.text) for v in values) for q in questions.questions)


def test_hidden_meta_sheet_identifies_the_form(tmp_path: Path) -> None:
    questions = load_question_set("care_act_review")
    audit_form(questions, "Review", Settings().grades, "ws1").write(tmp_path / "a.xlsx", case())
    wb = load_workbook(tmp_path / "a.xlsx")
    meta = wb["_qaudit"]
    assert meta.sheet_state == "veryHidden"
    values = dict(meta.iter_rows(values_only=True))
    assert values["form_kind"] == "audit"
    assert values["workspace"] == "ws1"
    assert values["reference"] == "2026-27-C3-001"
    assert values["question_set"] == "care_act_review"
    assert values["question_set_version"] == questions.version
    assert values["question_set_hash"] == questions.digest


def test_one_layout_writes_many_cases_without_mixing_them(tmp_path: Path) -> None:
    form = self_reflection_form("MCA", "ws1")
    form.write(tmp_path / "1.xlsx", case(reference="R-001", practitioner="A"))
    form.write(tmp_path / "2.xlsx", case(reference="R-002", practitioner="B"))
    first = dict(load_workbook(tmp_path / "1.xlsx")["_qaudit"].iter_rows(values_only=True))
    second = dict(load_workbook(tmp_path / "2.xlsx")["_qaudit"].iter_rows(values_only=True))
    assert (first["reference"], second["reference"]) == ("R-001", "R-002")
    assert {f.name for f in SELF_REFLECTION_FIELDS} <= set(
        load_workbook(tmp_path / "2.xlsx").defined_names
    )


def test_answer_cells_have_drop_downs(tmp_path: Path) -> None:
    audit_form(load_question_set("mca_assessment"), "MCA", Settings().grades, "ws1").write(
        tmp_path / "a.xlsx", case()
    )
    wb = load_workbook(tmp_path / "a.xlsx")
    ws = wb["Audit"]
    ((_, answer_ref),) = wb.defined_names["ans_V1"].destinations
    ((_, grade_ref),) = wb.defined_names["grade"].destinations
    lists = {dv.formula1: str(dv.sqref) for dv in ws.data_validations.dataValidation}
    assert answer_ref.replace("$", "") in lists['"Yes,No,N/A"'].split()
    grades = '"Requires improvement,Adequate,Good,Outstanding"'
    assert grade_ref.replace("$", "") in lists[grades].split()


def test_register_and_manager_workbooks_keep_hostile_names_as_text(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path
) -> None:
    export = FIXTURES / "formula_like_text.xlsx"
    result = run("-w", workspace.root, "allocate", export, "--cycle", "C1", "--from",
                 "01/09/2026", "--to", "31/10/2026", "--seed", "1")
    assert result.code == 0, result.stderr
    out = workspace.cycle_dir("C1")
    register = load_workbook(out / "register.xlsx")["Allocations"]
    workers = {row[9].value for row in register.iter_rows(min_row=2)}
    assert workers & {"=Smith, Jo", "+Priya Shah", "-Ann Lee", "@Sam Okafor", "=SUM(1,1)"}
    assert all(c.data_type != "f" for row in register.iter_rows() for c in row)
    for book in (out / "service-managers").iterdir():
        ws = load_workbook(book)["Allocation"]
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed;"
                    " .ci/run installs it with apt-get")
def test_libreoffice_opens_every_kind_of_workbook_without_repair(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path
) -> None:
    result = run("-w", workspace.root, "allocate", FIXTURES / "formula_like_text.xlsx",
                 "--cycle", "C1", "--from", "01/09/2026", "--to", "31/10/2026", "--seed", "1")
    assert result.code == 0
    out = workspace.cycle_dir("C1")
    books = [
        out / "register.xlsx",
        next((out / "service-managers").iterdir()),
        next((out / "audit-forms").iterdir()),
        next((out / "self-reflection").iterdir()),
    ]
    converted = tmp_path / "converted"
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [str(SOFFICE), f"-env:UserInstallation=file://{profile}", "--headless",
         "--convert-to", "xlsx", "--outdir", str(converted), *map(str, books)],
        check=True, capture_output=True, timeout=240,
    )
    for book in books:
        again = load_workbook(converted / book.name)
        original = load_workbook(book)
        assert again.sheetnames[: len(original.sheetnames)] == original.sheetnames
        first = original.worksheets[0]
        resaved = again.worksheets[0]
        texts = [cell for row in first.iter_rows() for cell in row
                 if isinstance(cell.value, str) and cell.value.strip()]
        assert texts, book.name
        for cell in texts:
            assert resaved[cell.coordinate].value == cell.value, (book.name, cell)
    form = load_workbook(converted / books[2].name)
    assert {"ans_V1", "grade", "rationale"} <= set(form.defined_names)


def test_a_form_is_marked_on_every_printed_page_and_beside_its_title(tmp_path: Path) -> None:
    """The protective marking is centred at the top and bottom of each page, the pages
    numbered; on screen it stands at the top right of the form, in the title's row."""
    questions = load_question_set("mca_assessment")
    form = audit_form(questions, "MCA", Settings().grades, "ws1", marking="OFFICIAL-SENSITIVE")
    form.write(tmp_path / "a.xlsx", case())
    wb = load_workbook(tmp_path / "a.xlsx")
    for ws in wb.worksheets:
        assert ws.oddHeader.center.text == "OFFICIAL-SENSITIVE"
        assert ws.oddFooter.center.text == "OFFICIAL-SENSITIVE"
        assert ws.oddFooter.right.text == "Page &P of &N"
    top = wb["Audit"]
    assert top["A1"].value == "Case audit: MCA"
    assert top["D1"].value == "OFFICIAL-SENSITIVE" and top["D1"].data_type == "s"


@pytest.mark.parametrize("marking", ["OFFICIAL-SENSITIVE PERSONAL", "=HYPERLINK(\"http://x\")",
                                     "OFFICIAL & SENSITIVE"])
def test_a_marking_moves_no_named_cell_of_either_form(tmp_path: Path, marking: str) -> None:
    """However the marking reads, every named cell is where the form's contract says (the
    layout ingest checks a returned form against), and the marking stays text."""
    questions = load_question_set("care_act_review")
    for kind, form in ((AUDIT_FORM, audit_form(questions, "Review", Settings().grades, "ws1",
                                               marking=marking)),
                       (SELF_REFLECTION_FORM, self_reflection_form("Review", "ws1",
                                                                   marking=marking))):
        form.write(tmp_path / f"{kind}.xlsx", case())
        wb = load_workbook(tmp_path / f"{kind}.xlsx")
        layout = form_layout(kind, questions if kind == AUDIT_FORM else None)
        for name, (sheet, column, row) in layout.items():
            ((found_sheet, ref),) = wb.defined_names[name].destinations
            assert (found_sheet, ref) == (sheet, f"${column}${row}"), name
        cell = wb.worksheets[0]["D1"]
        assert cell.value == marking and cell.data_type == "s"


def test_a_marking_with_an_ampersand_or_a_hidden_character_prints_as_written(
    tmp_path: Path
) -> None:
    """'&' starts a code in a page header (&P is the page number): it is doubled so it
    prints as itself; a control character is never written into a header or a cell."""
    form = self_reflection_form("MCA", "ws1", marking="OFFICIAL &P\x07SENSITIVE")
    form.write(tmp_path / "f.xlsx", case())
    ws = load_workbook(tmp_path / "f.xlsx").worksheets[0]
    assert ws["D1"].value == "OFFICIAL &P SENSITIVE"
    assert ws.oddHeader.center.text == "OFFICIAL &&P SENSITIVE"


def test_the_register_and_the_export_keep_their_tables_in_row_one(tmp_path: Path) -> None:
    """A table workbook (the register, the analysts' export: both are written by
    ``write_table``) shows the marking beside its header, outside the filter: the table a
    reader (or pandas) expects in row 1 stays there."""
    book = Workbook(write_only=True)
    write_table(book.create_sheet("Allocations"), ["Reference", "Team"],
                [["R-1", "=Smith"], ["R-2", None]], [12, 20], marking="OFFICIAL-SENSITIVE")
    write_table(book.create_sheet("Audits"), ["Reference"], [["R-1"]], [12])
    mark_workbook(book, "OFFICIAL-SENSITIVE")
    book.save(tmp_path / "d.xlsx")
    wb = load_workbook(tmp_path / "d.xlsx")
    first, second = wb.worksheets
    assert [c.value for c in first[1]] == ["Reference", "Team", "OFFICIAL-SENSITIVE"]
    assert first.auto_filter.ref == "A1:B3"
    assert [c.value for c in first[2]][:2] == ["R-1", "=Smith"]
    assert [c.value for c in second[1]] == ["Reference"]
    assert second.oddHeader.center.text == "OFFICIAL-SENSITIVE"
