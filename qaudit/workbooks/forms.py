"""The audit form and the self-reflection form: layout and the named-cell contract.

Every input cell carries a workbook-level defined name (``docs/forms.md``), so a
returned form is read by name, wherever a user has moved the cell by inserting rows.
The field lists below are the contract; ingest reads the same lists. The protective
marking stands in the title's row (D1) and on every printed page; no named cell moves for it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from pathlib import Path

from openpyxl import Workbook

from qaudit import __version__
from qaudit.config import DEFAULT_AUDITOR_ROLES
from qaudit.grading import ESCALATED_TO, GRADE_LABELS
from qaudit.privacy import sign
from qaudit.questions import ASPECTS, QuestionSet
from qaudit.workbooks.cells import (
    BOLD,
    DEFAULT_MARKING,
    INPUT_LOOK,
    META_SHEET,
    WRAP,
    protect,
    put,
    put_marking,
    put_title,
    split_ref,
    write_meta,
)
from qaudit.workbooks.form_sheet import WIDTHS, FormSheet, InputField
from qaudit.workbooks.paper import a4, keep_together, mark_workbook, text_height
from qaudit.workbooks.template import BLANK_DATE, FOOTER, BookTemplate, CellKey, fill_cells

ANSWERS = ("Yes", "No", "N/A")
YES_NO = ("Yes", "No")
AUDIT_FORM = "audit"
SELF_REFLECTION_FORM = "self_reflection"


def audit_fields(auditor_roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES
                 ) -> tuple[InputField, ...]:
    """The audit form's named fields; the auditor's role is one of the workspace's roles
    (``auditor_roles`` in qaudit.toml: Senior Practitioner and above)."""
    return tuple(replace(f, options=auditor_roles) if f.name == "auditor_role" else f
                 for f in AUDIT_FIELDS)


AUDIT_FIELDS: tuple[InputField, ...] = (
    InputField("grade", "Overall grade", "choice", GRADE_LABELS, required=True),
    InputField("rationale", "Rationale for the grade", "long_text", required=True),
    InputField("strengths", "Strengths in the work", "long_text"),
    InputField(
        "learning", "Learning and recommendations (what would lift the work to a higher grade)",
        "long_text",
    ),
    InputField("share_good_practice", "May be shared anonymously as good practice", "choice",
               YES_NO),
    InputField("esc_raised", "Was a concern escalated?", "choice", YES_NO),
    InputField("esc_to", "Escalated to", "choice", ESCALATED_TO),
    InputField("esc_name", "Name of the manager contacted", "text", max_length=200),
    InputField("esc_date", "Date escalated", "date"),
    InputField("esc_note", "What was escalated and agreed", "long_text"),
    InputField("ri_action", "Corrective action needed (Requires improvement)", "long_text"),
    InputField("ri_by", "Action by whom", "text", max_length=200),
    InputField("ri_due", "Action by when", "date"),
    InputField("auditor_name", "Auditor name", "text", required=True, max_length=200),
    InputField("auditor_role", "Auditor role (Senior Practitioner or above)", "choice",
               DEFAULT_AUDITOR_ROLES, required=True),
    InputField("auditor_date", "Date audit completed", "date", required=True),
)

SELF_REFLECTION_FIELDS: tuple[InputField, ...] = (
    InputField("sr_went_well", "What went well in this piece of work?", "long_text",
               required=True),
    InputField("sr_differently", "What would you do differently?", "long_text"),
    InputField("sr_support", "What support or learning would help you?", "long_text"),
    InputField("sr_grade", "Your own grade for the work (optional)", "choice", GRADE_LABELS),
    InputField("sr_date", "Date completed", "date", required=True),
)


def answer_name(question_id: str) -> str:
    return f"ans_{question_id}"


def comment_name(question_id: str) -> str:
    return f"cmt_{question_id}"


CASE_DETAILS: tuple[tuple[str, str], ...] = (
    ("Cycle", "cycle"),
    ("Allocation reference", "reference"),
    ("Audit type", "audit_type_name"),
    ("Person ID", "person_id"),
    ("Practitioner", "practitioner"),
    ("Team", "team"),
    ("Quadrant", "quadrant"),
    ("Record ID", "record_id"),
    ("Work type in the case record", "work_type"),
    ("Work completed", "completed_date"),
    ("Return by", "due_date"),
    ("Return to", "return_to"),
)
#: The case block's value cells are named too (``case_<field>``, locked): ingest checks
#: that what a form shows is what its hidden sheet says and what was issued.
CASE_NAME_PREFIX = "case_"
#: The drop-downs every form makes first, in this order: (options, prompt).
_DROP_DOWNS = ((ANSWERS, ""), (YES_NO, ""), (GRADE_LABELS, "Choose the overall grade"),
               (ESCALATED_TO, ""))


@dataclass(frozen=True)
class FormCase:
    """What a form says about the case it is for."""

    cycle: str
    reference: str
    audit_type_name: str
    person_id: str
    practitioner: str
    team: str
    quadrant: str
    completed_date: date
    due_date: date
    record_id: str = ""  # ties the form to the drawn record (a person has several)
    work_type: str = ""  # the work type as the case record calls it
    return_to: str = ""  # who to send the form back to: the team and its mailbox
    follows_up: str = ""  # a re-audit: the reference of the audit it follows up


def _case_block(sheet: FormSheet) -> None:
    """What the form is for, filled in per case (:meth:`FormTemplate.cells`), locked."""
    sheet.section("The case (filled in by the Practice Quality Team)")
    for label, attribute in CASE_DETAILS:
        sheet.detail(label, attribute, CASE_NAME_PREFIX + attribute)
    sheet.row += 1


class FormTemplate:
    """A form laid out once, then written for each case.

    Laying a form out and saving it through openpyxl costs tens of milliseconds; a cycle
    writes hundreds of forms of a handful of layouts. So each layout is built once, saved
    once as a :class:`BookTemplate` holding a blank case, and each case's file is that
    template with the case's cells put in (:meth:`cells`): no object model per file.
    """

    def __init__(
        self, sheet: FormSheet, kind: str, questions: QuestionSet | None, workspace_id: str,
        signing_key: bytes = b"", follow_up_cell: str | None = None,
    ) -> None:
        self.sheet = sheet
        self.kind = kind
        self.questions = questions
        self.workspace_id = workspace_id
        self.signing_key = signing_key
        self.follow_up_cell = follow_up_cell

    def cells(self, case: FormCase) -> dict[CellKey, str | date]:
        """Every cell that says which case a form is for: the case block, a re-audit's
        follow-up on the About sheet, the hidden sheet's values (with the signature), and
        the allocation reference in every page's footer (a reference names no one)."""
        values: dict[CellKey, str | date] = {
            (self.sheet.ws.title, ref): getattr(case, attribute)
            for attribute, ref in self.sheet.case_cells.items()
        }
        if self.follow_up_cell is not None:
            values[ABOUT_SHEET, self.follow_up_cell] = case.follows_up
        meta = _meta(self.kind, case, self.questions, self.workspace_id, self.signing_key)
        for row, value in enumerate(meta.values(), start=1):
            values[META_SHEET, f"B{row}"] = value
        for ws in self.sheet.wb.worksheets:
            values[ws.title, FOOTER] = f"Reference {case.reference}"
        return values

    def fill(self, case: FormCase) -> Workbook:
        """The layout's workbook holding ``case``, in openpyxl's object model: what
        :meth:`write` writes, cell for cell (its template is this, for a blank case)."""
        return fill_cells(self.sheet.wb, self.cells(case))

    @cached_property
    def _template(self) -> BookTemplate:
        return BookTemplate(self.fill(_BLANK_CASE), self.cells(_BLANK_CASE).keys())

    def write(self, path: Path, case: FormCase) -> None:
        self._template.write(path, self.cells(case))


#: What a template holds until a case's cells are put in: text, and dates where dates go.
_BLANK_CASE = FormCase(cycle="", reference="", audit_type_name="", person_id="",
                       practitioner="", team="", quadrant="", completed_date=BLANK_DATE,
                       due_date=BLANK_DATE)


ABOUT_SHEET = "About this audit"
FOLLOWS_UP_LABEL = "This re-audit follows up the audit"


def _about_sheet(wb: Workbook, terms: tuple[tuple[str, str], ...], follow_up: bool,
                 marking: str) -> str | None:
    """A second sheet for a deep dive's terms of reference, or a re-audit's link to the
    audit it follows up. Outside the Audit sheet, so no named cell moves (ingest checks
    the Audit sheet's layout as issued). Returns the cell each case's follow-up goes in."""
    ws = wb.create_sheet(ABOUT_SHEET, 1)
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 90
    put_title(ws, "A1", "About this audit")
    put_marking(ws, "B1", marking)
    row = 3
    cell = None
    if follow_up:
        put(ws, f"A{row}", FOLLOWS_UP_LABEL, font=BOLD, alignment=WRAP)
        ws.row_dimensions[row].height = text_height(FOLLOWS_UP_LABEL, 30, bold=True)
        cell = f"B{row}"
        put(ws, f"B{row + 1}", "Audit this later piece of the practitioner's work as you would"
            " any other: the re-audit shows whether the changes asked for have been made.",
            alignment=WRAP)
        row += 3
    if terms:
        put(ws, f"A{row}", "Terms of reference", font=BOLD)
        row += 1
        for label, text in terms:
            put(ws, f"A{row}", label, font=BOLD, alignment=WRAP)
            put(ws, f"B{row}", text, alignment=WRAP)
            ws.row_dimensions[row].height = max(text_height(label, 30, bold=True),
                                                text_height(text, 90))
            row += 1
    protect(ws)
    a4(ws)
    return cell


def audit_form(
    questions: QuestionSet, type_name: str, grades: dict[str, str], workspace_id: str,
    signing_key: bytes = b"", auditor_roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES,
    marking: str = DEFAULT_MARKING, terms: tuple[tuple[str, str], ...] = (),
    follow_up: bool = False,
) -> FormTemplate:
    """An audit form's layout. A deep dive's ``terms`` of reference, and a re-audit's
    ``follow_up`` (the audit it follows up), go on a sheet of their own."""
    wb = Workbook()
    sheet = FormSheet(wb, "Audit", _DROP_DOWNS)
    ws = sheet.ws
    about = ""
    if terms:
        about = f" This is a deep dive: its terms of reference are on the sheet '{ABOUT_SHEET}'."
    elif follow_up:
        about = f" This is a re-audit: the sheet '{ABOUT_SHEET}' says which audit it follows up."
    sheet.title(
        f"Case audit: {type_name}",
        f"Fill in only {INPUT_LOOK}. Answer every question Yes, No or N/A from the drop-down"
        " and say why in the comment where it helps. Fields marked * are required." + about,
        marking,
    )
    _case_block(sheet)
    for aspect in questions.aspects:
        sheet.blocks.append((sheet.row, sheet.row + 1))  # a heading with its first question
        sheet.section(ASPECTS[aspect.key])
        put(ws, f"C{sheet.row - 1}", "Answer", font=BOLD)
        put(ws, f"D{sheet.row - 1}", "Comment / evidence", font=BOLD)
        for q in aspect.questions:
            put(ws, f"A{sheet.row}", q.id, alignment=WRAP)
            text = q.text + (f"\n({q.guidance})" if q.guidance else "")
            put(ws, f"B{sheet.row}", text, alignment=WRAP)
            ws.row_dimensions[sheet.row].height = max(30, text_height(text, WIDTHS["B"]))
            sheet.input(f"C{sheet.row}", answer_name(q.id), ANSWERS)
            sheet.input(f"D{sheet.row}", comment_name(q.id))
            sheet.row += 1
        sheet.row += 1
    fields = {f.name: f for f in audit_fields(auditor_roles)}
    with sheet.together():  # the grade with the descriptors it is chosen by
        sheet.section("Overall grade")
        sheet.field(fields["grade"])
        sheet.descriptors(grades)
    for name in ("rationale", "strengths", "learning", "share_good_practice"):
        sheet.field(fields[name])
    for heading, names in _CLOSING_SECTIONS:
        sheet.row += 1
        with sheet.together():  # the escalation box stays with its heading and its label
            sheet.section(heading)
            for name in names:
                sheet.field(fields[name])
    protect(ws)
    a4(ws)
    ws.print_title_rows = "1:1"
    keep_together(ws, sheet.blocks)
    follow_up_cell = _about_sheet(wb, terms, follow_up, marking) if terms or follow_up else None
    write_meta(wb, dict.fromkeys(_META_KEYS, ""))
    mark_workbook(wb, marking)
    return FormTemplate(sheet, AUDIT_FORM, questions, workspace_id, signing_key,
                        follow_up_cell)


#: The form's last sections, each printed whole on one page: (heading, its fields).
_CLOSING_SECTIONS = (
    ("Escalation: a concern about practice, raised with the team manager or, in their"
     " absence, the Service Manager", ("esc_raised", "esc_to", "esc_name", "esc_date",
                                       "esc_note")),
    ("If the grade is Requires improvement", ("ri_action", "ri_by", "ri_due")),
    ("Auditor", ("auditor_name", "auditor_role", "auditor_date")),
)

def self_reflection_form(type_name: str, workspace_id: str, signing_key: bytes = b"",
                         marking: str = DEFAULT_MARKING) -> FormTemplate:
    wb = Workbook()
    sheet = FormSheet(wb, "Self-reflection", _DROP_DOWNS)
    sheet.title(
        f"Practitioner self-reflection: {type_name}",
        "This piece of your work has been chosen at random for a case audit. Please reflect on"
        f" it below and return the form by the date shown. Fill in only {INPUT_LOOK}.",
        marking,
    )
    _case_block(sheet)
    sheet.blocks.append((sheet.row, sheet.row + 2))  # the heading with the first question
    sheet.section("Your reflection")
    for spec in SELF_REFLECTION_FIELDS:
        sheet.field(spec)
    protect(sheet.ws)
    a4(sheet.ws)
    keep_together(sheet.ws, sheet.blocks)
    write_meta(wb, dict.fromkeys(_META_KEYS, ""))
    mark_workbook(wb, marking)
    return FormTemplate(sheet, SELF_REFLECTION_FORM, None, workspace_id, signing_key)


_META_KEYS = (
    "form_kind", "workspace", "reference", "record_id", "cycle", "question_set",
    "question_set_version",
    "question_set_hash", "qaudit_version", "signature",
)
#: What the signature covers: a form's identification cannot be edited undetected.
SIGNED_KEYS = ("form_kind", "workspace", "reference", "record_id", "cycle",
               "question_set_hash")


def _meta(
    kind: str, case: FormCase, questions: QuestionSet | None, workspace_id: str,
    signing_key: bytes,
) -> dict[str, str]:
    values = {
        "form_kind": kind,
        "workspace": workspace_id,
        "reference": case.reference,
        "record_id": case.record_id,
        "cycle": case.cycle,
        "question_set": questions.id if questions else "",
        "question_set_version": questions.version if questions else "",
        "question_set_hash": questions.digest if questions else "",
        "qaudit_version": __version__,
    }
    values["signature"] = (sign([values[k] for k in SIGNED_KEYS], signing_key)
                           if signing_key else "")
    assert tuple(values) == _META_KEYS
    return values


_LAYOUTS: dict[tuple[str, str], dict[str, tuple[str, str, int]]] = {}


def form_layout(kind: str, questions: QuestionSet | None) -> dict[str, tuple[str, str, int]]:
    """Where each named cell of a form is as issued: name -> (sheet, column, row). The
    layout depends only on the kind and question set, so it is built once of each."""
    key = (kind, questions.digest if questions else "")
    if key not in _LAYOUTS:
        if kind == AUDIT_FORM:
            assert questions is not None
            template = audit_form(questions, "", {}, "")
        else:
            template = self_reflection_form("", "")
        layout: dict[str, tuple[str, str, int]] = {}
        for name, definition in template.sheet.wb.defined_names.items():
            for sheet, ref in definition.destinations:
                column, row = split_ref(ref.replace("$", ""))
                layout[name] = (sheet, column, int(row))
        _LAYOUTS[key] = layout
    return _LAYOUTS[key]
