"""The audit-the-auditor workshops: their cases, participants and grades.

A workshop is made once (its name is unique by its folder name, ignoring case, as a
cycle's is: ``values.cycle_key``): the cases it took, each with an anonymous label
("Case A"), and its participants ("Participant 1", with the name given, if any). A
participant's grades are replaced as a whole (the earlier ones kept, marked replaced), so a
workbook ingested twice never counts twice, and an older copy is known by its content.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from qaudit.db.schema import now
from qaudit.errors import QauditError
from qaudit.values import cycle_key

if TYPE_CHECKING:
    from qaudit.db.store import Store


class WorkshopError(QauditError):
    """A workshop that is unknown, or already made."""


@dataclass(frozen=True)
class WorkshopCandidate:
    """A returned audit a workshop may take: its current return and grade of record."""

    return_id: int
    allocation_id: int
    reference: str
    cycle: str
    audit_type: str
    grade_of_record: str  # grade key: the moderated grade where the audit was moderated
    fields: dict[str, str]


@dataclass(frozen=True)
class Participant:
    position: int
    label: str  # "Participant 1"
    name: str = ""  # as given to `workshop make --participants`, if names were


@dataclass(frozen=True)
class WorkshopCase:
    id: int
    position: int
    label: str  # "Case A"
    return_id: int
    allocation_id: int
    reference: str
    audit_type: str
    grade_of_record: str  # as it stands now (a later moderation changes it)


@dataclass(frozen=True)
class Workshop:
    id: int
    name: str
    held_on: date
    from_cycle: str | None
    seed: int
    created_at: str
    participants: tuple[Participant, ...]
    cases: tuple[WorkshopCase, ...]

    def participant(self, label: str) -> Participant | None:
        return next((p for p in self.participants if p.label == label), None)


@dataclass(frozen=True)
class WorkshopGrade:
    participant: str  # label
    case_id: int
    grade: str  # grade key
    note: str


@dataclass(frozen=True)
class WorkshopSummary:
    name: str
    held_on: date
    from_cycle: str | None
    cases: int
    participants: int
    returned: int  # participants whose grades are in


@dataclass(frozen=True)
class Workshops:
    db: Store

    def candidates(self, cycle: str | None) -> list[WorkshopCandidate]:
        """Every current audit return of ``cycle`` (or of every cycle not cancelled), with
        its grade of record, in reference order."""
        cycle = None if cycle is None else self.db.draws.require_cycle(cycle).name
        rows = self.db.conn.execute(
            "SELECT r.id, a.id, a.reference, a.cycle, a.audit_type, g.grade_of_record,"
            " r.fields_json FROM returns r"
            " JOIN current_allocations a ON a.id = r.allocation_id"
            " JOIN audit_grades g ON g.return_id = r.id"
            " JOIN cycles c ON c.id = a.cycle_id"
            " WHERE r.kind = 'audit' AND r.replaced_at IS NULL AND c.cancelled_at IS NULL"
            " AND g.grade_of_record IS NOT NULL AND (? IS NULL OR a.cycle = ?)"
            " ORDER BY a.reference", (cycle, cycle),
        ).fetchall()
        return [WorkshopCandidate(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]))
                for r in rows]

    def find(self, name: str) -> Workshop | None:
        """The workshop a name means: names compare by their folder name, ignoring case
        ('q2 2026-27' and 'Q2-2026-27' are the workshop 'Q2 2026-27'), as cycles do."""
        key = cycle_key(name)
        rows = self.db.conn.execute(
            "SELECT w.id, w.name, w.held_on, c.name, w.seed, w.created_at FROM workshops w"
            " LEFT JOIN cycles c ON c.id = w.from_cycle_id ORDER BY w.id").fetchall()
        row = next((r for r in rows if cycle_key(r[1]) == key), None)
        if row is None or not key:
            return None
        participants = tuple(Participant(*p) for p in self.db.conn.execute(
            "SELECT position, label, name FROM workshop_participants WHERE workshop_id = ?"
            " ORDER BY position", (row[0],)))
        cases = tuple(WorkshopCase(*c) for c in self.db.conn.execute(
            "SELECT k.id, k.position, k.label, k.return_id, k.allocation_id, a.reference,"
            " a.audit_type, coalesce((SELECT g.grade_of_record FROM audit_grades g"
            "   WHERE g.allocation_id = k.allocation_id), r.grade)"
            " FROM workshop_cases k JOIN allocations a ON a.id = k.allocation_id"
            " JOIN returns r ON r.id = k.return_id"
            " WHERE k.workshop_id = ? ORDER BY k.position", (row[0],)))
        return Workshop(int(row[0]), row[1], date.fromisoformat(row[2]), row[3], int(row[4]),
                        row[5], participants, cases)

    def require(self, name: str) -> Workshop:
        found = self.find(name)
        if found is None:
            known = ", ".join(repr(s.name) for s in self.summaries()) or "none yet"
            raise WorkshopError(f"no workshop {name!r} (workshops: {known}); give one of those"
                                " names, or make one with `qaudit workshop make NAME`.")
        return found

    def check_can_make(self, name: str) -> None:
        """A workshop's name is used once, and so is its folder name: its grading workbooks
        carry the name, and its files live in a folder named after it ('Q2 2026-27',
        'Q2/2026-27' and 'q2.2026.27' are all the folder 'Q2-2026-27'). Checked early by the
        job and again inside the transaction that stores the workshop."""
        found = self.find(name)
        if found is None:
            return
        same = found.name.strip().casefold() == " ".join(name.split()).casefold()
        raise WorkshopError(
            f"a workshop named {found.name!r} was already made on {found.created_at[:10]}"
            + ("" if same else f", and {name.strip()!r} would share its folder name"
               f" {cycle_key(name)!r}")
            + "; give the new workshop another name (its grading workbooks and its folder"
            " carry the name, so it cannot be reused).")

    def save(self, name: str, held_on: date, from_cycle: str | None, seed: int,
             participants: Sequence[Participant],
             cases: Sequence[tuple[str, WorkshopCandidate]]) -> int:
        """Store a new workshop with its participants and its cases (label, candidate), in
        the caller's transaction (or one of its own); returns its id."""
        db = self.db
        with db.transaction() as conn:
            self.check_can_make(name)
            cycle_id = None if from_cycle is None else db.draws.require_cycle(from_cycle).id
            cur = conn.execute(
                "INSERT INTO workshops (name, held_on, from_cycle_id, seed, created_at, actor)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name.strip(), held_on.isoformat(), cycle_id, seed, now(), db.actor))
            workshop_id = int(cur.lastrowid or 0)
            conn.executemany(
                "INSERT INTO workshop_participants (workshop_id, position, label, name)"
                " VALUES (?, ?, ?, ?)",
                [(workshop_id, p.position, p.label, p.name) for p in participants])
            conn.executemany(
                "INSERT INTO workshop_cases (workshop_id, position, label, return_id,"
                " allocation_id) VALUES (?, ?, ?, ?, ?)",
                [(workshop_id, n, label, c.return_id, c.allocation_id)
                 for n, (label, c) in enumerate(cases, start=1)])
            db.log(cycle_id, "workshop_made", {
                "workshop": name.strip(), "held_on": held_on.isoformat(), "seed": seed,
                "cases": [c.reference for _, c in cases], "participants": len(participants)})
        return workshop_id

    def grades(self, workshop_id: int) -> list[WorkshopGrade]:
        """Every participant's current grades of the workshop's cases."""
        return [WorkshopGrade(*r) for r in self.db.conn.execute(
            "SELECT participant, case_id, grade, note FROM workshop_grades"
            " WHERE workshop_id = ? AND replaced_at IS NULL ORDER BY participant, case_id",
            (workshop_id,))]

    def content_of(self, workshop_id: int, participant: str) -> str | None:
        """The content hash of the workbook the participant's current grades came from."""
        row = self.db.conn.execute(
            "SELECT content_hash FROM workshop_grades WHERE workshop_id = ? AND participant = ?"
            " AND replaced_at IS NULL LIMIT 1", (workshop_id, participant)).fetchone()
        return None if row is None else str(row[0])

    def superseded(self, workshop_id: int, participant: str, content_hash: str) -> str | None:
        """When grades of this content from the participant were replaced (the first time),
        or None if none were: an older copy of their workbook is known by its content."""
        row = self.db.conn.execute(
            "SELECT min(replaced_at) FROM workshop_grades WHERE workshop_id = ? AND"
            " participant = ? AND content_hash = ? AND replaced_at IS NOT NULL",
            (workshop_id, participant, content_hash)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def replace_grades(self, workshop_id: int, participant: str,
                       grades: Sequence[tuple[int, str, str]], file_name: str,
                       file_sha256: str, content_hash: str) -> bool:
        """A participant's grades ``(case id, grade key, note)`` from one workbook, in place
        of any they returned before (kept, marked replaced). True if some were replaced."""
        stamp = now()
        with self.db.transaction() as conn:
            replaced = int(conn.execute(
                "UPDATE workshop_grades SET replaced_at = ? WHERE workshop_id = ?"
                " AND participant = ? AND replaced_at IS NULL",
                (stamp, workshop_id, participant)).rowcount)
            conn.executemany(
                "INSERT INTO workshop_grades (workshop_id, participant, case_id, grade, note,"
                " file_name, file_sha256, content_hash, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(workshop_id, participant, case_id, grade, note, file_name, file_sha256,
                  content_hash, stamp) for case_id, grade, note in grades])
            self.db.log(None, "workshop_grades", {
                "workshop_id": workshop_id, "participant": participant, "file": file_name,
                "grades": len(grades), "replaced": replaced})
        return replaced > 0

    def summaries(self) -> list[WorkshopSummary]:
        """Every workshop, earliest held first."""
        rows = self.db.conn.execute(
            "SELECT w.name, w.held_on, c.name,"
            " (SELECT count(*) FROM workshop_cases k WHERE k.workshop_id = w.id),"
            " (SELECT count(*) FROM workshop_participants p WHERE p.workshop_id = w.id),"
            " (SELECT count(DISTINCT participant) FROM workshop_grades g"
            "   WHERE g.workshop_id = w.id AND g.replaced_at IS NULL)"
            " FROM workshops w LEFT JOIN cycles c ON c.id = w.from_cycle_id"
            " ORDER BY w.held_on, w.id").fetchall()
        return [WorkshopSummary(r[0], date.fromisoformat(r[1]), r[2], r[3], r[4], r[5])
                for r in rows]

    def held_on_dates(self) -> list[tuple[str, date]]:
        """(name, held on) of every workshop, for the plan's "at least quarterly" rule."""
        return [(s.name, s.held_on) for s in self.summaries()]
