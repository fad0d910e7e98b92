"""Read-only queries for status, reports and the analysts' export."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qaudit.grading import RiStatus

if TYPE_CHECKING:
    from qaudit.db.store import Store


@dataclass(frozen=True)
class AllocationProgress:
    """One allocation of a cycle's current draw: what has come back."""

    reference: str
    quadrant: str
    service_manager: str
    due: str  # ISO
    audit_back: bool
    reflection_back: bool
    moderated: bool
    ri_open: bool


@dataclass(frozen=True)
class GradedAudit:
    """A current audit return with its grade of record."""

    reference: str
    quadrant: str
    audit_type: str
    grade: str  # grade key of record
    fields: dict[str, str]


@dataclass(frozen=True)
class AnswerCount:
    quadrant: str
    audit_type: str
    aspect: str
    question_id: str
    answer: str
    count: int


@dataclass(frozen=True)
class DataTable:
    """One sheet of the analysts' export."""

    headers: list[str]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class KnownPeople:
    """Every identifier and name the record holds: nothing of it may be published."""

    #: person, record and worker ids, teams, references, and every email address the
    #: record holds (staff list, auditors named, messages sent)
    identifiers: frozenset[str]
    #: workers, line managers, Service Managers, auditors (named on forms or by Service
    #: Managers), managers named on forms and escalations
    names: frozenset[str]
    cycles: frozenset[str] = frozenset()  # cycle names: references are '<cycle slug>-NNN'


_EXPORT_QUERIES: dict[str, tuple[str, list[str]]] = {
    "Allocations": (
        "SELECT a.cycle, a.reference, a.quadrant, a.audit_type, a.stratum_type,"
        " a.record_id, a.person_id, a.completed_date, a.worker_id, a.worker_name,"
        " a.team, a.service_manager, a.question_set, a.question_set_version"
        " FROM current_allocations a ORDER BY a.cycle_end, a.id",
        ["Cycle", "Reference", "Quadrant", "Audit type", "Drawn for", "Record ID",
         "Person ID", "Work completed", "Worker ID", "Worker", "Team",
         "Service Manager", "Question set", "Version"],
    ),
    "Audits": (
        "SELECT a.reference, g.auditor_grade, g.moderated_grade, g.grade_of_record,"
        " json_extract(r.fields_json, '$.rationale'),"
        " json_extract(r.fields_json, '$.strengths'),"
        " json_extract(r.fields_json, '$.learning'),"
        " json_extract(r.fields_json, '$.share_good_practice'),"
        " json_extract(r.fields_json, '$.auditor_name'),"
        " json_extract(r.fields_json, '$.auditor_role'),"
        " json_extract(r.fields_json, '$.auditor_date'), r.received_at, r.warnings_json"
        " FROM returns r JOIN audit_grades g ON g.return_id = r.id"
        " JOIN allocations a ON a.id = r.allocation_id ORDER BY a.reference",
        ["Reference", "Auditor's grade", "Moderated grade", "Grade of record",
         "Rationale", "Strengths", "Learning", "Shareable", "Auditor", "Role",
         "Completed", "Received", "Warnings"],
    ),
    "Answers": (
        "SELECT a.reference, n.aspect, n.question_id, n.answer, n.comment"
        " FROM answers n JOIN returns r ON r.id = n.return_id"
        " JOIN allocations a ON a.id = r.allocation_id WHERE r.replaced_at IS NULL"
        " ORDER BY a.reference, n.rowid",
        ["Reference", "Aspect", "Question", "Answer", "Comment"],
    ),
    "Self-reflections": (
        "SELECT a.reference, json_extract(r.fields_json, '$.sr_went_well'),"
        " json_extract(r.fields_json, '$.sr_differently'),"
        " json_extract(r.fields_json, '$.sr_support'),"
        " json_extract(r.fields_json, '$.sr_grade'),"
        " json_extract(r.fields_json, '$.sr_date')"
        " FROM returns r JOIN allocations a ON a.id = r.allocation_id"
        " WHERE r.kind = 'self_reflection' AND r.replaced_at IS NULL"
        " ORDER BY a.reference",
        ["Reference", "Went well", "Would do differently", "Support wanted",
         "Own grade", "Date"],
    ),
    "Moderation": (
        "SELECT a.reference, o.moderated_grade, o.constructive, o.names_strengths,"
        " o.names_learning, o.theme, o.comments, o.learning"
        " FROM moderation_outcomes o JOIN moderation_items i ON i.id = o.item_id"
        " JOIN moderation_samples s ON s.id = i.sample_id"
        " JOIN returns r ON r.id = i.return_id JOIN allocations a"
        " ON a.id = r.allocation_id WHERE o.replaced_at IS NULL"
        " AND s.replaced_at IS NULL AND r.replaced_at IS NULL ORDER BY a.reference",
        ["Reference", "Moderated grade", "Constructive", "Names strengths",
         "Names learning", "Theme", "Comments", "Learning for the auditor"],
    ),
    "RI follow-up": (
        "SELECT a.reference, i.status, i.opened_at, i.closed_at, i.note, s.step,"
        " s.done_on, s.note FROM ri_items i JOIN allocations a"
        " ON a.id = i.allocation_id LEFT JOIN ri_steps s ON s.ri_id = i.id"
        " ORDER BY a.reference, s.id",
        ["Reference", "Status", "Opened", "Closed", "Note", "Step", "Done on",
         "Step note"],
    ),
    "Escalations": (
        "SELECT a.reference, e.escalated_to, e.manager_name, e.escalated_on, e.note"
        " FROM escalations e JOIN returns r ON r.id = e.return_id"
        " JOIN allocations a ON a.id = r.allocation_id WHERE r.replaced_at IS NULL"
        " ORDER BY e.escalated_on",
        ["Reference", "Escalated to", "Manager", "On", "Note"],
    ),
}


@dataclass(frozen=True)
class Reporting:
    db: Store

    def allocation_progress(self, cycle: str) -> list[AllocationProgress]:
        cycle = self.db.draws.stored_name(cycle)
        rows = self.db.conn.execute(
            "SELECT a.reference, a.quadrant, a.service_manager, a.due_date,"
            " EXISTS (SELECT 1 FROM returns r WHERE r.allocation_id = a.id AND r.kind = 'audit'"
            "   AND r.replaced_at IS NULL),"
            " EXISTS (SELECT 1 FROM returns r WHERE r.allocation_id = a.id"
            "   AND r.kind = 'self_reflection' AND r.replaced_at IS NULL),"
            " EXISTS (SELECT 1 FROM audit_grades g WHERE g.allocation_id = a.id"
            "   AND g.moderated_grade IS NOT NULL),"
            " EXISTS (SELECT 1 FROM ri_items i WHERE i.allocation_id = a.id"
            "   AND i.status = ?)"
            " FROM current_allocations a WHERE a.cycle = ? ORDER BY a.id",
            (RiStatus.OPEN, cycle),
        ).fetchall()
        return [AllocationProgress(r[0], r[1], r[2], r[3], *(bool(v) for v in r[4:]))
                for r in rows]

    def graded_audits(self, cycle: str) -> list[GradedAudit]:
        cycle = self.db.draws.stored_name(cycle)
        rows = self.db.conn.execute(
            "SELECT a.reference, a.quadrant, a.audit_type, g.grade_of_record, r.fields_json"
            " FROM audit_grades g JOIN returns r ON r.id = g.return_id"
            " JOIN current_allocations a ON a.id = g.allocation_id WHERE a.cycle = ?"
            " ORDER BY a.reference", (cycle,),
        )
        return [GradedAudit(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def answer_counts(self, cycle: str) -> list[AnswerCount]:
        """Answers to each question over the cycle's current audits."""
        cycle = self.db.draws.stored_name(cycle)
        rows = self.db.conn.execute(
            "SELECT a.quadrant, a.audit_type, n.aspect, n.question_id, n.answer, count(*)"
            " FROM answers n JOIN returns r ON r.id = n.return_id"
            " JOIN current_allocations a ON a.id = r.allocation_id"
            " WHERE a.cycle = ? AND r.replaced_at IS NULL"
            " GROUP BY a.quadrant, a.audit_type, n.aspect, n.question_id, n.answer", (cycle,))
        return [AnswerCount(*r) for r in rows]

    def completed_months(self, cycles: list[str]) -> dict[str, str]:
        """Each current allocation of ``cycles``: the month (YYYY-MM) its work was completed."""
        return _completed_months(self.db, cycles)

    def deep_dives_between(self, first: str, last: str) -> list[DeepDiveHeld]:
        """The deep dives drawn whose window meets ``first`` to ``last`` (ISO dates)."""
        return _deep_dives_between(self.db, first, last)

    def export_tables(self) -> dict[str, DataTable]:
        """Every table an analyst needs, current rows only."""
        return {name: DataTable(headers, [tuple(r) for r in self.db.conn.execute(sql)])
                for name, (sql, headers) in _EXPORT_QUERIES.items()}

    def known_people(self) -> KnownPeople:
        """Who is in the record: the allocations and returns, the staff list, the auditors
        the Service Managers named (replaced choices too) and the addresses written to."""
        identifiers: set[str] = set()
        names: set[str] = set()
        # Every email column the allocations have (the case export's, since migration 10),
        # named by the cursor rather than listed, so none added later is missed.
        allocations = self.db.conn.execute("SELECT * FROM allocations")
        columns = [d[0] for d in allocations.description]
        ids = [i for i, c in enumerate(columns) if c.endswith("_email") or c in (
            "person_id", "record_id", "worker_id", "team", "reference")]
        people = [columns.index("worker_name"), columns.index("service_manager")]
        for row in allocations:
            identifiers.update(row[i] for i in ids if row[i])
            names.update(row[i] for i in people if row[i])
        for (fields,) in self.db.conn.execute("SELECT fields_json FROM returns"):
            data = json.loads(fields)
            names.update(v for k in ("auditor_name", "esc_name", "ri_by") if (v := data.get(k)))
        names.update(v for (v,) in self.db.conn.execute("SELECT manager_name FROM escalations")
                     if v)
        # The staff list's roles are not taken as "not a name": a list whose role and line
        # manager columns were mapped the wrong way round would otherwise hide every name.
        for (worker, name, email, team, line_manager, line_manager_email, service_manager,
             service_manager_email) in self.db.conn.execute(
                "SELECT worker_id, name, email, team, line_manager, line_manager_email,"
                " service_manager, service_manager_email FROM staff"):
            identifiers.update(v for v in (worker, team, email, line_manager_email,
                                           service_manager_email) if v)
            names.update(v for v in (name, line_manager, service_manager) if v)
        for name, email in self.db.conn.execute(
                "SELECT auditor_name, auditor_email FROM auditor_assignments"):
            names.update({name} - {""})
            identifiers.update({email} - {""})
        for addresses in self.db.conn.execute("SELECT recipients, cc FROM messages"):
            identifiers.update(a.strip() for field in addresses if field
                               for a in field.split(",") if a.strip())
        cycles = frozenset(v for (v,) in self.db.conn.execute("SELECT name FROM cycles") if v)
        return KnownPeople(frozenset(identifiers), frozenset(names), cycles)


@dataclass(frozen=True)
class DeepDiveHeld:
    """A deep dive drawn: its cycle's name, title, audits drawn and window."""

    name: str
    title: str
    size: int
    window: str


def _completed_months(db: Store, cycles: list[str]) -> dict[str, str]:
    marks = ",".join("?" * len(cycles))
    rows = db.conn.execute(
        "SELECT reference, substr(completed_date, 1, 7) FROM current_allocations"
        f" WHERE cycle IN ({marks})", cycles) if cycles else []
    return {r[0]: r[1] for r in rows}


def _deep_dives_between(db: Store, first: str, last: str) -> list[DeepDiveHeld]:
    rows = db.conn.execute(
        "SELECT c.name, d.title, (SELECT count(*) FROM current_allocations a"
        "  WHERE a.cycle_id = c.id), c.date_from, c.date_to"
        " FROM deep_dives d JOIN cycles c ON c.id = d.cycle_id"
        " WHERE c.kind = 'deep_dive' AND c.date_to >= ? AND c.date_from <= ?"
        " AND EXISTS (SELECT 1 FROM draws w WHERE w.cycle_id = c.id"
        "  AND w.replaced_at IS NULL)"
        " ORDER BY c.date_to, c.name", (first, last))
    return [DeepDiveHeld(r[0], r[1], int(r[2]), f"{r[3]} to {r[4]}") for r in rows]
