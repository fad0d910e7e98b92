"""The staff list and the feedback conversations (qaudit staff import, qaudit feedback record),
and the read-only queries of who holds what (qaudit status --by, --overdue; feedback year).

The staff list is keyed by worker id, the id the case export gives the practitioner. An
import never loses what was known: a worker missing from a new list is kept, and a blank
cell (or a column the new list lacks) keeps the value stored (``merge_staff``). A feedback
conversation can be recorded only for an audit that has come back, on or after the day
it came back (``check_feedback``): both rules hold inside the transaction that stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields, replace
from datetime import date
from typing import TYPE_CHECKING

from qaudit.db.schema import now
from qaudit.errors import QauditError

if TYPE_CHECKING:
    from qaudit.db.store import Store


@dataclass(frozen=True)
class StaffMember:
    """One person of the staff list. A blank field is not known."""

    worker_id: str
    name: str
    email: str = ""
    team: str = ""
    role: str = ""
    line_manager: str = ""
    line_manager_email: str = ""
    service_manager: str = ""
    service_manager_email: str = ""


STAFF_COLUMNS = tuple(f.name for f in fields(StaffMember))


@dataclass(frozen=True)
class StaffRecord:
    """A person as the staff list holds them, with where and when that was last set."""

    member: StaffMember
    source: str  # the file name of the import that last changed the row
    updated_at: str  # UTC, ISO


@dataclass(frozen=True)
class StaffUpdate:
    """A known person whose row a new list changes: the row after, and what changed."""

    member: StaffMember
    changed: tuple[str, ...]


@dataclass(frozen=True)
class StaffChanges:
    """What an import does to the staff list: each person of the store or the file, once."""

    added: list[StaffMember]
    updated: list[StaffUpdate]
    unchanged: list[StaffMember]
    kept: list[StaffMember]  # known, not in this file: kept as they are


def merge_staff(new: StaffMember, old: StaffMember | None) -> StaffMember:
    """The row to store: the new list's values, where it leaves one blank the value known."""
    if old is None:
        return new
    return replace(new, **{k: getattr(old, k) for k in STAFF_COLUMNS
                           if not getattr(new, k) and getattr(old, k)})


@dataclass(frozen=True)
class FeedbackRecorded:
    """A reflective conversation stored: of which audit, when, and how many so far."""

    reference: str
    cycle: str
    held_on: date
    times: int  # conversations now recorded for this audit (this one included)


@dataclass(frozen=True)
class CaseHolding:
    """One allocation of a cycle's current draw and who holds each part of it."""

    reference: str
    quadrant: str
    audit_type: str
    worker_id: str
    practitioner: str  # the name, or the worker id when the export had no name
    team: str
    service_manager: str
    due: str  # ISO
    audit_back: bool
    audit_received: str | None  # ISO date the audit first came back
    reflection_back: bool
    auditor: str  # named by the Service Manager; '' while none is named
    auditor_email: str
    feedback_times: int
    last_feedback: str | None  # ISO


@dataclass(frozen=True)
class SentMessages:
    """Messages of one kind for a cycle, by route: how many, and the last."""

    kind: str
    route: str  # draft | smtp
    count: int
    last: str  # UTC, ISO


@dataclass(frozen=True)
class PractitionerAudit:
    """An audit of a practitioner's work that came back, and its feedback conversations."""

    worker_id: str
    practitioner: str
    team: str
    reference: str
    received: str  # ISO date it first came back
    feedback: tuple[str, ...]  # ISO dates of the conversations recorded


_RECEIVED = "(SELECT min(substr(r.received_at, 1, 10)) FROM returns r" \
    " WHERE r.allocation_id = a.id AND r.kind = 'audit')"


class People:
    """The staff list and the feedback conversations."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- the staff list ---------------------------------------------------------------

    def staff(self) -> list[StaffRecord]:
        """Everyone known, by name."""
        rows = self.store.conn.execute(
            f"SELECT {', '.join(STAFF_COLUMNS)}, source, updated_at FROM staff"
            " ORDER BY name COLLATE NOCASE, worker_id")
        return [StaffRecord(StaffMember(*r[:-2]), r[-2], r[-1]) for r in rows]

    def plan_staff(self, members: Sequence[StaffMember]) -> StaffChanges:
        """What storing ``members`` would change; nothing is written."""
        known = {r.member.worker_id: r.member for r in self.staff()}
        changes = StaffChanges([], [], [], [])
        for new in members:
            old = known.pop(new.worker_id, None)
            merged = merge_staff(new, old)
            if old is None:
                changes.added.append(merged)
            elif merged == old:
                changes.unchanged.append(merged)
            else:
                changed = tuple(k for k in STAFF_COLUMNS if getattr(merged, k) != getattr(old, k))
                changes.updated.append(StaffUpdate(merged, changed))
        changes.kept.extend(known.values())
        return changes

    def import_staff(self, members: Sequence[StaffMember], source: str,
                     detail: dict[str, object]) -> StaffChanges:
        """Add and update the staff list from one file in one transaction, and log it.
        Planned again inside the transaction: another import may have run since a plan."""
        with self.store.transaction() as conn:
            changes = self.plan_staff(members)
            stamp = now()
            rows = [*changes.added, *(u.member for u in changes.updated)]
            conn.executemany(
                f"INSERT INTO staff ({', '.join(STAFF_COLUMNS)}, source, updated_at)"
                f" VALUES ({', '.join('?' * (len(STAFF_COLUMNS) + 2))})"
                " ON CONFLICT (worker_id) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in (*STAFF_COLUMNS[1:], "source",
                                                            "updated_at")),
                [(*astuple(m), source, stamp) for m in rows])
            self.store.log(None, "staff_import", {
                **detail, "added": len(changes.added), "updated": len(changes.updated),
                "unchanged": len(changes.unchanged), "kept": len(changes.kept)})
        return changes

    # --- feedback conversations ----------------------------------------------------------

    def _returned_audit(self, reference: str) -> tuple[int, int, str, str, str]:
        """(allocation id, cycle id, cycle, day the audit first came back, the reference as
        stored) of a reference typed in any case (references are ASCII, and unique however
        they are cased, as their cycles' names are), or the refusal that says why feedback
        cannot be recorded for it."""
        row = self.store.conn.execute(
            f"SELECT a.id, a.cycle_id, a.cycle, {_RECEIVED},"
            " EXISTS (SELECT 1 FROM returns r WHERE r.allocation_id = a.id"
            "   AND r.kind = 'audit' AND r.replaced_at IS NULL), a.reference"
            " FROM current_allocations a WHERE a.reference = ? COLLATE NOCASE",
            (reference,)).fetchone()
        if row is None:
            raise QauditError(
                f"no allocation {reference!r} in any cycle's current draw; give the reference"
                " as forms and registers show it (`qaudit status --by practitioner` lists"
                " them).")
        if not row[4] or row[3] is None:
            raise QauditError(
                f"the audit of {row[5]} has not come back yet, so there is no feedback to"
                " share; record the conversation once the audit is ingested.")
        return int(row[0]), int(row[1]), str(row[2]), str(row[3]), str(row[5])

    def check_feedback(self, reference: str, held_on: date) -> tuple[int, int, str, str]:
        """The framework's order of things: the audit is returned, then its feedback is
        shared. (allocation id, cycle id, cycle, reference as stored) if a conversation on
        ``held_on`` can be recorded; else the refusal."""
        allocation, cycle_id, cycle, received, stored = self._returned_audit(reference)
        if held_on < date.fromisoformat(received):
            raise QauditError(
                f"--on {held_on:%d/%m/%Y} is before the audit of {stored} came back"
                f" ({date.fromisoformat(received):%d/%m/%Y}); feedback follows the audit."
                " Check the date.")
        return allocation, cycle_id, cycle, stored

    def record_feedback(self, reference: str, held_on: date, note: str) -> FeedbackRecorded:
        """Store one reflective conversation (recording again adds one: the history)."""
        with self.store.transaction() as conn:
            allocation, cycle_id, cycle, reference = self.check_feedback(reference, held_on)
            conn.execute(
                "INSERT INTO feedback (allocation_id, held_on, note, recorded_at, actor)"
                " VALUES (?, ?, ?, ?, ?)",
                (allocation, held_on.isoformat(), note, now(), self.store.actor))
            times = int(conn.execute("SELECT count(*) FROM feedback WHERE allocation_id = ?",
                                     (allocation,)).fetchone()[0])
            self.store.log(cycle_id, "feedback_recorded",
                           {"held_on": held_on.isoformat(), "note": note, "times": times},
                           reference=reference)
        return FeedbackRecorded(reference, cycle, held_on, times)

    def fed_references(self, cycle: str) -> frozenset[str]:
        """References of the cycle's returned audits with feedback recorded at least once."""
        cycle = self.store.draws.stored_name(cycle)
        rows = self.store.conn.execute(
            "SELECT a.reference FROM current_allocations a WHERE a.cycle = ?"
            " AND EXISTS (SELECT 1 FROM feedback f WHERE f.allocation_id = a.id)"
            " AND EXISTS (SELECT 1 FROM returns r WHERE r.allocation_id = a.id"
            "   AND r.kind = 'audit' AND r.replaced_at IS NULL)", (cycle,))
        return frozenset(r[0] for r in rows)

    # --- who holds what -------------------------------------------------------------------

    def case_holdings(self, cycle: str) -> list[CaseHolding]:
        """Every allocation of the cycle's current draw: what is back, the auditor named for
        it (if any), and its feedback conversations."""
        cycle = self.store.draws.stored_name(cycle)
        rows = self.store.conn.execute(
            "SELECT a.reference, a.quadrant, a.audit_type, a.worker_id,"
            " CASE WHEN a.worker_name != '' THEN a.worker_name ELSE a.worker_id END,"
            " a.team, a.service_manager, a.due_date,"
            " EXISTS (SELECT 1 FROM returns r WHERE r.allocation_id = a.id"
            "   AND r.kind = 'audit' AND r.replaced_at IS NULL),"
            f" {_RECEIVED},"
            " EXISTS (SELECT 1 FROM returns r WHERE r.allocation_id = a.id"
            "   AND r.kind = 'self_reflection' AND r.replaced_at IS NULL),"
            " COALESCE(s.auditor_name, ''), COALESCE(s.auditor_email, ''),"
            " (SELECT count(*) FROM feedback f WHERE f.allocation_id = a.id),"
            " (SELECT max(f.held_on) FROM feedback f WHERE f.allocation_id = a.id)"
            " FROM current_allocations a LEFT JOIN auditor_assignments s"
            "   ON s.allocation_id = a.id AND s.replaced_at IS NULL"
            " WHERE a.cycle = ? ORDER BY a.id", (cycle,))
        return [CaseHolding(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]), r[9],
                            bool(r[10]), r[11], r[12], int(r[13]), r[14]) for r in rows]

    def messages_sent(self, cycle: str) -> list[SentMessages]:
        """What ``qaudit send`` drafted or sent for the cycle, per kind and route."""
        cycle = self.store.draws.stored_name(cycle)
        rows = self.store.conn.execute(
            "SELECT m.kind, m.route, count(*), max(m.at) FROM messages m"
            " JOIN cycles c ON c.id = m.cycle_id WHERE c.name = ?"
            " GROUP BY m.kind, m.route ORDER BY min(m.id)", (cycle,))
        return [SentMessages(r[0], r[1], int(r[2]), r[3]) for r in rows]

    def audits_in_period(self, start: date, end: date) -> list[PractitionerAudit]:
        """Audits of current draws that came back, or had a feedback conversation, between
        ``start`` and ``end`` (inclusive), with every conversation of each."""
        first, last = start.isoformat(), end.isoformat()
        rows = self.store.conn.execute(
            "SELECT a.worker_id, CASE WHEN a.worker_name != '' THEN a.worker_name"
            " ELSE a.worker_id END, a.team, a.reference, received,"
            " (SELECT group_concat(f.held_on, ' ') FROM feedback f"
            "   WHERE f.allocation_id = a.id)"
            f" FROM (SELECT a.*, {_RECEIVED} AS received FROM current_allocations a) a"
            " WHERE received IS NOT NULL AND (received BETWEEN ? AND ? OR EXISTS"
            "   (SELECT 1 FROM feedback f WHERE f.allocation_id = a.id"
            "    AND f.held_on BETWEEN ? AND ?))"
            " ORDER BY a.worker_id, received, a.reference", (first, last, first, last))
        return [PractitionerAudit(r[0], r[1], r[2], r[3], r[4],
                                  tuple(sorted((r[5] or "").split()))) for r in rows]
