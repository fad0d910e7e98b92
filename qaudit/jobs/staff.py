"""The staff list: import one (added, updated, unchanged, kept), and say who is known.

Who is who comes from the staff list, not from the case export: the export names a
worker and their Service Manager, but not their email, line manager or role. The list is
read and checked whole first (``workbooks.staff``); then every row is stored, or none
(``People.import_staff``, one transaction and one event).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qaudit.config import Settings
from qaudit.db import Store
from qaudit.db.people import StaffChanges, StaffRecord
from qaudit.workbooks.staff import (
    SkippedRow,
    StaffList,
    StaffRow,
    missing_optional,
    read_staff_list,
)


@dataclass(frozen=True)
class StaffImport:
    """What an import of one staff list did (or, with ``dry_run``, would do)."""

    file: str
    sha256: str
    sheet: str | None
    header_row: int
    columns: dict[str, str]  # field -> header found
    not_in_file: list[str]  # optional fields the list has no column for: kept as known
    rows_read: int
    changes: StaffChanges
    without_email: list[StaffRow]  # of this file, after the import: no email known
    skipped: list[SkippedRow]  # rows naming somebody that cannot be stored
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        c = self.changes
        return {
            "file": self.file, "sha256": self.sha256, "sheet": self.sheet,
            "header_row": self.header_row, "columns": self.columns,
            "not_in_file": self.not_in_file, "rows_read": self.rows_read,
            "dry_run": self.dry_run,
            "added": len(c.added), "updated": len(c.updated), "unchanged": len(c.unchanged),
            "kept_not_in_file": len(c.kept),
            "updates": [{"worker_id": u.member.worker_id, "changed": list(u.changed)}
                        for u in c.updated],
            "without_email": [{"row": r.row, "worker_id": r.member.worker_id,
                               "name": r.member.name, "team": r.member.team}
                              for r in self.without_email],
            "skipped": [asdict(s) for s in self.skipped],
        }


def import_staff(store: Store, path: Path, settings: Settings, dry_run: bool,
                 sheet: str | None = None) -> StaffImport:
    """Read and check a staff list (of a workbook, its one visible sheet with a staff list
    header, or ``sheet``), then store it (upsert by worker id) unless ``dry_run``."""
    staff: StaffList = read_staff_list(path, settings.staff.columns, sheet)
    members = [r.member for r in staff.rows]
    if dry_run:
        changes = store.people.plan_staff(members)
    else:
        changes = store.people.import_staff(members, path.name, {
            "file": path.name, "sha256": staff.sha256, "rows": len(members),
            "skipped": len(staff.skipped)})
    after = [*changes.added, *(u.member for u in changes.updated), *changes.unchanged]
    known = {m.worker_id for m in after if m.email}
    lacking = [r for r in staff.rows if r.member.worker_id not in known]
    return StaffImport(
        file=str(path), sha256=staff.sha256, sheet=staff.sheet, header_row=staff.header_row,
        columns=staff.columns, not_in_file=missing_optional(staff.columns),
        rows_read=staff.rows_read, changes=changes, without_email=lacking,
        skipped=staff.skipped, dry_run=dry_run)


def staff_list(store: Store) -> list[StaffRecord]:
    """Everyone on the staff list, by name."""
    return store.people.staff()
