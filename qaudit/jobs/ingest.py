"""The ingest job: find returned forms, validate each whole, store each in one transaction.

A bad file never stops the batch, and nothing of a bad file is stored. The same file
again, or a re-saved copy with the same content, changes nothing; different content for
an allocation already returned is refused unless ``replace``, which keeps the earlier
version as history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from qaudit.config import Settings
from qaudit.db import Escalation, NewReturn, Store
from qaudit.errors import (
    CycleError,
    Finding,
    FormFileError,
    QauditError,
    Status,
    StorageError,
)
from qaudit.validation import IDENTIFICATION, Issued, ParsedReturn, identify, validate
from qaudit.workbooks.cells import META_SHEET
from qaudit.workbooks.forms import AUDIT_FORM, SELF_REFLECTION_FORM, answer_name, comment_name
from qaudit.workbooks.reader import read_form

FORM_SUFFIXES = {".xlsx", ".xlsm"}
#: Other spreadsheet files found in a folder are refused, not skipped: a form saved in
#: LibreOffice's own format must not silently go missing.
OTHER_SHEETS = {".ods", ".xls", ".csv", ".numbers", ".xlsb"}


@dataclass
class FileOutcome:
    path: Path
    status: Status
    reference: str = ""
    kind: str = ""
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def valid(self) -> bool:
        return self.count(Status.REFUSED) == 0

    @property
    def findings(self) -> list[Finding]:
        return [f for o in self.outcomes for f in o.findings]

    @property
    def warnings(self) -> int:
        return sum(len(o.warnings) for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": {str(s): self.count(s) for s in Status} | {"warnings": self.warnings},
            "files": [
                {"file": str(o.path), "status": str(o.status), "reference": o.reference,
                 "kind": o.kind, "warnings": o.warnings,
                 "findings": [asdict(f) for f in o.findings]}
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
    report = IngestReport()
    settings = settings or Settings()
    context = _Context(store.workspace_id(), store.signing_key(), settings.type_names(),
                       tuple(settings.auditor_roles), today, replace or restore, restore)
    for n, path in enumerate(paths, start=1):
        report.outcomes.append(_guarded(store, path, context))
        if on_file is not None:
            on_file(n, len(paths))
    return report


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
        raw = read_form(path)
    except FormFileError as exc:
        return _refused(path, Finding(exc.code, path.name, "", "", str(exc)))
    foreign = identify(raw, workspace_id, (AUDIT_FORM, SELF_REFLECTION_FORM))
    if foreign is not None:
        return _refused(path, foreign)
    kind = raw.meta["form_kind"]
    reference = raw.meta.get("reference", "")
    issued = store.draws.issued(reference)
    if issued is None:
        return _refused(path, Finding(
            "unknown-reference", path.name, META_SHEET, IDENTIFICATION,
            f"allocation reference {reference!r} matches no allocation of a current draw;"
            " check the file is a form this team issued"))
    qs = (store.draws.issued_question_set(issued.row.question_set_hash)
          if kind == AUDIT_FORM else None)
    spec = Issued(reference, issued.cycle, issued.row.record_id, issued.row.practitioner,
                  issued.due_date, qs, person_id=issued.row.person_id,
                  audit_type_name=context.type_names.get(issued.row.audit_type, ""),
                  signing_key=context.signing_key if issued.signed else b"",
                  redrawn_records=issued.redrawn_records,
                  auditor_roles=context.auditor_roles)
    parsed, findings = validate(raw, spec, kind, today)
    if parsed is None:
        return FileOutcome(path, Status.REFUSED, reference, kind, findings)
    current = store.returns.current(issued.id, kind)
    if current is not None and current.content_hash == parsed.content_hash:
        return FileOutcome(path, Status.UNCHANGED, reference, kind)
    # A correction is never undone by an old copy still lying in the returns folder.
    replaced_on = store.returns.superseded(issued.id, kind).get(parsed.content_hash)
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
            content_hash=parsed.content_hash, grade=parsed.grade, fields=fields,
            answers=parsed.answers, warnings=parsed.warnings, escalation=escalation,
        ), replace=current)
    except CycleError as exc:
        return _refused(path, Finding("changed-meanwhile", path.name, "", "", str(exc)),
                        reference, kind)
    if stored is None:
        return FileOutcome(path, Status.UNCHANGED, reference, kind)
    return FileOutcome(path, Status.REPLACED if current else Status.ACCEPTED, reference, kind,
                       warnings=parsed.warnings)
