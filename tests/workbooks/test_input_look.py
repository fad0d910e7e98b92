"""What qaudit tells people outside the workbooks about where to type names the input cells
as the workbooks draw them (``cells.INPUT_LOOK``: a box round a fill), never by a colour
alone: the Service Manager's message, and the finding for a grading workbook sent back
with no grade (the workbooks' own instructions: ``test_paper``)."""

from __future__ import annotations

from pathlib import Path

from qaudit.rendering import render_template
from qaudit.validation import check_workshop
from qaudit.workbooks.cells import INPUT_LOOK
from qaudit.workbooks.reader import read_form
from qaudit.workbooks.workshop import write_grading_workbook
from workbooks.test_workshop_books import KEY, TODAY, sheet, workshop

#: What the allocations message is given (``mail.letters``), for one case.
ALLOCATIONS = {
    "manager": "Sam Manager", "cases": 1, "references": ["2026-27-C3-001"],
    "due": "15/01/2027", "workbook": "2026-27-C3-allocations-sm-01.xlsx",
    "cycle": "2026-27 C3", "team": "Practice Quality Team",
    "return_to": "Practice Quality Team (pqt@council.example)",
    "marking": "OFFICIAL-SENSITIVE",
}


def test_the_service_managers_message_says_to_fill_the_boxed_cells(tmp_path: Path) -> None:
    text = render_template(tmp_path / "templates", "messages", "allocations.txt.j2",
                           ALLOCATIONS)
    step = next(line for line in text.splitlines() if line.startswith("2. "))
    assert f"Fill in {INPUT_LOOK} of each case's row" in step
    assert "yellow" not in text.lower()


def test_a_grading_workbook_sent_back_blank_is_told_where_the_grades_go(
        tmp_path: Path) -> None:
    path = tmp_path / "grading.xlsx"
    write_grading_workbook(path, sheet())
    parsed, findings = check_workshop(read_form(path), "ws-1", KEY, workshop(), None, TODAY)
    assert parsed is None
    (finding,) = findings
    assert finding.code == "no-grades"
    assert INPUT_LOOK in finding.message and "yellow" not in finding.message.lower()
