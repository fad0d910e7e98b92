"""Checking a returned workbook against its contract: findings as data, never half a form.

Takes what ``workbooks.reader`` read and what was issued, and returns either a parsed
return or every finding at once (file, sheet, cell, value, what is allowed, and a stable
``code``). What a person types is tolerated (case, spaces, ``Y``/``N``, ``NA``,
``n/a``); what is wrong is refused. Audit forms, self-reflection forms, the
moderation workbook and the workshop's grading workbooks are all checked here.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from qaudit.config import DEFAULT_AUDITOR_ROLES
from qaudit.db import IssuedAllocation, Outcome, Sample
from qaudit.db.assignments import StaffEntry
from qaudit.db.workshops import Workshop
from qaudit.errors import Finding
from qaudit.grading import GRADE_LABELS, LABEL, REQUIRES_IMPROVEMENT, parse_grade
from qaudit.privacy import signature_matches
from qaudit.questions import QuestionSet
from qaudit.values import (
    HIDDEN_IN_LINE,
    NotAnEmail,
    checked_email,
    fold,
    fold_line_endings,
    in_domains,
    normalise_answer,
    normalise_id,
    parse_date,
    person_key,
    same_email,
)
from qaudit.workbooks.cells import INPUT_LOOK, META_SHEET, split_ref
from qaudit.workbooks.form_sheet import InputField
from qaudit.workbooks.forms import (
    ANSWERS,
    AUDIT_FORM,
    CASE_NAME_PREFIX,
    SELF_REFLECTION_FIELDS,
    SELF_REFLECTION_FORM,
    SIGNED_KEYS,
    answer_name,
    audit_fields,
    comment_name,
    form_layout,
)
from qaudit.workbooks.manager import (
    MANAGER_FORM,
    MANAGER_SIGNED_KEYS,
    auditor_fields,
    manager_layout,
    reference_name,
)
from qaudit.workbooks.moderation import MODERATION_FORM, row_fields
from qaudit.workbooks.reader import NamedCell, RawForm
from qaudit.workbooks.workshop import WORKSHOP_FORM, WORKSHOP_SIGNED_KEYS, grading_fields

COMMENT_MAX = 2000
#: No audit, escalation or reflection of this framework happened before this date.
EARLIEST_DATE = date(2000, 1, 1)
#: Dates that record something already done cannot lie in the future.
PAST_DATES = frozenset({"auditor_date", "esc_date", "sr_date"})
IDENTIFICATION = "(identification)"


#: How far a named cell may have moved down from where it was issued: users may insert
#: rows for notes; any further, or sideways, or onto another sheet, is an edited form.
MAX_INSERTED_ROWS = 200


@dataclass(frozen=True)
class Issued:
    """What the workspace issued for the allocation a form claims to be for."""

    reference: str
    cycle: str
    record_id: str
    practitioner: str
    due: date
    question_set: QuestionSet | None  # None for self-reflection forms
    person_id: str = ""
    audit_type_name: str = ""
    signing_key: bytes = b""  # empty: issued before forms were signed
    redrawn_records: frozenset[str] = frozenset()  # the reference's records in redraws
    auditor_roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES
    named_auditor: str = ""  # the auditor the Service Manager named, if their workbook is in


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


def _identification(raw: RawForm, code: str, message: str) -> Finding:
    return Finding(code, raw.path.name, META_SHEET, IDENTIFICATION, message)


def identify(raw: RawForm, workspace_id: str, kinds: tuple[str, ...]) -> Finding | None:
    """Is this one of ``kinds`` of workbook, issued by this workspace? ``None`` if so."""
    if raw.meta.get("form_kind") not in kinds:
        if kinds == (MODERATION_FORM,):
            return _identification(raw, "not-a-moderation-workbook",
                                   "this is not a moderation workbook; give the one"
                                   " `qaudit moderate select` wrote")
        return _identification(raw, "unknown-form-kind",
                               "the form's identification sheet is damaged (unknown form"
                               " kind); use the form that was issued")
    if raw.meta.get("workspace") != workspace_id:
        if kinds == (MODERATION_FORM,):
            return _identification(raw, "foreign-workspace", "the workbook was written by"
                                   " another qaudit workspace")
        if raw.meta.get("form_kind") == MANAGER_FORM:
            return _identification(raw, "foreign-workspace",
                                   "this Service Manager workbook was written by another"
                                   " qaudit workspace; check it is one this team sent out")
        return _identification(raw, "foreign-workspace",
                               f"allocation reference {raw.meta.get('reference', '')!r} was"
                               " issued by another qaudit workspace; check the file is a form"
                               " this team issued")
    return None


class Checker:
    def __init__(self, raw: RawForm, today: date) -> None:
        self.raw = raw
        self.today = today
        self.findings: list[Finding] = []

    def finding(self, cell: NamedCell | None, name: str, code: str, message: str,
                value: Any = "") -> None:
        self.findings.append(Finding(
            code=code,
            file=self.raw.path.name,
            sheet=cell.sheet if cell else "",
            cell=f"{cell.ref} ({name})" if cell else name,
            message=message,
            value="" if value is None else str(value)[:80],
        ))

    def cell(self, name: str) -> NamedCell | None:
        found = self.raw.cells.get(name)
        if found is None:
            self.finding(None, name, "missing-cell", "the named cell is missing (was the form"
                         " rebuilt or a sheet deleted?); fill in the form that was issued")
            return None
        if found.data_type == "f":
            self.finding(found, name, "formula", "holds a formula; type the value itself",
                         found.value)
            return None
        if found.data_type == "e":
            self.finding(found, name, "error-value", "holds an error value; type the value"
                         " itself", found.value)
            return None
        return found

    def text(self, name: str, required: bool, max_length: int) -> str:
        found = self.cell(name)
        if found is None:
            return ""
        value = found.value
        if isinstance(value, datetime | date):
            value = value.strftime("%d/%m/%Y")
        # Excel keeps CR LF in a cell, LibreOffice writes LF: line endings are folded, so a
        # re-save by either is the same return.
        text = "" if value is None else fold_line_endings(str(value)).strip()
        if isinstance(found.value, float) and found.value.is_integer():
            text = str(int(found.value))
        if required and not text:
            self.finding(found, name, "required", "is required; please fill it in")
        if len(text) > max_length:
            self.finding(found, name, "too-long", f"is {len(text):,} characters; at most"
                         f" {max_length:,} fit here", text[:40] + "…")
        return text

    def choice(self, spec: InputField) -> str:
        found = self.cell(spec.name)
        if found is None or found.value is None or str(found.value).strip() == "":
            if found is not None and spec.required:
                self.finding(found, spec.name, "required", "is required; choose "
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
        self.finding(found, spec.name, "not-allowed", "is not allowed; choose "
                     + ", ".join(spec.options), typed)
        return ""

    def date_field(self, spec: InputField) -> str:
        found = self.cell(spec.name)
        if found is None or found.value is None or str(found.value).strip() == "":
            if found is not None and spec.required:
                self.finding(found, spec.name, "required", "is required; enter a date as"
                             " dd/mm/yyyy")
            return ""
        parsed = parse_date(found.value)
        if parsed is None:
            self.finding(found, spec.name, "not-a-date", "is not a date; enter it as"
                         " dd/mm/yyyy", found.value)
            return ""
        if parsed < EARLIEST_DATE:
            self.finding(found, spec.name, "implausible-date", f"is {parsed:%d/%m/%Y}, which"
                         " cannot be right; enter the date it happened", found.value)
        elif spec.name in PAST_DATES and parsed > self.today:
            self.finding(found, spec.name, "future-date", f"is in the future"
                         f" ({parsed:%d/%m/%Y}); enter the date it happened", found.value)
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
    """Is this form the one issued for this allocation? (``identify`` has already checked
    it is a form of this workspace.) Its hidden identification must carry the signature
    made when it was issued, name the issued record, and agree with what the form shows."""
    meta = raw.meta
    if issued.signing_key and not signature_matches(
        [meta.get(k, "") for k in SIGNED_KEYS], issued.signing_key, meta.get("signature", "")
    ):
        return [_identification(
            raw, "signature-mismatch",
            f"the form's hidden identification was edited (its signature does not match what"
            f" was issued for {meta.get('reference', '')!r}); use the form that was issued")]
    if meta.get("record_id") != issued.record_id:
        if meta.get("record_id") in issued.redrawn_records:
            return [_identification(
                raw, "replaced-draw",
                f"the form was issued for an earlier draw of {issued.cycle!r}, in which"
                f" {issued.reference} was a different case; it was replaced by a redraw, so"
                " this form cannot be taken")]
        return [_identification(
            raw, "identification-mismatch",
            f"the form says {issued.reference} is record {meta.get('record_id')!r}, but"
            f" {issued.reference} was issued for record {issued.record_id!r}; use the form"
            " that was issued")]
    if meta.get("cycle") != issued.cycle:
        return [_identification(
            raw, "wrong-cycle",
            f"the form is for cycle {meta.get('cycle')!r}, but {issued.reference} belongs to"
            f" {issued.cycle!r}")]
    qs = issued.question_set
    if kind == AUDIT_FORM and qs is not None and (
        meta.get("question_set_version") != qs.version
        or meta.get("question_set_hash") != qs.digest
    ):
        return [_identification(
            raw, "question-set-version",
            f"the form has question set {meta.get('question_set')} version"
            f" {meta.get('question_set_version')!r}, but version {qs.version!r} was issued"
            f" for {issued.reference}; copy the answers into the issued form")]
    return _case_block(raw, issued)


def _case_block(raw: RawForm, issued: Issued) -> list[Finding]:
    """What the form shows about the case must be what its identification says."""
    findings = []
    for attribute, label, expected in (
        ("reference", "allocation reference", issued.reference),
        ("record_id", "record ID", issued.record_id),
        ("person_id", "person ID", issued.person_id),
        ("audit_type_name", "audit type", issued.audit_type_name),
    ):
        name = CASE_NAME_PREFIX + attribute
        cell = raw.cells.get(name)
        if cell is None:
            if issued.signing_key:  # forms issued with a signature name their case block
                findings.append(Finding(
                    "missing-cell", raw.path.name, "", name,
                    f"the form's {label} cell is missing; use the form that was issued"))
            continue
        shown = normalise_id(cell.value)
        if expected and shown != expected:
            findings.append(Finding(
                "case-mismatch", raw.path.name, cell.sheet, f"{cell.ref} ({name})",
                f"the form shows {label} {shown!r}, but its identification says"
                f" {issued.reference} is {expected!r}: the form was edited; use the form"
                " that was issued", shown))
    return findings


#: A reference's column and row; the same few dozen references come in every form.
_column_and_row = lru_cache(maxsize=4096)(split_ref)


def check_layout(raw: RawForm, layout: dict[str, tuple[str, str, int]]) -> list[Finding]:
    """Every named cell where it was issued: on the form's own sheet, in its column, at its
    row or below it (rows a user inserted), never on another sheet or the hidden one."""
    sheets = Counter(raw.cells[n].sheet for n in layout if n in raw.cells)
    own = layout and next(iter(layout.values()))[0]
    if own not in sheets and sheets:
        own = sheets.most_common(1)[0][0]  # the user renamed the sheet: that is allowed
    findings = []
    for name, (sheet, column, row) in layout.items():
        cell = raw.cells.get(name)
        if cell is None:
            continue
        found_column, found_row = _column_and_row(cell.ref)
        if cell.sheet != own or found_column != column or not (
            0 <= int(found_row) - row <= MAX_INSERTED_ROWS
        ):
            findings.append(Finding(
                "moved-name", raw.path.name, cell.sheet, f"{cell.ref} ({name})",
                f"the name {name} now points to {cell.sheet}!{cell.ref}, not to the cell it"
                f" was issued for ({sheet}!{column}{row}, or below it where rows were"
                " inserted); use the form that was issued"))
    return findings


def validate(raw: RawForm, issued: Issued, kind: str, today: date) -> tuple[
    ParsedReturn | None, list[Finding]
]:
    """Every finding in the form, or the parsed return if there are none."""
    meta_findings = check_meta(raw, issued, kind)
    if meta_findings:
        return None, meta_findings
    moved = check_layout(raw, form_layout(kind, issued.question_set))
    if moved:
        return None, moved
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
                    check.finding(cell, answer_name(q.id), "required" if blank else
                                  "not-an-answer",
                                  ("is required: answer " if blank else
                                   "is not an answer: choose ") + ", ".join(ANSWERS),
                                  cell.value)
                comment = check.text(comment_name(q.id), False, COMMENT_MAX)
                answers.append((q.id, aspect.key, answer or "", comment))
        fields = check.fields(audit_fields(issued.auditor_roles))
        _audit_rules(check, fields)
    else:
        assert kind == SELF_REFLECTION_FORM
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
                check.finding(check.raw.cells.get(name), name, "escalation-incomplete",
                              f"an escalation must say {what}")
    if fields.get("grade") == LABEL[REQUIRES_IMPROVEMENT]:
        for name, what in (("ri_action", "the corrective action needed"),
                           ("ri_by", "who will take it"), ("ri_due", "by when")):
            if not fields.get(name):
                check.finding(check.raw.cells.get(name), name, "ri-incomplete",
                              f"a 'Requires improvement' grade must say {what}")


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
        auditor = person_key(fields.get("auditor_name", ""))
        if auditor and auditor == person_key(issued.practitioner):
            notes.append("the auditor is the practitioner whose work was audited")
        if auditor and issued.named_auditor and auditor != person_key(issued.named_auditor):
            notes.append("returned by an auditor other than the one the Service Manager named"
                         " for this case")
    done = fields.get("auditor_date") or fields.get("sr_date")
    if done and date.fromisoformat(done) > issued.due:
        late = (date.fromisoformat(done) - issued.due).days
        notes.append(f"completed {late} day(s) after the due date {issued.due:%d/%m/%Y}")
    return notes


# --- the Service Manager's allocation workbook -------------------------------------------


#: Cases one workbook may hold: far more than any Service Manager is given in a cycle.
MAX_MANAGER_CASES = 2000
#: A name is one line of letters (it becomes an email header): no line break or hidden
#: character (``values.HIDDEN_IN_LINE``), and not a formula's first character.
_FORMULA_START = ("=", "+", "-", "@")


@dataclass(frozen=True)
class ManagerIdentity:
    """What a Service Manager workbook's signed hidden sheet says it is for."""

    cycle: str
    manager: str
    references: tuple[str, ...]  # in the table's row order
    record_ids: tuple[str, ...]


@dataclass(frozen=True)
class ManagerCase:
    """One case of the workbook, as the checks of its auditor need it."""

    position: int  # its row of the table, from 1
    allocation_id: int
    reference: str
    worker_id: str
    practitioner: str  # the worker's name as the export gave it
    team: str


@dataclass(frozen=True)
class AuditorChoice:
    """The auditor a Service Manager named: trimmed, email normalised, role as listed."""

    name: str
    email: str  # "" if none was given
    role: str
    allocated_on: str | None  # ISO


@dataclass(frozen=True)
class ManagerRow:
    """One row read back: a choice to store, or nothing named, or the row's refusals.
    ``warnings`` do not stop the choice being stored."""

    case: ManagerCase
    choice: AuditorChoice | None
    findings: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()


def manager_identity(raw: RawForm, signing_key: bytes) -> tuple[ManagerIdentity | None,
                                                                list[Finding]]:
    """The workbook's identification, if its signature is the one it was issued with
    (``identify`` has already checked it is a Service Manager workbook of this workspace)."""
    meta = raw.meta
    if not signing_key or not signature_matches(
        [meta.get(k, "") for k in MANAGER_SIGNED_KEYS], signing_key, meta.get("signature", "")
    ):
        return None, [_identification(
            raw, "signature-mismatch",
            "the workbook's hidden identification was edited (its signature does not match"
            " what was issued); use the Service Manager workbook that was sent out")]
    try:
        references = json.loads(meta["references"])
        record_ids = json.loads(meta["record_ids"])
    except (KeyError, ValueError):
        references = record_ids = None
    if not (isinstance(references, list) and isinstance(record_ids, list)
            and 0 < len(references) == len(record_ids) <= MAX_MANAGER_CASES
            and all(isinstance(v, str) for v in [*references, *record_ids])):
        return None, [_identification(
            raw, "identification-mismatch",
            "the workbook's hidden identification is damaged (its list of cases cannot be"
            " read); use the Service Manager workbook that was sent out")]
    return ManagerIdentity(meta.get("cycle", ""), meta.get("manager", ""),
                           tuple(references), tuple(record_ids)), []


def check_manager_cases(raw: RawForm, identity: ManagerIdentity,
                        issued: Sequence[IssuedAllocation | None]) -> list[Finding]:
    """Is every case the workbook names an allocation of the current draw of its cycle, of
    this Service Manager, drawn for the record it names? Then is the table as issued: each
    name where it was put, each row showing the reference its hidden sheet says?"""
    problems: dict[str, list[str]] = {}  # code -> the references it concerns
    for reference, record_id, found in zip(identity.references, identity.record_ids, issued,
                                           strict=True):
        if found is None:
            code = "unknown-reference"
        elif found.row.record_id != record_id:
            code = ("replaced-draw" if record_id in found.redrawn_records
                    else "identification-mismatch")
        elif found.cycle != identity.cycle:
            code = "wrong-cycle"
        elif found.row.service_manager != identity.manager:
            code = "another-manager"
        else:
            continue
        problems.setdefault(code, []).append(reference)
    if problems:
        return [_identification(raw, "identification-mismatch" if code == "another-manager"
                                else code, _case_problem(code, refs, identity.cycle))
                for code, refs in problems.items()]
    findings = check_layout(raw, manager_layout(len(identity.references)))
    for n, reference in enumerate(identity.references, start=1):
        cell = raw.cells.get(reference_name(n))
        if cell is not None and normalise_id(cell.value) != reference:
            findings.append(Finding(
                "case-mismatch", raw.path.name, cell.sheet, f"{cell.ref} ({cell.name})",
                f"row {n} of the table shows {normalise_id(cell.value)!r}, but its"
                f" identification says row {n} is {reference}: the table was edited; use the"
                " workbook that was sent out", normalise_id(cell.value)))
    return findings


def _case_problem(code: str, references: list[str], cycle: str) -> str:
    listed = ", ".join(references[:5]) + (f" and {len(references) - 5} more"
                                          if len(references) > 5 else "")
    return {
        "unknown-reference": f"the workbook lists {listed}, which are no allocations of a"
                             f" current draw (was cycle {cycle!r} cancelled?)",
        "replaced-draw": f"the workbook was issued for an earlier draw of {cycle!r}, replaced"
                         f" by a redraw in which {listed} are other cases",
        "identification-mismatch": f"the workbook names other records for {listed} than"
                                   " were drawn",
        "wrong-cycle": f"the workbook is for cycle {cycle!r}, but {listed} belong to another"
                       " cycle",
        "another-manager": f"{listed} were sent to another Service Manager",
    }[code] + "; use the Service Manager workbook of the current draw"


class StaffIndex:
    """The staff list, to find who a named auditor and a practitioner are."""

    def __init__(self, staff: Sequence[StaffEntry]) -> None:
        self.by_worker = {s.worker_id: s for s in staff}
        # Keyed as ``values.same_email`` compares: one mailbox, whatever its capitals.
        self.by_email: dict[str, list[StaffEntry]] = {}
        self.by_name: dict[str, list[StaffEntry]] = {}
        for s in staff:
            if s.email:
                self.by_email.setdefault(s.email.casefold(), []).append(s)
            self.by_name.setdefault(person_key(s.name), []).append(s)

    def auditor(self, email: str, name: str) -> StaffEntry | None:
        """The one person the staff list has with this email, else with this name (case and
        spacing aside); None if it knows none, or several."""
        for found in (self.by_email.get(email.casefold(), []) if email else [],
                      self.by_name.get(person_key(name), [])):
            if len(found) == 1:
                return found[0]
            if found:
                return None
        return None


def auditor_key(choice: AuditorChoice, staff: StaffIndex) -> str:
    """One key per auditor, to count their cases: the staff list's worker id where it knows
    them, else the email, else the name (case and spacing aside)."""
    known = staff.auditor(choice.email, choice.name)
    if known is not None:
        return "worker:" + known.worker_id
    return "email:" + choice.email.casefold() if choice.email else "name:" + person_key(
        choice.name)


def _conflicts(choice: AuditorChoice, case: ManagerCase, staff: StaffIndex
               ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Refusals and warnings (code, message) of an auditor for a case: not the
    practitioner, not their line manager (refused), not in their team (warned)."""
    auditor = staff.auditor(choice.email, choice.name)
    practitioner = staff.by_worker.get(case.worker_id)
    name, email = person_key(choice.name), choice.email
    refused: list[tuple[str, str]] = []
    if (auditor is not None and auditor.worker_id == case.worker_id) or (
        name == person_key(case.practitioner)
    ) or (practitioner is not None and (
        name == person_key(practitioner.name) or same_email(email, practitioner.email))
    ):
        refused.append(("auditor-is-practitioner", "the auditor named is the practitioner"
                        " whose work is audited; name someone else"))
    elif practitioner is not None and (
        (practitioner.line_manager and person_key(practitioner.line_manager) in {
            name, person_key(auditor.name) if auditor else name})
        or same_email(email, practitioner.line_manager_email)
    ):
        refused.append(("auditor-is-line-manager", "the auditor named is the practitioner's"
                        " line manager; name someone who does not manage them"))
    warned: list[tuple[str, str]] = []
    teams = {person_key(t) for t in (case.team, practitioner.team if practitioner else "") if t}
    if not refused and auditor is not None and auditor.team and person_key(auditor.team) in teams:
        warned.append(("same-team", "the staff list has the auditor in the practitioner's own"
                       " team; an auditor from another team is better where there is one"))
    return refused, warned


def _manager_row(raw: RawForm, case: ManagerCase, roles: tuple[str, ...], staff: StaffIndex,
                 today: date) -> ManagerRow:
    check = Checker(raw, today)
    name_spec, email_spec, role_spec, date_spec = auditor_fields(case.position, roles)
    check.cell(reference_name(case.position))
    name = check.text(name_spec.name, False, name_spec.max_length)
    email = check.text(email_spec.name, False, email_spec.max_length)
    role = check.choice(role_spec)
    allocated = check.date_field(date_spec)
    if check.findings:
        return ManagerRow(case, None, tuple(check.findings))
    cells = raw.cells
    if not (name or email or role or allocated):
        return ManagerRow(case, None, warnings=(Finding(
            "not-named", raw.path.name, cells[name_spec.name].sheet,
            f"{cells[name_spec.name].ref} ({name_spec.name})",
            "no auditor named yet"),))
    if not name:
        check.finding(cells[name_spec.name], name_spec.name, "required",
                      "is required: the auditor's name")
    elif HIDDEN_IN_LINE.search(name) or name.startswith(_FORMULA_START) or not any(
            c.isalpha() for c in name):
        check.finding(cells[name_spec.name], name_spec.name, "not-a-name",
                      "is not a person's name (one line of text, not starting with = + - or"
                      " @, no line breaks or hidden characters); type the auditor's name",
                      name)
    if not role:
        check.finding(cells[role_spec.name], role_spec.name, "required",
                      "is required; choose " + ", ".join(roles))
    if email:
        try:
            email = checked_email(email)
        except NotAnEmail as exc:
            check.finding(cells[email_spec.name], email_spec.name, "not-an-email",
                          f"is not an email address qaudit can send to ({exc}); type the"
                          " auditor's work email", email)
    if allocated and date.fromisoformat(allocated) > today:
        check.finding(cells[date_spec.name], date_spec.name, "future-date",
                      f"is in the future ({date.fromisoformat(allocated):%d/%m/%Y}); enter"
                      " the date you allocated the case", allocated)
    choice = AuditorChoice(name, email, role, allocated or None)
    if not check.findings:
        refused, warned = _conflicts(choice, case, staff)
        for code, message in refused:
            check.finding(cells[name_spec.name], name_spec.name, code, message, name)
    if check.findings:
        return ManagerRow(case, None, tuple(check.findings))
    warnings = [Finding(code, raw.path.name, cells[name_spec.name].sheet,
                        f"{cells[name_spec.name].ref} ({name_spec.name})", message)
                for code, message in warned]
    if not email:
        warnings.append(Finding(
            "no-email", raw.path.name, cells[email_spec.name].sheet,
            f"{cells[email_spec.name].ref} ({email_spec.name})",
            "no email for the auditor: the audit form cannot be sent to them until the"
            " Service Manager gives one"))
    return ManagerRow(case, choice, warnings=tuple(warnings))


def _as_named(row: ManagerRow, current: AuditorChoice | None) -> ManagerRow:
    """A row naming the auditor already named, with their address in other capitals, keeps
    the address as stored: one mailbox (``values.same_email``), so the same choice."""
    choice = row.choice
    if (choice is None or current is None or choice.email == current.email
            or not same_email(choice.email, current.email)):
        return row
    return replace(row, choice=replace(choice, email=current.email))


def check_manager_rows(
    raw: RawForm, cases: Sequence[ManagerCase], *, roles: tuple[str, ...],
    staff: Sequence[StaffEntry], named: dict[int, AuditorChoice], max_cases: int, today: date,
    domains: Sequence[str] = (),
) -> list[ManagerRow]:
    """Every row of a Service Manager workbook (already identified and checked against the
    draw): each named auditor's choice, or why that row cannot be taken. ``named`` is the
    cycle's current auditor by allocation id: an auditor who would have more than
    ``max_cases`` cases of the cycle with this workbook's choices is warned."""
    index = StaffIndex(staff)
    rows = [_as_named(_manager_row(raw, case, roles, index, today),
                      named.get(case.allocation_id)) for case in cases]
    after = dict(named) | {r.case.allocation_id: r.choice for r in rows if r.choice}
    load = Counter(auditor_key(choice, index) for choice in after.values())
    checked = []
    for row in rows:
        if row.choice is not None and load[key := auditor_key(row.choice, index)] > max_cases:
            cell = raw.cells[auditor_fields(row.case.position)[0].name]
            row = ManagerRow(row.case, row.choice, row.findings, (*row.warnings, Finding(
                "auditor-load", raw.path.name, cell.sheet, f"{cell.ref} ({cell.name})",
                f"this auditor is named for {load[key]} cases of the cycle; the limit is"
                f" {max_cases} ([people] max_cases_per_auditor)")))
        if (row.choice is not None and row.choice.email
                and not in_domains(row.choice.email, domains)):
            cell = raw.cells[auditor_fields(row.case.position)[1].name]
            row = ManagerRow(row.case, row.choice, row.findings, (*row.warnings, Finding(
                "outside-domains", raw.path.name, cell.sheet, f"{cell.ref} ({cell.name})",
                f"{row.choice.email} is outside the domains personal data may go to ([mail]"
                " allowed_domains): the audit form will not be sent there; check it with"
                " the Service Manager")))
        checked.append(row)
    return checked


# --- the moderation workbook ---------------------------------------------------------------


@dataclass
class ModerationReturn:
    sample_id: int
    round: int
    outcomes: dict[int, Outcome]  # position -> outcome

    @property
    def content_hash(self) -> str:
        body = json.dumps({str(k): asdict(v) for k, v in sorted(self.outcomes.items())},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


def check_moderation(raw: RawForm, sample: Sample | None, today: date) -> tuple[
    ModerationReturn | None, list[Finding]
]:
    """Validate a filled moderation workbook (already ``identify``-ed) against the current
    sample of the cycle it names."""
    cycle = raw.meta.get("cycle", "")
    if sample is None:
        return None, [_identification(raw, "no-sample",
                                      f"cycle {cycle!r} has no current moderation sample")]
    if raw.meta.get("sample_id") != str(sample.id):
        return None, [_identification(
            raw, "replaced-sample",
            f"the workbook is for an earlier moderation sample of {cycle!r}, which was"
            " redrawn; use the workbook of the current sample")]
    number = raw.meta.get("round") or "1"
    items = sample.round_items(int(number)) if number.isdigit() else []
    if not items:
        return None, [_identification(
            raw, "unknown-round",
            f"the workbook names round {number!r} of the moderation sample of {cycle!r},"
            f" which has {sample.rounds} round(s); use a workbook `qaudit moderate select`"
            " wrote")]
    check = Checker(raw, today)
    outcomes: dict[int, Outcome] = {}
    for n in (i.position for i in items):
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
    return ModerationReturn(sample.id, int(number), outcomes), []


# --- the audit-the-auditor workshop's grading workbook ------------------------------------


@dataclass
class WorkshopReturn:
    """A participant's grades from a checked grading workbook: position -> (grade key,
    note); a case left ungraded is absent."""

    workshop_id: int
    participant: str
    grades: dict[int, tuple[str, str]]
    ungraded: list[str]  # labels of the cases left blank

    @property
    def content_hash(self) -> str:
        body = json.dumps({"workshop": self.workshop_id, "participant": self.participant,
                           "grades": {str(k): v for k, v in sorted(self.grades.items())}},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


def check_workshop(raw: RawForm, workspace_id: str, signing_key: bytes,
                   workshop: Workshop | None, expected: str | None, today: date) -> tuple[
        WorkshopReturn | None, list[Finding]]:
    """Validate a filled grading workbook: one of this workspace's, signed as written, for
    a workshop that exists (``expected``, if given: that one) and one of its participants;
    every grade one of the four, no formula. ``workshop`` is the one its hidden sheet
    names (None if there is none by that name)."""
    meta = raw.meta
    if meta.get("form_kind") != WORKSHOP_FORM:
        return None, [_identification(
            raw, "not-a-workshop-workbook",
            "this is not a workshop grading workbook; give the one `qaudit workshop make`"
            " wrote for the participant")]
    if meta.get("workspace") != workspace_id:
        return None, [_identification(
            raw, "foreign-workspace", "the grading workbook was written by another qaudit"
            " workspace; check it is one this team handed out")]
    signed = [meta.get(k, "") for k in WORKSHOP_SIGNED_KEYS]
    if not signature_matches(signed, signing_key, meta.get("signature", "")):
        return None, [_identification(
            raw, "signature-mismatch",
            "the workbook's hidden identification was changed after it was written (its"
            " signature does not match); copy the grades into the workbook as it was handed"
            " out and ingest that")]
    name = meta.get("workshop", "")
    if expected is not None and name.casefold() != expected.casefold():
        return None, [_identification(
            raw, "another-workshop",
            f"this grading workbook is for the workshop {name!r}, not {expected!r}; ingest it"
            " without --workshop, or with that workshop's name")]
    if workshop is None or str(workshop.id) != meta.get("workshop_id"):
        return None, [_identification(
            raw, "unknown-workshop",
            f"the workshop {name!r} this workbook is for is not in this workspace's record"
            " (or was made again since); use a workbook `qaudit workshop make` wrote")]
    participant = meta.get("participant", "")
    labels = "|".join(c.label for c in workshop.cases)
    if workshop.participant(participant) is None or meta.get("cases") != labels:
        return None, [_identification(
            raw, "unknown-participant",
            f"{participant!r} is not a participant of the workshop {workshop.name!r}, or the"
            " workbook's cases are not the workshop's; use the workbook written for them")]
    check = Checker(raw, today)
    grades: dict[int, tuple[str, str]] = {}
    ungraded: list[str] = []
    for case in workshop.cases:
        grade_spec, note_spec = grading_fields(case.position)
        values = check.fields((grade_spec, note_spec))
        grade = parse_grade(values[grade_spec.name]) if values[grade_spec.name] else None
        if grade is not None:
            grades[case.position] = (grade.key, values[note_spec.name])
        elif not values[grade_spec.name] and not any(
                f.cell.endswith(f"({grade_spec.name})") for f in check.findings):
            ungraded.append(case.label)
    if not check.findings and not grades:
        check.findings.append(_identification(
            raw, "no-grades", "no case is graded; choose each case's grade from the drop-down"
            f" in {INPUT_LOOK} of its row and ingest the workbook again"))
    if check.findings:
        return None, check.findings
    return WorkshopReturn(workshop.id, participant, grades, ungraded), []
