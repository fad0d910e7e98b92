"""The moderation workbook: written for the Practice Leads' group session, read back after.

Same contract discipline as the audit forms (``docs/forms.md``): every input cell is a
workbook-level defined name (``mod_<n>_grade`` and so on, ``n`` the row's number), a very
hidden ``_qaudit`` sheet identifies the workspace, cycle and sample, and only input cells
are unlocked. A second sheet carries each sampled audit's answers, rationale and feedback,
so the session can work from the workbook alone. No person id or name is written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from qaudit import __version__
from qaudit.db import Outcome, SampleItem
from qaudit.errors import Finding
from qaudit.grading import GRADE_LABELS, GRADES, parse_grade
from qaudit.questions import QuestionSet
from qaudit.validation import Checker
from qaudit.workbooks.cells import (
    BOLD,
    BOX,
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
    protect,
    put,
    save,
    write_meta,
)
from qaudit.workbooks.forms import YES_NO, InputField
from qaudit.workbooks.reader import RawForm

MODERATION_FORM = "moderation"
THEMES = (
    "Person's voice", "Quality of practice", "Impact of practice", "Quality of recording",
    "Applying the grading criteria", "Quality of feedback",
)
_GRADE_LABEL = {g.key: g.label for g in GRADES}


def row_fields(n: int) -> tuple[InputField, ...]:
    """The named inputs of row ``n`` of the moderation sheet."""
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
    blind: bool
    items: list[SampleItem]
    type_names: dict[str, str]
    question_sets: dict[str, QuestionSet]  # by audit type
    answers: dict[int, list[tuple[str, str, str]]]  # return id -> (question, answer, comment)


def write_moderation_workbook(path: Path, sheet: SampleSheet) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Moderation"
    put(ws, "A1", f"Moderation session: {sheet.cycle}", font=TITLE)
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
    for item in sheet.items:
        row = 4 + item.position
        audit = item.audit
        shown = "(blind)" if sheet.blind else _GRADE_LABEL.get(audit.grade, audit.grade)
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
        "sample_id": str(sheet.sample_id), "items": str(len(sheet.items)),
        "qaudit_version": __version__,
    }
    meta.update({f"item_{i.position}": i.audit.reference for i in sheet.items})
    write_meta(wb, meta)
    save(wb, path)


def _write_audits_sheet(wb: Workbook, sheet: SampleSheet) -> None:
    ws = wb.create_sheet("Audits")
    for col, width in zip("ABCD", (8, 60, 10, 50), strict=True):
        ws.column_dimensions[col].width = width
    row = 1
    for item in sheet.items:
        audit = item.audit
        questions = {q.id: q.text for q in sheet.question_sets[audit.audit_type].questions}
        grade = "" if sheet.blind else f" · auditor's grade: {_GRADE_LABEL.get(audit.grade)}"
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


@dataclass
class ModerationReturn:
    sample_id: int
    outcomes: dict[int, Outcome]  # position -> outcome

    @property
    def content_hash(self) -> str:
        body = json.dumps({str(k): v.__dict__ for k, v in sorted(self.outcomes.items())},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


def read_moderation(raw: RawForm, workspace_id: str, cycle_sample: dict[str, int],
                    positions: list[int], today: date) -> tuple[
    ModerationReturn | None, list[Finding]
]:
    """Validate a filled moderation workbook against the cycle's current sample."""
    meta = raw.meta
    where = ("_qaudit", "(identification)")

    def refuse(message: str) -> tuple[None, list[Finding]]:
        return None, [Finding(raw.path.name, where[0], where[1], message)]

    if meta.get("form_kind") != MODERATION_FORM:
        return refuse("this is not a moderation workbook; give the one `qaudit moderate"
                      " select` wrote")
    if meta.get("workspace") != workspace_id:
        return refuse("the workbook was written by another qaudit workspace")
    cycle = meta.get("cycle", "")
    if cycle not in cycle_sample:
        return refuse(f"cycle {cycle!r} has no current moderation sample")
    if meta.get("sample_id") != str(cycle_sample[cycle]):
        return refuse(f"the workbook is for an earlier moderation sample of {cycle!r}, which"
                      " was redrawn; use the workbook of the current sample")
    check = Checker(raw, today)
    outcomes: dict[int, Outcome] = {}
    for n in positions:
        values = check.fields(row_fields(n))
        grade = parse_grade(values[f"mod_{n}_grade"])
        outcomes[n] = Outcome(
            moderated_grade=grade.key if grade else "",
            constructive=values[f"mod_{n}_constructive"],
            names_strengths=values[f"mod_{n}_strengths"],
            names_learning=values[f"mod_{n}_learning_named"],
            theme=values[f"mod_{n}_theme"],
            comments=values[f"mod_{n}_comments"],
            learning=values[f"mod_{n}_learning"],
        )
    if check.findings:
        return None, check.findings
    return ModerationReturn(cycle_sample[cycle], outcomes), []
