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
from qaudit.workbooks.forms import YES_NO
from qaudit.workbooks.paper import LINE, a4, keep_together, mark_workbook, text_height

MODERATION_FORM = "moderation"
THEMES = (
    "Person's voice", "Quality of practice", "Impact of practice", "Quality of recording",
    "Applying the grading criteria", "Quality of feedback",
)


HEADERS = ("#", "Reference", "Audit type", "Quadrant", "Auditor's grade", "Moderated grade *",
           "Feedback constructive? *", "Names strengths? *", "Names learning? *", "Theme",
           "Moderators' comments", "Learning for the auditor")
#: Each column wide enough for its header's longest word in bold ("constructive?").
WIDTHS = (5, 17, 24, 12, 16, 20, 16, 14, 14, 22, 40, 40)
#: The Audits sheet: label or question id, question, answer, comment.
AUDITS_WIDTHS = {"A": 16, "B": 60, "C": 10, "D": 50}


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
    marking: str = DEFAULT_MARKING  # the protective marking, [organisation] protective_marking


def write_moderation_workbook(path: Path, sheet: SampleSheet) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Moderation"
    title = f"Moderation session: {sheet.cycle}"
    put_title(ws, "A1", title + (f" (round {sheet.round})" if sheet.round > 1 else ""))
    put_marking(ws, "K1", sheet.marking)  # top right, beside the title
    ws.merge_cells("K1:L1")
    note = ("For each audit agree the grade the group would give, whether the feedback is"
            " constructive and names strengths and learning, and what the auditor can learn."
            f" Fill in {INPUT_LOOK} of each row; the audits are on the next sheet." +
            (" Blind: the auditor's grade is not shown." if sheet.blind else ""))
    put(ws, "A2", note, alignment=WRAP)
    ws.merge_cells("A2:L2")
    ws.row_dimensions[2].height = text_height(note, sum(WIDTHS))
    for col, (text, width) in enumerate(zip(HEADERS, WIDTHS, strict=True), start=1):
        letter = get_column_letter(col)
        put(ws, f"{letter}4", text, font=HEADER_FONT, fill=HEADER_FILL, alignment=WRAP)
        ws.column_dimensions[letter].width = width
    ws.row_dimensions[4].height = max(text_height(text, width, bold=True)
                                      for text, width in zip(HEADERS, WIDTHS, strict=True))
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
            input_cell(ws, ref)
            if spec.options:
                validations[spec.options].add(ref)
            define_name(wb, spec.name, ws, ref)
        ws.row_dimensions[row].height = 3 * LINE + 3
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
    mark_workbook(wb, sheet.marking, f"Moderation {sheet.cycle}, round {sheet.round}")
    save(wb, path)


def _write_audits_sheet(wb: Workbook, sheet: SampleSheet) -> None:
    """Each sampled audit's rationale, strengths, learning and answers, every row tall
    enough for its text; an audit's heading prints on the page of its rationale, strengths
    and learning."""
    ws = wb.create_sheet("Audits")
    for col, width in AUDITS_WIDTHS.items():
        ws.column_dimensions[col].width = width
    row = 1
    blocks = []
    for item in sheet.items:
        blocks.append((row, row + 3))  # the heading, rationale, strengths and learning
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
            text = audit.fields.get(key, "")
            put(ws, f"A{row}", label, font=BOLD, alignment=WRAP)
            put(ws, f"B{row}", text, alignment=WRAP)
            ws.merge_cells(f"B{row}:D{row}")
            ws.row_dimensions[row].height = max(
                text_height(label, AUDITS_WIDTHS["A"], bold=True),
                text_height(text, AUDITS_WIDTHS["B"] + AUDITS_WIDTHS["C"] + AUDITS_WIDTHS["D"]))
            row += 1
        for qid, answer, comment in sheet.answers.get(audit.return_id, []):
            for col, text in zip("ABCD", (qid, questions.get(qid, ""), answer, comment),
                                 strict=True):
                put(ws, f"{col}{row}", text, alignment=WRAP)
            ws.row_dimensions[row].height = max(
                text_height(questions.get(qid, ""), AUDITS_WIDTHS["B"]),
                text_height(comment, AUDITS_WIDTHS["D"]))
            row += 1
        row += 1
    protect(ws)
    a4(ws)
    keep_together(ws, blocks)
