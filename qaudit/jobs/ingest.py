"""The ingest job: find returned forms, validate each whole, store each in one transaction.

A bad file never stops the batch, and nothing of a bad file is stored. The same file
again (known by its bytes' hash, without reading the workbook again), or a re-saved copy
with the same content, changes nothing; different content for an allocation already
returned is refused unless ``replace``, which keeps the earlier version as history.

Service Manager workbooks come back in the same batch (told apart by their hidden sheet).
Each row is one auditor's choice: the rows that pass are stored together, a row that
does not is listed with why, and a blank row is listed as not named yet. A later
workbook with another choice replaces the earlier one (kept as history) without
``replace``: the Service Manager's latest word is the allocation.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from qaudit.config import Settings
from qaudit.db import Escalation, NewReturn, Store, backup
from qaudit.db.assignments import NewAssignment
from qaudit.errors import (
    CycleError,
    Finding,
    FormFileError,
    QauditError,
    Status,
    StorageError,
)
from qaudit.jobs.purged import purge_of, purged_cycle_of
from qaudit.validation import (
    IDENTIFICATION,
    AuditorChoice,
    Issued,
    ManagerCase,
    ParsedReturn,
    check_manager_cases,
    check_manager_rows,
    identify,
    manager_identity,
    validate,
)
from qaudit.workbooks.cells import META_SHEET
from qaudit.workbooks.forms import AUDIT_FORM, SELF_REFLECTION_FORM, answer_name, comment_name
from qaudit.workbooks.manager import MANAGER_FORM
from qaudit.workbooks.reader import RawForm, form_bytes, parse_form

FORM_SUFFIXES = {".xlsx", ".xlsm"}
#: Other spreadsheet files found in a folder are refused, not skipped: a form saved in
#: LibreOffice's own format must not silently go missing.
OTHER_SHEETS = {".ods", ".xls", ".csv", ".numbers", ".xlsb"}


class RowStatus(StrEnum):
    """What became of one row of a Service Manager workbook."""

    NAMED = "named"  # an auditor stored for a case that had none
    REPLACED = "replaced"  # another auditor than the one stored before; that one kept as history
    UNCHANGED = "unchanged"  # the auditor already stored
    SUPERSEDED = "superseded"  # a choice of an older copy of the workbook, since changed: skipped
    KEPT = "kept"  # blank here, but an auditor was named by an earlier workbook: kept
    NOT_NAMED = "not-named"  # blank, and no auditor named yet
    REFUSED = "refused"  # the row cannot be taken (its findings say why)


@dataclass(frozen=True)
class AuditorRow:
    """One case of a Service Manager workbook and what was taken from its row."""

    reference: str
    status: RowStatus
    choice: AuditorChoice | None = None
    warnings: tuple[Finding, ...] = ()
    findings: tuple[Finding, ...] = ()

    def to_json(self) -> dict[str, Any]:
        choice = self.choice
        return {
            "reference": self.reference, "status": str(self.status),
            "auditor_name": choice.name if choice else "",
            "auditor_email": choice.email if choice else "",
            "auditor_role": choice.role if choice else "",
            "allocated_on": choice.allocated_on if choice else None,
            "warnings": [asdict(w) for w in self.warnings],
            "findings": [asdict(f) for f in self.findings],
        }


@dataclass(frozen=True)
class ManagerOutcome:
    """What a Service Manager workbook named, row by row."""

    cycle: str
    manager: str
    rows: tuple[AuditorRow, ...]

    def count(self, *statuses: RowStatus) -> int:
        return sum(1 for r in self.rows if r.status in statuses)

    def to_json(self) -> dict[str, Any]:
        return {"cycle": self.cycle, "manager": self.manager,
                "counts": {str(s): self.count(s) for s in RowStatus},
                "rows": [r.to_json() for r in self.rows]}


@dataclass
class FileOutcome:
    path: Path
    status: Status
    reference: str = ""
    kind: str = ""
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    manager: ManagerOutcome | None = None  # a Service Manager workbook's rows


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def valid(self) -> bool:
        """Nothing refused: no file, and no row of a Service Manager workbook."""
        return self.count(Status.REFUSED) == 0 and not self.findings

    @property
    def managers(self) -> list[tuple[FileOutcome, ManagerOutcome]]:
        return [(o, o.manager) for o in self.outcomes if o.manager is not None]

    @property
    def findings(self) -> list[Finding]:
        return [f for o in self.outcomes for f in o.findings]

    @property
    def warnings(self) -> int:
        return sum(len(o.warnings) for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": {str(s): self.count(s) for s in Status} | {
                "warnings": self.warnings,
                "auditors_stored": sum(m.count(RowStatus.NAMED, RowStatus.REPLACED)
                                       for _, m in self.managers),
            },
            "files": [
                {"file": str(o.path), "status": str(o.status), "reference": o.reference,
                 "kind": o.kind, "warnings": o.warnings,
                 "findings": [asdict(f) for f in o.findings]}
                | ({"service_manager": o.manager.to_json()} if o.manager else {})
                for o in self.outcomes
            ],
        }


def find_forms(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and workbooks under folders (recursively); Office lock files skipped."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in FORM_SUFFIXES | OTHER_SHEETS
                and not p.name.startswith("~$")
            )
        elif path.name.startswith("~$"):
            continue
        else:
            found.append(path)
    seen: set[Path] = set()
    unique = []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def ingest_files(
    store: Store,
    paths: list[Path],
    *,
    today: date,
    replace: bool = False,
    restore: bool = False,
    settings: Settings | None = None,
    on_file: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Take every file back; ``replace`` lets a return with other answers replace the
    current one, and ``restore`` (with it) lets an older, superseded copy come back.
    ``settings`` give the audit type names a form shows and the auditor roles allowed."""
    if replace:
        backup.before(store.conn, store.path, "replace")
    report = IngestReport()
    settings = settings or Settings()
    context = _Context(store.workspace_id(), store.signing_key(), settings.type_names(),
                       tuple(settings.auditor_roles), today, replace or restore, restore,
                       settings.people.max_cases_per_auditor,
                       tuple(settings.mail.allowed_domains))
    while len(report.outcomes) < len(paths):
        report.outcomes += _ingest_some(store, paths, len(report.outcomes), context, on_file)
    return report


#: How long one transaction takes in files before it is committed. Each file is stored
#: whole or not at all either way (a savepoint each); a commit costs several waits for the
#: disk, which for a year's forms one at a time was most of the time ingest took. A file
#: whose commit a crash prevented is simply taken in by the next run (ingest is idempotent),
#: and another officer's command waits at most this long.
HOLD_SECONDS = 1.0


def _ingest_some(store: Store, paths: list[Path], start: int, context: _Context,
                 on_file: Callable[[int, int], None] | None) -> list[FileOutcome]:
    """The files from ``paths[start]`` on, taken in one transaction of up to
    ``HOLD_SECONDS``. If the commit fails, none of them is stored and each that would have
    been says so; a workspace error (a busy database) stops the batch after committing the
    files before it."""
    began = time.monotonic()
    batch: list[FileOutcome] = []
    stopped: QauditError | None = None
    try:
        with store.transaction():
            for path in paths[start:]:
                try:
                    batch.append(_guarded(store, path, context))
                except QauditError as exc:
                    stopped = exc
                    break
                if on_file is not None:
                    on_file(start + len(batch), len(paths))
                if not store.in_transaction or time.monotonic() - began >= HOLD_SECONDS:
                    break  # committed now, or (the transaction was lost) refused below
    except StorageError as exc:
        batch = [_not_stored(outcome, exc) for outcome in batch]
    if stopped is not None:
        raise stopped
    return batch


def _not_stored(outcome: FileOutcome, exc: StorageError) -> FileOutcome:
    """A file whose rows were written but whose transaction could not be committed."""
    if outcome.status not in (Status.ACCEPTED, Status.REPLACED):
        return outcome
    return FileOutcome(outcome.path, Status.REFUSED, outcome.reference, outcome.kind,
                       [Finding("not-stored", outcome.path.name, "", "", str(exc))])


def _differences(store: Store, path: Path, reference: str, kind: str, return_id: int,
                 parsed: ParsedReturn) -> list[Finding]:
    """One finding per field whose answer differs from the return already stored."""
    fields, answers = store.returns.content(return_id)
    found = [(name, fields.get(name, ""), value) for name, value in parsed.fields.items()
             if fields.get(name, "") != value]
    for question, _, answer, comment in parsed.answers:
        was_answer, was_comment = answers.get(question, ("", ""))
        if answer != was_answer:
            found.append((answer_name(question), was_answer, answer))
        if comment != was_comment:
            found.append((comment_name(question), was_comment, comment))
    what = f"{reference} already has a returned {kind.replace('_', '-')} form"
    advice = "to replace it (the earlier one is kept as history) use --replace"
    if not found:  # same answers, other identification: cannot happen for one reference
        return [Finding("different-answers", path.name, "", "(whole form)",
                        f"{what} with different content; {advice}")]
    return [Finding("different-answers", path.name, "", name,
                    f"{what} with a different answer here (stored: {stored[:60]!r}); {advice}",
                    new) for name, stored, new in found]


def _refused(path: Path, finding: Finding, reference: str = "", kind: str = "") -> FileOutcome:
    return FileOutcome(path, Status.REFUSED, reference, kind, [finding])


def _guarded(store: Store, path: Path, context: _Context) -> FileOutcome:
    """One file's outcome, whatever the file holds: a file no check foresaw is refused on
    its own and the batch goes on (the workspace's own troubles, such as a busy database,
    still stop it with their message)."""
    try:
        return _ingest_one(store, path, context)
    except StorageError as exc:  # this file is not stored; the report says which were
        return _refused(path, Finding("not-stored", path.name, "", "", str(exc)))
    except QauditError:
        raise
    except Exception:
        return _refused(path, Finding(
            "unreadable", path.name, "", "",
            "this file could not be read as a form: it is damaged, or was not made from the"
            " form that was issued. Open the issued form, copy the answers in, and ingest"
            " that."))


@dataclass(frozen=True)
class _Context:
    workspace_id: str
    signing_key: bytes
    type_names: dict[str, str]
    auditor_roles: tuple[str, ...]
    today: date
    replace: bool
    restore: bool
    max_cases_per_auditor: int = 4
    allowed_domains: tuple[str, ...] = ()


def _ingest_one(store: Store, path: Path, context: _Context) -> FileOutcome:
    workspace_id, today = context.workspace_id, context.today
    replace, restore = context.replace, context.restore
    if not path.is_file():
        return _refused(path, Finding("no-such-file", path.name, "", "", "no such file"))
    if path.suffix.lower() in OTHER_SHEETS:
        return _refused(path, Finding(
            "other-spreadsheet", path.name, "", "",
            f"a {path.suffix} file is not a returned form; open it and save it as an Excel"
            " workbook (.xlsx), then ingest it again"))
    try:
        data = form_bytes(path)
        # The same bytes as a return already stored, still current: the common "ingest the
        # whole folder again" is answered without reading the workbook again.
        digest = hashlib.sha256(data).hexdigest()
        known = store.returns.stored_from(digest)
        if known is not None:
            return FileOutcome(path, Status.UNCHANGED, *known)
        raw = parse_form(path, data, digest)
    except FormFileError as exc:
        return _refused(path, Finding(exc.code, path.name, "", "", str(exc)))
    foreign = identify(raw, workspace_id, (AUDIT_FORM, SELF_REFLECTION_FORM, MANAGER_FORM))
    if foreign is not None:
        return _refused(path, foreign)
    kind = raw.meta["form_kind"]
    if kind == MANAGER_FORM:
        return _ingest_manager(store, raw, context)
    reference = raw.meta.get("reference", "")
    issued = store.draws.issued(reference)
    purged = purged_cycle_of(store, reference) if issued is None else None
    if purged is not None:
        return _refused(path, _purged(path, reference, purged), reference, kind)
    if issued is None:
        return _refused(path, Finding(
            "unknown-reference", path.name, META_SHEET, IDENTIFICATION,
            f"allocation reference {reference!r} matches no allocation of a current draw;"
            " check the file is a form this team issued"))
    qs = (store.draws.issued_question_set(issued.row.question_set_hash)
          if kind == AUDIT_FORM else None)
    named = store.assignments.current(issued.id) if kind == AUDIT_FORM else None
    spec = Issued(reference, issued.cycle, issued.row.record_id, issued.row.practitioner,
                  issued.due_date, qs, person_id=issued.row.person_id,
                  audit_type_name=context.type_names.get(issued.row.audit_type, ""),
                  signing_key=context.signing_key if issued.signed else b"",
                  redrawn_records=issued.redrawn_records,
                  auditor_roles=context.auditor_roles,
                  named_auditor=named.auditor_name if named else "")
    parsed, findings = validate(raw, spec, kind, today)
    if parsed is None:
        return FileOutcome(path, Status.REFUSED, reference, kind, findings)
    current = store.returns.current(issued.id, kind)
    content_hash = parsed.content_hash  # worked out afresh each time it is asked for
    if current is not None and current.content_hash == content_hash:
        return FileOutcome(path, Status.UNCHANGED, reference, kind)
    # A correction is never undone by an old copy still lying in the returns folder.
    replaced_on = store.returns.superseded(issued.id, kind).get(content_hash)
    if replaced_on is not None and not restore:
        if replace:
            return _refused(path, Finding(
                "superseded-copy", path.name, "", "(whole form)",
                f"this is an older copy of {reference}'s {kind.replace('_', '-')} form, replaced"
                f" on {replaced_on[:10]}; to bring it back as the return of record add"
                " --restore"), reference, kind)
        return FileOutcome(path, Status.SUPERSEDED, reference, kind, warnings=[
            f"superseded (an older copy): replaced on {replaced_on[:10]}; skipped"])
    if current is not None and not replace:
        return FileOutcome(path, Status.REFUSED, reference, kind,
                           _differences(store, path, reference, kind, current.id, parsed))
    fields = parsed.fields
    escalation = None
    if fields.get("esc_raised") == "Yes":
        escalation = Escalation(fields["esc_to"], fields["esc_name"], fields["esc_date"],
                                fields.get("esc_note", ""))
    try:
        stored = store.returns.store(NewReturn(
            allocation_id=issued.id, kind=kind, file_name=path.name, file_sha256=raw.sha256,
            content_hash=content_hash, grade=parsed.grade, fields=fields,
            answers=parsed.answers, warnings=parsed.warnings, escalation=escalation,
        ), replace=current)
    except CycleError as exc:
        return _refused(path, Finding("changed-meanwhile", path.name, "", "", str(exc)),
                        reference, kind)
    if stored is None:
        return FileOutcome(path, Status.UNCHANGED, reference, kind)
    return FileOutcome(path, Status.REPLACED if current else Status.ACCEPTED, reference, kind,
                       warnings=parsed.warnings)


def _purged(path: Path, what: str, cycle: str) -> Finding:
    """A form of a purged cycle: explained, not called unknown (its reference is gone
    from the record, which keeps only its pseudonym)."""
    return Finding("purged-cycle", path.name, META_SHEET, IDENTIFICATION,
                   f"{what} belongs to cycle {cycle!r}, purged (retention); its forms can no"
                   " longer be taken in")


def _ingest_manager(store: Store, raw: RawForm, context: _Context) -> FileOutcome:
    """A Service Manager workbook: identified, checked against the draw, then each row. The
    rows that pass are stored together; the others are listed with why."""
    path = raw.path
    identity, findings = manager_identity(raw, context.signing_key)
    if identity is None:
        return FileOutcome(path, Status.REFUSED, kind=MANAGER_FORM, findings=findings)
    purged = purge_of(store, identity.cycle)
    if purged is not None:
        return _refused(path, _purged(path, "this Service Manager workbook", purged.name),
                        kind=MANAGER_FORM)
    issued = [store.draws.issued(reference) for reference in identity.references]
    findings = check_manager_cases(raw, identity, issued)
    if findings:
        return FileOutcome(path, Status.REFUSED, kind=MANAGER_FORM, findings=findings)
    cases = [ManagerCase(n, a.id, a.row.reference, a.row.worker_id, a.row.worker_name,
                         a.row.team)
             for n, a in enumerate(filter(None, issued), start=1)]
    current = {a.allocation_id: a for a in store.assignments.for_cycle(identity.cycle)}
    rows = check_manager_rows(
        raw, cases, roles=context.auditor_roles, staff=store.assignments.staff(),
        named={i: AuditorChoice(a.auditor_name, a.auditor_email, a.auditor_role,
                                a.allocated_on) for i, a in current.items()},
        max_cases=context.max_cases_per_auditor, today=context.today,
        domains=context.allowed_domains,
    )
    outcome: list[AuditorRow] = []
    to_store: list[NewAssignment] = []
    for row in rows:
        reference, choice = row.case.reference, row.choice
        was = current.get(row.case.allocation_id)
        if row.findings:
            outcome.append(AuditorRow(reference, RowStatus.REFUSED, findings=row.findings))
        elif choice is None:
            outcome.append(AuditorRow(reference, RowStatus.KEPT) if was else
                           AuditorRow(reference, RowStatus.NOT_NAMED, warnings=row.warnings))
        elif was is not None and was.same_choice(choice.name, choice.email, choice.role,
                                                 choice.allocated_on):
            outcome.append(AuditorRow(reference, RowStatus.UNCHANGED, choice))
        elif was is not None and any(
            h.replaced_at and h.file_sha256 == raw.sha256
            for h in store.assignments.history(row.case.allocation_id)
        ):  # an older copy of this workbook, lying beside the one that changed its choice
            outcome.append(AuditorRow(reference, RowStatus.SUPERSEDED, choice))
        else:
            outcome.append(AuditorRow(reference, RowStatus.REPLACED if was else RowStatus.NAMED,
                                      choice, row.warnings))
            to_store.append(NewAssignment(
                row.case.allocation_id, choice.name, choice.email, choice.role,
                choice.allocated_on, tuple(w.message for w in row.warnings),
                was.id if was else None))
    if to_store:
        cycle = store.draws.require_cycle(identity.cycle)
        try:
            store.assignments.record(cycle.id, path.name, raw.sha256, to_store)
        except CycleError as exc:
            return _refused(path, Finding("changed-meanwhile", path.name, "", "", str(exc)),
                            kind=MANAGER_FORM)
    result = ManagerOutcome(identity.cycle, identity.manager, tuple(outcome))
    return FileOutcome(
        path, _manager_status(result), kind=MANAGER_FORM,
        findings=[f for r in outcome for f in r.findings],
        warnings=[f"{r.reference}: {w.message}" for r in outcome for w in r.warnings],
        manager=result,
    )


def _manager_status(result: ManagerOutcome) -> Status:
    """The workbook as a whole: accepted or replaced if it stored a choice; refused only if
    no row of it is, or was, taken and some row was refused."""
    if result.count(RowStatus.REPLACED):
        return Status.REPLACED
    if result.count(RowStatus.NAMED):
        return Status.ACCEPTED
    if result.count(RowStatus.SUPERSEDED):
        return Status.SUPERSEDED
    if result.count(RowStatus.REFUSED) and not result.count(RowStatus.UNCHANGED,
                                                            RowStatus.KEPT):
        return Status.REFUSED
    return Status.UNCHANGED
