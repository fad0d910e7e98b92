"""The ingest job: find returned forms, validate each whole, store each in one transaction.

A bad file never stops the batch, and nothing of a bad file is stored. The same file
again, or a re-saved copy with the same content, changes nothing; different content for
an allocation already returned is refused unless ``replace``, which keeps the earlier
version as history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from qaudit.db import Store
from qaudit.errors import Finding
from qaudit.grading import GRADES
from qaudit.validation import Issued, validate
from qaudit.workbooks.forms import AUDIT_FORM, SELF_REFLECTION_FORM
from qaudit.workbooks.reader import FormFileError, read_form

ACCEPTED = "accepted"
UNCHANGED = "unchanged"
REPLACED = "replaced"
REFUSED = "refused"
FORM_SUFFIXES = {".xlsx", ".xlsm"}
#: Other spreadsheet files found in a folder are refused, not skipped: a form saved in
#: LibreOffice's own format must not silently go missing.
OTHER_SHEETS = {".ods", ".xls", ".csv", ".numbers", ".xlsb"}


@dataclass
class FileOutcome:
    path: Path
    status: str
    reference: str = ""
    kind: str = ""
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def valid(self) -> bool:
        return self.count(REFUSED) == 0

    @property
    def findings(self) -> list[Finding]:
        return [f for o in self.outcomes for f in o.findings]

    def to_json(self) -> dict[str, object]:
        return {
            "summary": {s: self.count(s) for s in (ACCEPTED, UNCHANGED, REPLACED, REFUSED)}
            | {"warnings": sum(len(o.warnings) for o in self.outcomes)},
            "files": [
                {"file": str(o.path), "status": o.status, "reference": o.reference,
                 "kind": o.kind, "warnings": o.warnings,
                 "findings": [f.__dict__ for f in o.findings]}
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
    replace: bool = False,
    today: date | None = None,
    on_file: Callable[[int, int], None] | None = None,
) -> IngestReport:
    report = IngestReport()
    day = today or date.today()
    workspace_id = store.workspace_id()
    for n, path in enumerate(paths, start=1):
        report.outcomes.append(_ingest_one(store, path, replace, day, workspace_id))
        if on_file is not None:
            on_file(n, len(paths))
    return report


def _refused(path: Path, message: str, cell: str = "", sheet: str = "") -> FileOutcome:
    return FileOutcome(path, REFUSED, findings=[Finding(path.name, sheet, cell, message)])


def _ingest_one(
    store: Store, path: Path, replace: bool, today: date, workspace_id: str
) -> FileOutcome:
    if not path.is_file():
        return _refused(path, "no such file")
    if path.suffix.lower() in OTHER_SHEETS:
        return _refused(path, f"a {path.suffix} file is not a returned form; open it and save"
                        " it as an Excel workbook (.xlsx), then ingest it again")
    try:
        raw = read_form(path)
    except FormFileError as exc:
        return _refused(path, str(exc))
    kind = raw.meta.get("form_kind", "")
    reference = raw.meta.get("reference", "")
    if kind not in (AUDIT_FORM, SELF_REFLECTION_FORM):
        return _refused(path, "the form's identification sheet is damaged (unknown form"
                        " kind); use the form that was issued", "(identification)", "_qaudit")
    issued = store.issued(reference)
    if issued is None or raw.meta.get("workspace") != workspace_id:
        what = ("was issued by another qaudit workspace" if raw.meta.get("workspace")
                != workspace_id else "matches no allocation of a current draw")
        return _refused(path, f"allocation reference {reference!r} {what}; check the file is"
                        " a form this team issued", "(identification)", "_qaudit")
    qs = store.issued_question_set(issued.row.question_set_hash) if kind == AUDIT_FORM else None
    spec = Issued(reference, issued.cycle, workspace_id, issued.row.record_id,
                  issued.row.worker_name or issued.row.worker_id, issued.due_date, qs)
    parsed, findings = validate(raw, spec, kind, today)
    if parsed is None:
        return FileOutcome(path, REFUSED, reference, kind, findings)
    current = store.current_return(issued.id, kind)
    if current is not None and current.content_hash == parsed.content_hash:
        return FileOutcome(path, UNCHANGED, reference, kind)
    if current is not None and not replace:
        return FileOutcome(path, REFUSED, reference, kind, [Finding(
            path.name, "", "(whole form)",
            f"{reference} already has a returned {kind.replace('_', '-')} form with different"
            " answers; to replace it (the earlier one is kept as history) use --replace",
        )])
    escalation = None
    if parsed.fields.get("esc_raised") == "Yes":
        escalation = (parsed.fields["esc_to"], parsed.fields["esc_name"],
                      parsed.fields["esc_date"], parsed.fields.get("esc_note", ""))
    store.store_return(
        issued.id, kind, file_name=path.name, file_sha256=raw.sha256,
        content_hash=parsed.content_hash, grade=parsed.grade, fields=parsed.fields,
        answers=parsed.answers, warnings=parsed.warnings, replace=current,
        escalation=escalation, ri_grade=parsed.grade == GRADES[0].key,
    )
    return FileOutcome(path, REPLACED if current else ACCEPTED, reference, kind,
                       warnings=parsed.warnings)
