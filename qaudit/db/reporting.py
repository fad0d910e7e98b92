"""Read-only queries for status, reports and the analysts' export."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    """One table of the analysts' export: each row's values in the order of ``columns``,
    the record's own names for them (the keys ``workbooks.dataset`` describes). Values are
    as stored: grade and audit type keys, ISO dates and UTC times; the export labels them."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class KnownPeople:
    """Every identifier and name the record holds: nothing of it may be published."""

    #: person, record and worker ids, teams, references, and every email address the
    #: record holds (staff list, auditors named, messages sent)
    identifiers: frozenset[str]
    #: workers, line managers, Service Managers, auditors (named on forms or by Service
    #: Managers), managers named on forms and escalations, workshop participants named
    names: frozenset[str]
    cycles: frozenset[str] = frozenset()  # cycle names: references are '<cycle slug>-NNN'


#: The cycles' tables, by the export's name for each (its CSV file's name). Each column is
#: named (``AS``) as ``workbooks.dataset`` describes it.
_EXPORT_QUERIES: dict[str, str] = {
    "allocations":
        "SELECT a.cycle, a.cycle_kind AS kind, a.reference, a.quadrant, a.audit_type,"
        " a.stratum_type AS drawn_for, a.record_id, a.person_id,"
        " a.completed_date AS work_completed, a.worker_id, a.worker_name AS worker, a.team,"
        " a.service_manager, a.question_set, a.question_set_version AS version,"
        " a.follows_up, a.drawn_because"
        " FROM current_allocations a ORDER BY a.cycle_end, a.id",
    "audits":
        "SELECT a.reference, g.auditor_grade, g.moderated_grade, g.grade_of_record,"
        " json_extract(r.fields_json, '$.rationale') AS rationale,"
        " json_extract(r.fields_json, '$.strengths') AS strengths,"
        " json_extract(r.fields_json, '$.learning') AS learning,"
        " json_extract(r.fields_json, '$.share_good_practice') AS shareable,"
        " json_extract(r.fields_json, '$.auditor_name') AS auditor,"
        " json_extract(r.fields_json, '$.auditor_role') AS role,"
        " json_extract(r.fields_json, '$.auditor_date') AS completed,"
        " r.received_at AS received,"
        " (SELECT group_concat(w.value, '; ') FROM json_each(r.warnings_json) w) AS warnings"
        " FROM returns r JOIN audit_grades g ON g.return_id = r.id"
        " JOIN current_allocations a ON a.id = r.allocation_id ORDER BY a.reference",
    "self-reflections":
        "SELECT a.reference, json_extract(r.fields_json, '$.sr_went_well') AS went_well,"
        " json_extract(r.fields_json, '$.sr_differently') AS differently,"
        " json_extract(r.fields_json, '$.sr_support') AS support,"
        " json_extract(r.fields_json, '$.sr_grade') AS own_grade,"
        " json_extract(r.fields_json, '$.sr_date') AS reflected_on"
        " FROM returns r JOIN current_allocations a ON a.id = r.allocation_id"
        " WHERE r.kind = 'self_reflection' AND r.replaced_at IS NULL"
        " ORDER BY a.reference",
    "moderation":
        "SELECT a.reference, o.moderated_grade, o.constructive, o.names_strengths,"
        " o.names_learning, o.theme, o.comments, o.learning AS auditor_learning"
        " FROM moderation_outcomes o JOIN moderation_items i ON i.id = o.item_id"
        " JOIN moderation_samples s ON s.id = i.sample_id"
        " JOIN returns r ON r.id = i.return_id JOIN current_allocations a"
        " ON a.id = r.allocation_id WHERE o.replaced_at IS NULL"
        " AND s.replaced_at IS NULL AND r.replaced_at IS NULL ORDER BY a.reference",
    "ri-steps":
        "SELECT a.reference, s.step, s.done_on, s.note AS step_note"
        " FROM ri_steps s JOIN ri_items i ON i.id = s.ri_id"
        " JOIN current_allocations a ON a.id = i.allocation_id ORDER BY a.reference, s.id",
    "escalations":
        "SELECT a.reference, e.escalated_to, e.manager_name AS manager,"
        " e.escalated_on, e.note"
        " FROM escalations e JOIN returns r ON r.id = e.return_id"
        " JOIN current_allocations a ON a.id = r.allocation_id WHERE r.replaced_at IS NULL"
        " ORDER BY e.escalated_on",
}
_ANSWERS = (
    "SELECT a.reference, n.aspect, n.question_id, a.question_set_hash, n.answer, n.comment"
    " FROM answers n JOIN returns r ON r.id = n.return_id"
    " JOIN current_allocations a ON a.id = r.allocation_id WHERE r.replaced_at IS NULL"
    " ORDER BY a.reference, n.rowid"
)
#: The order of the cycles' tables (the sheets' order), the ones built in Python included.
_CYCLE_TABLES = ("allocations", "audits", "answers", "self-reflections", "moderation",
                 "ri-follow-up", "ri-steps", "escalations")


#: The year's tables, each exported only once the record has a row for it (so a workspace
#: without a plan, deep dive or workshop exports the tables it always did). Workshop
#: participants appear by label ("Participant 1"): their names are never exported.
_YEAR_QUERIES: dict[str, str] = {
    "planned-cycles":
        "SELECT year, position, name AS cycle, date_from AS window_from,"
        " date_to AS window_to, due_date AS due, weeks"
        " FROM planned_cycles WHERE replaced_at IS NULL ORDER BY date_from, year, position",
    "workshops":
        "SELECT w.name AS workshop, w.held_on, c.name AS from_cycle,"
        " (SELECT count(*) FROM workshop_cases k WHERE k.workshop_id = w.id) AS cases,"
        " (SELECT count(*) FROM workshop_participants p WHERE p.workshop_id = w.id)"
        "  AS participants,"
        " (SELECT count(DISTINCT g.participant) FROM workshop_grades g"
        "   WHERE g.workshop_id = w.id AND g.replaced_at IS NULL) AS participants_returned"
        " FROM workshops w LEFT JOIN cycles c ON c.id = w.from_cycle_id"
        " ORDER BY w.held_on, w.id",
    "workshop-cases":
        # A case of a cycle cancelled since is kept (the workshop graded it) without its
        # reference, which a redraw may have given another case.
        "SELECT w.name AS workshop, k.label AS case_label, coalesce(a.reference, '') AS reference,"
        " c.name AS cycle, h.audit_type,"
        " coalesce((SELECT g.grade_of_record FROM audit_grades g"
        "   WHERE g.allocation_id = k.allocation_id), r.grade) AS grade_of_record"
        " FROM workshop_cases k JOIN workshops w ON w.id = k.workshop_id"
        " JOIN allocations h ON h.id = k.allocation_id JOIN draws d ON d.id = h.draw_id"
        " JOIN cycles c ON c.id = d.cycle_id JOIN returns r ON r.id = k.return_id"
        " LEFT JOIN current_allocations a ON a.id = k.allocation_id"
        " ORDER BY w.held_on, w.id, k.position",
    "workshop-grades":
        "SELECT w.name AS workshop, g.participant, k.label AS case_label, g.grade, g.note,"
        " g.received_at AS received"
        " FROM workshop_grades g JOIN workshops w ON w.id = g.workshop_id"
        " JOIN workshop_cases k ON k.id = g.case_id"
        " LEFT JOIN workshop_participants p ON p.workshop_id = g.workshop_id"
        "  AND p.label = g.participant"
        " WHERE g.replaced_at IS NULL ORDER BY w.held_on, w.id, p.position, k.position",
}

#: A deep dive's filters, one column a key (``themes.FILTER_KEYS``); each cell holds the
#: key's values as a tuple (any of them), the job joining them for the sheet.
_FILTER_COLUMNS = (("team", "team_filter"), ("audit-type", "audit_type_filter"),
                   ("quadrant", "quadrant_filter"), ("question", "question_filter"))
_DEEP_DIVES = (
    "SELECT c.id, c.name, c.date_from, c.date_to, d.title, d.purpose, d.understand,"
    " d.method, d.directed_by, d.question_set, d.filters_json, d.size,"
    " d.blocks_later_draws, d.terms_sha256"
    " FROM deep_dives d JOIN cycles c ON c.id = d.cycle_id"
    " WHERE c.kind = 'deep_dive' AND c.cancelled_at IS NULL ORDER BY c.date_to, c.name"
)
_DEEP_DIVE_COLUMNS = [
    "cycle", "window_from", "window_to", "title", "purpose", "understand", "method",
    "directed_by", "question_set", *(column for _, column in _FILTER_COLUMNS), "size",
    "blocks_later_draws", "terms_sha256",
]
_RI_COLUMNS = ["reference", "status", "opened", "closed", "corrective_action", "action_by",
               "action_due", "steps_outstanding", "note"]


def _folded(text: str) -> str:
    """A team as a filter compares it: case and runs of spaces aside."""
    return " ".join(text.casefold().split())


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

    def export_tables(self, required_steps: Sequence[str]) -> dict[str, DataTable]:
        """Every table an analyst needs, current rows only, by name: the cycles' tables,
        then the year's (the plan, deep dives, workshops) where the record has any. A cell
        of a deep dive's filters or of an RI item's steps outstanding (``required_steps``
        not recorded) is a tuple of values; every other cell is a plain value."""
        cycles = {name: self._table(sql) for name, sql in _EXPORT_QUERIES.items()}
        cycles["answers"] = self._answers_table()
        cycles["ri-follow-up"] = self._ri_table(required_steps)
        tables = {name: cycles[name] for name in _CYCLE_TABLES}
        year = {name: self._table(sql) for name, sql in _YEAR_QUERIES.items()}
        if year["planned-cycles"].rows:
            tables["planned-cycles"] = year["planned-cycles"]
        deep_dives = self._deep_dives_table()
        if deep_dives.rows:
            tables["deep-dives"] = deep_dives
        if year["workshops"].rows:  # a workshop's three tables go together
            tables.update((n, year[n]) for n in ("workshops", "workshop-cases",
                                                 "workshop-grades"))
        return tables

    def _table(self, sql: str) -> DataTable:
        cursor = self.db.conn.execute(sql)
        return DataTable([d[0] for d in cursor.description], [tuple(r) for r in cursor])

    def _answers_table(self) -> DataTable:
        """Each answer with its question's text as the form that was returned put it (the
        question set as issued to the cycle, not as the templates say today)."""
        texts: dict[tuple[str, str], str] = {}
        rows = []
        for reference, aspect, question_id, digest, answer, comment in self.db.conn.execute(
                _ANSWERS).fetchall():
            if (digest, question_id) not in texts:
                texts.update(((digest, q.id), q.text)
                             for q in self.db.draws.issued_question_set(digest).questions)
            rows.append((reference, aspect, question_id, texts.get((digest, question_id), ""),
                         answer, comment))
        return DataTable(["reference", "aspect", "question_id", "question", "answer",
                          "comment"], rows)

    def _ri_table(self, required_steps: Sequence[str]) -> DataTable:
        """Each audit on the RI monitoring list with the corrective action its audit form
        set out; a withdrawn item (regraded) has no step outstanding."""
        rows = [(i.reference, str(i.status), i.opened_at, i.closed_at, i.action, i.action_by,
                 i.action_due, () if i.status is RiStatus.WITHDRAWN else tuple(
                     s for s in required_steps if s not in i.steps), i.note)
                for i in self.db.returns.ri_items(None)]
        return DataTable(list(_RI_COLUMNS), rows)

    def _deep_dives_table(self) -> DataTable:
        """Each deep dive drawn (not cancelled) with its terms of reference. A team filter
        is stored as typed; it is shown as the team its cases' allocations spell it (case
        and spaces aside), so an anonymised export gives it the Team column's pseudonym."""
        teams: dict[str, str] = {}
        for (team,) in self.db.conn.execute(
                "SELECT DISTINCT team FROM allocations WHERE team != '' ORDER BY team"):
            teams.setdefault(_folded(team), team)
        rows: list[tuple[Any, ...]] = []
        for (cycle_id, name, date_from, date_to, title, purpose, understand, method,
             directed_by, question_set, filters, size, blocks, sha) in self.db.conn.execute(
                _DEEP_DIVES).fetchall():
            own = {_folded(t): t for (t,) in self.db.conn.execute(
                "SELECT DISTINCT team FROM current_allocations WHERE cycle_id = ?",
                (cycle_id,))}
            given: dict[str, list[str]] = json.loads(filters)
            cells: list[tuple[str, ...]] = []
            for key, _ in _FILTER_COLUMNS:
                values = [str(v) for v in given.get(key, [])]
                if key == "team":
                    values = [own.get(_folded(v)) or teams.get(_folded(v)) or v for v in values]
                cells.append(tuple(values))
            rows.append((name, date_from, date_to, title, purpose, understand, method,
                         directed_by, question_set, *cells, int(size),
                         "Yes" if blocks else "No", sha))
        return DataTable(list(_DEEP_DIVE_COLUMNS), rows)

    def known_people(self) -> KnownPeople:
        """Who is in the record: the allocations and returns, the staff list, the auditors
        the Service Managers named (replaced choices too), the workshop participants named
        and the addresses written to."""
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
        # Workshop participants named to `workshop make`: a grade note may name another.
        names.update(v for (v,) in self.db.conn.execute(
            "SELECT name FROM workshop_participants") if v)
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
