"""The moderation workbook, written for the Practice Leads' group session.

``validation.check_moderation`` reads it back.

Same contract discipline as the audit forms (``docs/forms.md``): every input cell is a
workbook-level defined name (``mod_<n>_grade`` and so on, ``n`` the item's number in the
sample), a very hidden ``_qaudit`` sheet identifies the workspace, cycle, sample and round,
and only input cells are unlocked. A top-up round gets a workbook of its own new picks.
A second sheet carries each sampled audit's answers, rationale and feedback,
so the session can work from the workbook alone. No person id or name is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from qaudit import __version__
from qaudit.db import SampleItem
from qaudit.grading import GRADE_LABELS, LABEL
from qaudit.questions import QuestionSet
from qaudit.workbooks.cells import (
    BOLD,
    BOX,
    DEFAULT_MARKING,
    HEADER_FILL,
    HEADER_FONT,
    INPUT_FILL,
    SECTION_FILL,
    TITLE,
    UNLOCKED,
    WRAP,
    a4,
    define_name,
    list_validation,
    mark_workbook,
    protect,
    put,
    put_marking,
    save,
    write_meta,
)
from qaudit.workbooks.forms import YES_NO, InputField

MODERATION_FORM = "moderation"
THEMES = (
    "Person's voice", "Quality of practice", "Impact of practice", "Quality of recording",
    "Applying the grading criteria", "Quality of feedback",
)


def row_fields(n: int) -> tuple[InputField, ...]:
    """The named inputs of item ``n`` of the sample (its row of the moderation sheet)."""
    return (
        InputField(f"mod_{n}_grade", "Moderated grade", "choice", GRADE_LABELS, required=True),
        InputField(f"mod_{n}_constructive", "Feedback constructive?", "choice", YES_NO,
                   required=True),
        InputField(f"mod_{n}_strengths", "Names strengths?", "choice", YES_NO, required=True),
        InputField(f"mod_{n}_learning_named", "Names learning?", "choice", YES_NO,
                   required=True),
        InputField(f"mod_{n}_theme", "Theme", "choice", THEMES),
        InputField(f"mod_{n}_comments", "Moderators' comments", "long_text"),
        InputField(f"mod_{n}_learning", "Learning for the auditor", "long_text"),
    )


@dataclass(frozen=True)
class SampleSheet:
    workspace_id: str
    cycle: str
    sample_id: int
    round: int
    blind: bool
    items: list[SampleItem]  # this round's
    type_names: dict[str, str]
    question_sets: dict[str, QuestionSet]  # by audit type
    answers: dict[int, list[tuple[str, str, str]]]  # return id -> (question, answer, comment)
    marking: str = DEFAULT_MARKING  # the protective marking, [mail] protective_marking


def write_moderation_workbook(path: Path, sheet: SampleSheet) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Moderation"
    title = f"Moderation session: {sheet.cycle}"
    put(ws, "A1", title + (f" (round {sheet.round})" if sheet.round > 1 else ""), font=TITLE)
    put_marking(ws, "K1", sheet.marking)  # top right, beside the title
    ws.merge_cells("K1:L1")
    put(ws, "A2", "For each audit agree the grade the group would give, whether the feedback is"
        " constructive and names strengths and learning, and what the auditor can learn."
        " Fill the yellow cells; the audits are on the next sheet." +
        (" Blind: the auditor's grade is not shown." if sheet.blind else ""), alignment=WRAP)
    ws.merge_cells("A2:L2")
    ws.row_dimensions[2].height = 32
    headers = ["#", "Reference", "Audit type", "Quadrant", "Auditor's grade",
               "Moderated grade *", "Feedback constructive? *", "Names strengths? *",
               "Names learning? *", "Theme", "Moderators' comments", "Learning for the auditor"]
    widths = [5, 17, 24, 12, 16, 20, 14, 12, 12, 22, 40, 40]
    for col, (text, width) in enumerate(zip(headers, widths, strict=True), start=1):
        letter = get_column_letter(col)
        put(ws, f"{letter}4", text, font=HEADER_FONT, fill=HEADER_FILL, alignment=WRAP)
        ws.column_dimensions[letter].width = width
    validations = {opts: list_validation(ws, opts) for opts in (GRADE_LABELS, YES_NO, THEMES)}
    for row, item in enumerate(sheet.items, start=5):
        audit = item.audit
        shown = "(blind)" if sheet.blind else LABEL.get(audit.grade, audit.grade)
        for col, value in enumerate((item.position, audit.reference,
                                     sheet.type_names[audit.audit_type], audit.quadrant, shown),
                                    start=1):
            put(ws, f"{get_column_letter(col)}{row}", value, border=BOX, alignment=WRAP)
        for col, spec in enumerate(row_fields(item.position), start=6):
            ref = f"{get_column_letter(col)}{row}"
            cell = ws[ref]
            cell.protection = UNLOCKED
            cell.fill = INPUT_FILL
            cell.border = BOX
            cell.alignment = WRAP
            if spec.options:
                validations[spec.options].add(ref)
            define_name(wb, spec.name, ws, ref)
        ws.row_dimensions[row].height = 45
    ws.freeze_panes = "C5"
    protect(ws)
    a4(ws, landscape=True)
    ws.print_title_rows = "4:4"
    _write_audits_sheet(wb, sheet)
    meta = {
        "form_kind": MODERATION_FORM, "workspace": sheet.workspace_id, "cycle": sheet.cycle,
        "sample_id": str(sheet.sample_id), "round": str(sheet.round),
        "items": str(len(sheet.items)),
        "qaudit_version": __version__,
    }
    meta.update({f"item_{i.position}": i.audit.reference for i in sheet.items})
    write_meta(wb, meta)
    mark_workbook(wb, sheet.marking)
    save(wb, path)


def _write_audits_sheet(wb: Workbook, sheet: SampleSheet) -> None:
    ws = wb.create_sheet("Audits")
    for col, width in zip("ABCD", (8, 60, 10, 50), strict=True):
        ws.column_dimensions[col].width = width
    row = 1
    for item in sheet.items:
        audit = item.audit
        questions = {q.id: q.text for q in sheet.question_sets[audit.audit_type].questions}
        grade = "" if sheet.blind else f" · auditor's grade: {LABEL.get(audit.grade)}"
        for col in "ABCD":
            ws[f"{col}{row}"].fill = SECTION_FILL
        put(ws, f"A{row}", f"#{item.position} {audit.reference} · "
            f"{sheet.type_names[audit.audit_type]} · {audit.quadrant}{grade}", font=BOLD)
        row += 1
        for label, key in (("Rationale", "rationale"), ("Strengths", "strengths"),
                           ("Learning and recommendations", "learning")):
            put(ws, f"A{row}", label, font=BOLD)
            put(ws, f"B{row}", audit.fields.get(key, ""), alignment=WRAP)
            ws.merge_cells(f"B{row}:D{row}")
            ws.row_dimensions[row].height = 45
            row += 1
        for qid, answer, comment in sheet.answers.get(audit.return_id, []):
            put(ws, f"A{row}", qid)
            put(ws, f"B{row}", questions.get(qid, ""), alignment=WRAP)
            put(ws, f"C{row}", answer)
            put(ws, f"D{row}", comment, alignment=WRAP)
            row += 1
        row += 1
    protect(ws)
    a4(ws)
