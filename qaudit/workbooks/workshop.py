"""The audit-the-auditor workshop's workbooks: the anonymised case pack, and each
participant's grading workbook.

The pack holds, for each case ("Case A" ...), its audit type and the audited work as the
returned form records it: every question with the answer and comment, the strengths and
the learning. It holds no grade (participants grade the case themselves), no rationale
(it argues for the grade), no reference, date, team or quadrant, and every free text has
been scrubbed of ids and names by the job before it gets here. Every text the pack shows
is written without the characters that hide, reorder or fake text (``values.HIDDEN_IN_TEXT``:
controls, zero-width and bidirectional characters), whatever the job gives it.

The grading workbook follows the forms' contract (``docs/forms.md``): each input cell is a
workbook-level defined name (``wsh_<n>_grade``, ``wsh_<n>_note``, ``n`` the case's
position), only input cells are unlocked, and a very hidden ``_qaudit`` sheet says which
workspace, workshop and participant it is for, signed with the workspace's key so an
edited identification is detected. ``validation.check_workshop`` reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from qaudit import __version__
from qaudit.grading import GRADE_LABELS, GRADES
from qaudit.privacy import sign
from qaudit.values import HIDDEN_IN_TEXT
from qaudit.workbooks.cells import (
    BOLD,
    BOX,
    DEFAULT_MARKING,
    HEADER_FILL,
    HEADER_FONT,
    INPUT_LOOK,
    SECTION_FILL,
    WRAP,
    define_name,
    input_cell,
    list_validation,
    protect,
    put,
    put_marking,
    put_title,
    save,
    write_meta,
)
from qaudit.workbooks.form_sheet import InputField
from qaudit.workbooks.paper import LINE, a4, keep_together, mark_workbook, text_height

WORKSHOP_FORM = "workshop_grading"
#: What the signature covers: which workspace, workshop and participant, and the cases.
WORKSHOP_SIGNED_KEYS = ("form_kind", "workspace", "workshop", "workshop_id", "participant",
                        "cases")
NOTE_MAX = 2000
#: Sheet names Excel allows are at most 31 characters; a case's sheet is its label.
GRADING_SHEET = "Grades"
#: The contents sheet's columns: case or grade, audit type or descriptor, the marking.
CONTENTS_WIDTHS = {"A": 14, "B": 50, "C": 24}
#: A case sheet's columns: question id, question, answer, comment.
CASE_WIDTHS = {"A": 8, "B": 56, "C": 9, "D": 50}


def grade_name(position: int) -> str:
    return f"wsh_{position}_grade"


def note_name(position: int) -> str:
    return f"wsh_{position}_note"


def grading_fields(position: int) -> tuple[InputField, ...]:
    """The named inputs of the case at ``position`` in a grading workbook. A grade left
    blank is a case the participant did not grade (it counts as missing, not as wrong)."""
    return (
        InputField(grade_name(position), "Your grade", "choice", GRADE_LABELS),
        InputField(note_name(position), "Why (optional)", "long_text", max_length=NOTE_MAX),
    )


@dataclass(frozen=True)
class PackAnswer:
    question_id: str
    question: str
    answer: str
    comment: str


@dataclass(frozen=True)
class PackCase:
    """One case as the pack shows it: anonymised, without its grade."""

    label: str
    audit_type_name: str
    answers: tuple[PackAnswer, ...]
    strengths: str
    learning: str


@dataclass(frozen=True)
class WorkshopPack:
    workshop: str
    held_on: date
    cases: tuple[PackCase, ...]
    marking: str = DEFAULT_MARKING


def shown(text: str) -> str:
    """Text as the pack shows it: without hidden, reordering or faking characters (a
    right-to-left override would make a comment read otherwise than it was written)."""
    return HIDDEN_IN_TEXT.sub("", text)


def write_pack(path: Path, pack: WorkshopPack) -> None:
    """The case pack: a contents sheet, then one sheet per case."""
    pack = WorkshopPack(shown(pack.workshop), pack.held_on, tuple(
        PackCase(shown(c.label), shown(c.audit_type_name), tuple(
            PackAnswer(shown(a.question_id), shown(a.question), shown(a.answer),
                       shown(a.comment)) for a in c.answers),
            shown(c.strengths), shown(c.learning)) for c in pack.cases), pack.marking)
    wb = Workbook()
    ws = wb.active
    ws.title = "Contents"
    for col, width in CONTENTS_WIDTHS.items():
        ws.column_dimensions[col].width = width
    # The marking in a column of its own: the title runs on over the empty B1.
    put_title(ws, "A1", f"Audit workshop: {pack.workshop}")
    put_marking(ws, "C1", pack.marking)
    note = (f"Held on {pack.held_on:%d/%m/%Y}. Each case is a piece of audited work,"
            " anonymised: no person, practitioner or auditor is named, and the audit's own"
            " grade is not shown. Read each case and grade it in your grading workbook, using"
            " the framework's grade descriptors below.")
    put(ws, "A2", note, alignment=WRAP)
    ws.merge_cells("A2:C2")
    ws.row_dimensions[2].height = text_height(note, sum(CONTENTS_WIDTHS.values()))
    row = 4
    put(ws, f"A{row}", "Case", font=HEADER_FONT, fill=HEADER_FILL)
    put(ws, f"B{row}", "Audit type", font=HEADER_FONT, fill=HEADER_FILL)
    row += 1
    for case in pack.cases:
        put(ws, f"A{row}", case.label, border=BOX)
        put(ws, f"B{row}", case.audit_type_name, border=BOX)
        row += 1
    row += 1
    _descriptors(ws, row)
    protect(ws)
    a4(ws)
    for case in pack.cases:
        _case_sheet(wb, case, pack.marking)
    mark_workbook(wb, pack.marking, f"Workshop {pack.workshop}, case pack")
    save(wb, path)


def _descriptors(ws: Worksheet, row: int) -> int:
    put(ws, f"A{row}", "The grades", font=BOLD)
    row += 1
    for grade in GRADES:
        put(ws, f"A{row}", grade.label, font=BOLD, alignment=WRAP)
        put(ws, f"B{row}", grade.descriptor, alignment=WRAP)
        ws.merge_cells(f"B{row}:C{row}")
        ws.row_dimensions[row].height = max(
            text_height(grade.label, CONTENTS_WIDTHS["A"], bold=True),
            text_height(grade.descriptor, CONTENTS_WIDTHS["B"] + CONTENTS_WIDTHS["C"]))
        row += 1
    return row


def _case_sheet(wb: Workbook, case: PackCase, marking: str) -> None:
    ws = wb.create_sheet(case.label[:31])
    for col, width in CASE_WIDTHS.items():
        ws.column_dimensions[col].width = width
    put_title(ws, "A1", f"{case.label}: {case.audit_type_name}")
    put_marking(ws, "D1", marking)
    row = 3
    for col, text in zip("ABCD", ("", "Question", "Answer", "Comment / evidence"),
                         strict=True):
        put(ws, f"{col}{row}", text, font=BOLD, fill=SECTION_FILL)
    row += 1
    for a in case.answers:
        put(ws, f"A{row}", a.question_id, alignment=WRAP)
        put(ws, f"B{row}", a.question, alignment=WRAP)
        put(ws, f"C{row}", a.answer, alignment=WRAP)
        put(ws, f"D{row}", a.comment, alignment=WRAP)
        ws.row_dimensions[row].height = max(
            text_height(a.question, CASE_WIDTHS["B"]), text_height(a.answer, CASE_WIDTHS["C"]),
            text_height(a.comment, CASE_WIDTHS["D"]))
        row += 1
    row += 1
    blocks = []
    for label, text in (("Strengths in the work", case.strengths),
                        ("Learning and recommendations", case.learning)):
        put(ws, f"A{row}", label, font=BOLD, fill=SECTION_FILL)
        ws.merge_cells(f"A{row}:D{row}")
        row += 1
        put(ws, f"A{row}", text or "(none recorded)", alignment=WRAP)
        ws.merge_cells(f"A{row}:D{row}")
        ws.row_dimensions[row].height = text_height(text, sum(CASE_WIDTHS.values()))
        blocks.append((row - 1, row))  # the heading over its text
        row += 2
    protect(ws)
    a4(ws)
    ws.print_title_rows = "1:1"
    keep_together(ws, blocks)


@dataclass(frozen=True)
class GradingSheet:
    """What one participant's grading workbook says."""

    workspace_id: str
    workshop: str
    workshop_id: int
    held_on: date
    participant: str  # "Participant 3"
    participant_name: str  # as given, or ""
    cases: tuple[tuple[str, str], ...]  # (label, audit type name), in position order
    signing_key: bytes
    marking: str = DEFAULT_MARKING


def grading_meta(sheet: GradingSheet) -> dict[str, str]:
    values = {
        "form_kind": WORKSHOP_FORM,
        "workspace": sheet.workspace_id,
        "workshop": sheet.workshop,
        "workshop_id": str(sheet.workshop_id),
        "participant": sheet.participant,
        "cases": "|".join(label for label, _ in sheet.cases),
        "qaudit_version": __version__,
    }
    values["signature"] = sign([values[k] for k in WORKSHOP_SIGNED_KEYS], sheet.signing_key)
    return values


def write_grading_workbook(path: Path, sheet: GradingSheet) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = GRADING_SHEET
    for col, width in zip("ABCD", (12, 26, 24, 60), strict=True):
        ws.column_dimensions[col].width = width
    put_title(ws, "A1", f"Audit workshop: {sheet.workshop}")
    put_marking(ws, "D1", sheet.marking)
    who = sheet.participant + (f" ({sheet.participant_name})" if sheet.participant_name
                               else "")
    put(ws, "A2", f"Grading workbook of {who}; held on {sheet.held_on:%d/%m/%Y}.", font=BOLD)
    ws.merge_cells("A2:D2")
    note = ("Grade each case of the pack on your own, before the group discusses it: choose"
            f" the grade from the drop-down in {INPUT_LOOK} of its row and, if you wish, say"
            " why. Leave a grade blank only if you did not read the case.")
    put(ws, "A3", note, alignment=WRAP)
    ws.merge_cells("A3:D3")
    ws.row_dimensions[3].height = text_height(note, 122)
    for col, text in zip("ABCD", ("Case", "Audit type", "Your grade", "Why (optional)"),
                         strict=True):
        put(ws, f"{col}5", text, font=HEADER_FONT, fill=HEADER_FILL)
    grades = list_validation(ws, GRADE_LABELS, "Choose your grade for this case")
    for position, (label, type_name) in enumerate(sheet.cases, start=1):
        row = 5 + position
        put(ws, f"A{row}", label, border=BOX, alignment=WRAP)
        put(ws, f"B{row}", type_name, border=BOX, alignment=WRAP)
        for col, spec in zip("CD", grading_fields(position), strict=True):
            ref = f"{col}{row}"
            input_cell(ws, ref)
            if spec.options:
                grades.add(ref)
            define_name(wb, spec.name, ws, ref)
        ws.row_dimensions[row].height = 3 * LINE + 3
    protect(ws)
    a4(ws)
    ws.print_title_rows = "5:5"
    write_meta(wb, grading_meta(sheet))
    mark_workbook(wb, sheet.marking, f"Workshop {sheet.workshop}, {sheet.participant}")
    save(wb, path)
