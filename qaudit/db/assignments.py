"""The auditors the Service Managers named, read back from their returned workbooks.

One current row per allocation (``replaced_at IS NULL``, a unique index holds it); a later
workbook with another choice replaces it and the earlier row is kept as history. Also the
reads of the staff list that checking a choice needs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qaudit.db.schema import now
from qaudit.errors import CycleError
from qaudit.values import same_email

if TYPE_CHECKING:
    from qaudit.db.store import Store


@dataclass(frozen=True)
class StaffEntry:
    """One person of the staff list, as far as checking an auditor needs."""

    worker_id: str
    name: str
    email: str
    team: str
    role: str
    line_manager: str
    line_manager_email: str


@dataclass(frozen=True)
class Assignment:
    """An auditor named for an allocation (the current one, or one since replaced)."""

    id: int
    allocation_id: int
    reference: str
    auditor_name: str
    auditor_email: str
    auditor_role: str
    allocated_on: str | None  # ISO
    file_name: str
    file_sha256: str
    received_at: str
    replaced_at: str | None
    warnings: tuple[str, ...] = ()

    def same_choice(self, name: str, email: str, role: str, allocated_on: str | None) -> bool:
        return ((self.auditor_name, self.auditor_role, self.allocated_on or None)
                == (name, role, allocated_on or None)
                and (self.auditor_email == email or same_email(self.auditor_email, email)))


@dataclass(frozen=True)
class NewAssignment:
    """A choice read from a workbook, to be stored; ``replaces`` is the current row it
    replaces (None: the allocation had no auditor named)."""

    allocation_id: int
    auditor_name: str
    auditor_email: str
    auditor_role: str
    allocated_on: str | None
    warnings: tuple[str, ...]
    replaces: int | None


_COLUMNS = (
    "s.id, s.allocation_id, a.reference, s.auditor_name, s.auditor_email, s.auditor_role,"
    " s.allocated_on, s.file_name, s.file_sha256, s.received_at, s.replaced_at,"
    " s.warnings_json"
)


def _assignment(row: Sequence[Any]) -> Assignment:
    return Assignment(
        id=int(row[0]), allocation_id=int(row[1]), reference=row[2], auditor_name=row[3],
        auditor_email=row[4], auditor_role=row[5], allocated_on=row[6], file_name=row[7],
        file_sha256=row[8], received_at=row[9], replaced_at=row[10],
        warnings=tuple(json.loads(row[11] or "[]")),
    )


class Assignments:
    """The auditors the Service Managers named, read back from their returned workbooks."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def current(self, allocation_id: int) -> Assignment | None:
        row = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM auditor_assignments s"
            " JOIN allocations a ON a.id = s.allocation_id"
            " WHERE s.allocation_id = ? AND s.replaced_at IS NULL", (allocation_id,),
        ).fetchone()
        return _assignment(row) if row else None

    def for_cycle(self, cycle: str) -> list[Assignment]:
        """The current auditor of every allocation of the cycle's current draw that has one."""
        rows = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM auditor_assignments s"
            " JOIN current_allocations a ON a.id = s.allocation_id"
            " WHERE a.cycle = ? AND s.replaced_at IS NULL ORDER BY a.id", (cycle,),
        )
        return [_assignment(r) for r in rows]

    def history(self, allocation_id: int) -> list[Assignment]:
        """Every auditor ever named for an allocation, the current one last."""
        rows = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM auditor_assignments s"
            " JOIN allocations a ON a.id = s.allocation_id"
            " WHERE s.allocation_id = ? ORDER BY s.replaced_at IS NULL, s.id",
            (allocation_id,),
        )
        return [_assignment(r) for r in rows]

    def staff(self) -> list[StaffEntry]:
        """The staff list (``qaudit staff import``), as checking a named auditor needs it."""
        rows = self.store.conn.execute(
            "SELECT worker_id, name, email, team, role, line_manager, line_manager_email"
            " FROM staff ORDER BY worker_id"
        )
        return [StaffEntry(*r) for r in rows]

    def record(self, cycle_id: int, file_name: str, file_sha256: str,
               choices: Sequence[NewAssignment]) -> None:
        """Store a workbook's choices together, all or none. Each replaces exactly the row
        it was checked against: if another officer stored a choice for one of the
        allocations meanwhile, nothing is stored (CycleError) and a rerun compares again."""
        db = self.store
        stamp = now()
        with db.transaction() as conn:
            for choice in choices:
                current = self.current(choice.allocation_id)
                if (current.id if current else None) != choice.replaces:
                    raise CycleError(
                        "another auditor was stored for one of this workbook's cases while it"
                        " was being checked; run ingest again to compare them")
            for choice in choices:
                if choice.replaces is not None:
                    conn.execute("UPDATE auditor_assignments SET replaced_at = ? WHERE id = ?",
                                 (stamp, choice.replaces))
                conn.execute(
                    "INSERT INTO auditor_assignments (allocation_id, auditor_name,"
                    " auditor_email, auditor_role, allocated_on, file_name, file_sha256,"
                    " received_at, warnings_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (choice.allocation_id, choice.auditor_name, choice.auditor_email,
                     choice.auditor_role, choice.allocated_on, file_name, file_sha256, stamp,
                     json.dumps(list(choice.warnings), ensure_ascii=False)),
                )
                (reference,) = conn.execute("SELECT reference FROM allocations WHERE id = ?",
                                            (choice.allocation_id,)).fetchone()
                db.log(cycle_id, "auditor_replaced" if choice.replaces else "auditor_named",
                       {"allocation_id": choice.allocation_id, "file": file_name,
                        "role": choice.auditor_role}, reference)
