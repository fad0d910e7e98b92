"""Checking a returned form against the form contract: findings as data, never half a form.

Pure: takes what ``formread`` read and what was issued, returns either a parsed return
or every finding at once (file, sheet, cell, value, what is allowed). What a person
types is tolerated (case, spaces, ``Y``/``N``, ``NA``, ``n/a``); what is wrong is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from qaudit.errors import Finding
from qaudit.grading import GRADE_LABELS, GRADES, parse_grade
from qaudit.questions import QuestionSet
from qaudit.workbooks.case_export import parse_date
from qaudit.workbooks.forms import (
    ANSWERS,
    AUDIT_FIELDS,
    AUDIT_FORM,
    SELF_REFLECTION_FIELDS,
    InputField,
    answer_name,
    comment_name,
)
from qaudit.workbooks.reader import NamedCell, RawForm

COMMENT_MAX = 2000
#: Dates that record something already done cannot lie in the future.
PAST_DATES = frozenset({"auditor_date", "esc_date", "sr_date"})
_YES = {"yes", "y", "true", "✓", "✔"}
_NO = {"no", "n", "false"}
_NA = {"na", "notapplicable", "nonapplicable"}


@dataclass(frozen=True)
class Issued:
    """What the workspace issued for the allocation a form claims to be for."""

    reference: str
    cycle: str
    workspace_id: str
    record_id: str
    practitioner: str
    due: date
    question_set: QuestionSet | None  # None for self-reflection forms


@dataclass
class ParsedReturn:
    reference: str
    kind: str
    fields: dict[str, str]  # every named field, normalised; dates ISO; blank = ""
    answers: list[tuple[str, str, str, str]]  # question id, aspect, answer, comment
    warnings: list[str] = field(default_factory=list)

    @property
    def grade(self) -> str | None:
        g = parse_grade(self.fields.get("grade", ""))
        return g.key if g else None

    @property
    def content_hash(self) -> str:
        """Same content, same hash, whatever bytes Excel or LibreOffice saved it as."""
        body = json.dumps(
            {"reference": self.reference, "kind": self.kind, "fields": self.fields,
             "answers": self.answers},
            sort_keys=True, ensure_ascii=False,
        )
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


def fold(text: str) -> str:
    return re.sub(r"[^a-z✓✔]", "", text.lower())


def normalise_answer(value: Any) -> str | None:
    """Yes, No or N/A from what a person typed; None if it is none of them."""
    if not isinstance(value, str):
        return None
    key = fold(value)
    if key in _YES:
        return "Yes"
    if key in _NO:
        return "No"
    if key in _NA:
        return "N/A"
    return None


class Checker:
    def __init__(self, raw: RawForm, today: date) -> None:
        self.raw = raw
        self.today = today
        self.findings: list[Finding] = []

    def finding(self, cell: NamedCell | None, name: str, message: str, value: Any = "") -> None:
        self.findings.append(Finding(
            file=self.raw.path.name,
            sheet=cell.sheet if cell else "",
            cell=f"{cell.ref} ({name})" if cell else name,
            message=message,
            value="" if value is None else str(value)[:80],
        ))

    def cell(self, name: str) -> NamedCell | None:
        found = self.raw.cells.get(name)
        if found is None:
            self.finding(None, name, "the named cell is missing (was the form rebuilt or a"
                         " sheet deleted?); fill in the form that was issued")
            return None
        if found.data_type == "f":
            self.finding(found, name, "holds a formula; type the value itself", found.value)
            return None
        if found.data_type == "e":
            self.finding(found, name, "holds an error value; type the value itself",
                         found.value)
            return None
        return found

    def text(self, name: str, required: bool, max_length: int) -> str:
        found = self.cell(name)
        if found is None:
            return ""
        value = found.value
        if isinstance(value, datetime | date):
            value = value.strftime("%d/%m/%Y")
        text = "" if value is None else str(value).strip()
        if isinstance(found.value, float) and found.value.is_integer():
            text = str(int(found.value))
        if required and not text:
            self.finding(found, name, "is required; please fill it in")
        if len(text) > max_length:
            self.finding(found, name, f"is {len(text):,} characters; at most {max_length:,}"
                         " fit here", text[:40] + "…")
        return text

    def choice(self, spec: InputField) -> str:
        found = self.cell(spec.name)
        if found is None or found.value is None or str(found.value).strip() == "":
            if found is not None and spec.required:
                self.finding(found, spec.name, "is required; choose "
                             + ", ".join(spec.options))
            return ""
        typed = str(found.value)
        if spec.options == GRADE_LABELS:
            grade = parse_grade(typed)
            if grade:
                return grade.label
        elif set(spec.options) == {"Yes", "No"}:
            answer = normalise_answer(typed)
            if answer in ("Yes", "No"):
                return answer
        else:
            for option in spec.options:
                if fold(option) == fold(typed):
                    return option
        self.finding(found, spec.name, "is not allowed; choose " + ", ".join(spec.options),
                     typed)
        return ""

    def date_field(self, spec: InputField) -> str:
        found = self.cell(spec.name)
        if found is None or found.value is None or str(found.value).strip() == "":
            if found is not None and spec.required:
                self.finding(found, spec.name, "is required; enter a date as dd/mm/yyyy")
            return ""
        parsed = parse_date(found.value)
        if parsed is None:
            self.finding(found, spec.name, "is not a date; enter it as dd/mm/yyyy",
                         found.value)
            return ""
        if spec.name in PAST_DATES and parsed > self.today:
            self.finding(found, spec.name, f"is in the future ({parsed:%d/%m/%Y}); enter the"
                         " date it happened", found.value)
        return parsed.isoformat()

    def fields(self, specs: tuple[InputField, ...]) -> dict[str, str]:
        values: dict[str, str] = {}
        for spec in specs:
            if spec.kind == "choice":
                values[spec.name] = self.choice(spec)
            elif spec.kind == "date":
                values[spec.name] = self.date_field(spec)
            else:
                values[spec.name] = self.text(spec.name, spec.required, spec.max_length)
        return values


def check_meta(raw: RawForm, issued: Issued, kind: str) -> list[Finding]:
    """Is this form the one issued for this allocation, in this workspace?"""
    problems: list[str] = []
    meta = raw.meta
    if meta.get("workspace") != issued.workspace_id:
        problems.append("the form was issued by another qaudit workspace; send it to the team"
                        " that issued it")
    elif meta.get("record_id") != issued.record_id:
        problems.append(f"the form was issued for an earlier draw of {issued.cycle!r}, in which"
                        f" {issued.reference} was a different case; it was replaced by a redraw,"
                        " so this form cannot be taken")
    elif meta.get("cycle") != issued.cycle:
        problems.append(f"the form is for cycle {meta.get('cycle')!r}, but"
                        f" {issued.reference} belongs to {issued.cycle!r}")
    qs = issued.question_set
    if kind == AUDIT_FORM and qs is not None and (
        meta.get("question_set_version") != qs.version
        or meta.get("question_set_hash") != qs.digest
    ):
        problems.append(
            f"the form has question set {meta.get('question_set')} version"
            f" {meta.get('question_set_version')!r}, but version {qs.version!r} was issued"
            f" for {issued.reference}; copy the answers into the issued form"
        )
    return [Finding(raw.path.name, "_qaudit", "(identification)", p) for p in problems]


def validate(raw: RawForm, issued: Issued, kind: str, today: date) -> tuple[
    ParsedReturn | None, list[Finding]
]:
    """Every finding in the form, or the parsed return if there are none."""
    meta_findings = check_meta(raw, issued, kind)
    if meta_findings:
        return None, meta_findings
    check = Checker(raw, today)
    answers: list[tuple[str, str, str, str]] = []
    if kind == AUDIT_FORM:
        assert issued.question_set is not None
        for aspect in issued.question_set.aspects:
            for q in aspect.questions:
                cell = check.cell(answer_name(q.id))
                answer = normalise_answer(cell.value) if cell else None
                if cell is not None and answer is None:
                    blank = cell.value is None or str(cell.value).strip() == ""
                    message = ("is required: answer " if blank else "is not an answer: choose ")
                    check.finding(cell, answer_name(q.id), message + ", ".join(ANSWERS),
                                  cell.value)
                comment = check.text(comment_name(q.id), False, COMMENT_MAX)
                answers.append((q.id, aspect.key, answer or "", comment))
        fields = check.fields(AUDIT_FIELDS)
        _audit_rules(check, fields)
    else:
        fields = check.fields(SELF_REFLECTION_FIELDS)
    if check.findings:
        return None, check.findings
    parsed = ParsedReturn(issued.reference, kind, fields, answers)
    parsed.warnings = _warnings(parsed, issued)
    return parsed, []


def _audit_rules(check: Checker, fields: dict[str, str]) -> None:
    """Rules across fields: an escalation says whom and when; RI says what will be done."""
    if fields.get("esc_raised") == "Yes":
        for name, what in (("esc_to", "whom it went to"), ("esc_name", "the manager's name"),
                           ("esc_date", "when")):
            if not fields.get(name):
                cell = check.raw.cells.get(name)
                check.finding(cell, name, f"an escalation must say {what}")
    if fields.get("grade") == GRADES[0].label:
        for name, what in (("ri_action", "the corrective action needed"),
                           ("ri_by", "who will take it"), ("ri_due", "by when")):
            if not fields.get(name):
                cell = check.raw.cells.get(name)
                check.finding(cell, name, f"a 'Requires improvement' grade must say {what}")


def _warnings(parsed: ParsedReturn, issued: Issued) -> list[str]:
    notes: list[str] = []
    fields = parsed.fields
    if parsed.kind == AUDIT_FORM:
        yes = sum(1 for a in parsed.answers if a[2] == "Yes")
        no = sum(1 for a in parsed.answers if a[2] == "No")
        grade = parse_grade(fields.get("grade", ""))
        if grade and grade.rank >= 3 and yes + no and no / (yes + no) > 0.3:
            notes.append(f"grade {grade.label} with {no} of {yes + no} answers No")
        if grade and grade.rank == 1 and yes + no and no == 0:
            notes.append("grade Requires improvement but every answer is Yes")
        auditor = " ".join(fields.get("auditor_name", "").casefold().split())
        if auditor and auditor == " ".join(issued.practitioner.casefold().split()):
            notes.append("the auditor is the practitioner whose work was audited")
    done = fields.get("auditor_date") or fields.get("sr_date")
    if done and date.fromisoformat(done) > issued.due:
        late = (date.fromisoformat(done) - issued.due).days
        notes.append(f"completed {late} day(s) after the due date {issued.due:%d/%m/%Y}")
    return notes
