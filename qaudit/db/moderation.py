"""Moderation samples, their items and the outcomes the Practice Leads recorded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qaudit.db.schema import now
from qaudit.errors import CycleError

if TYPE_CHECKING:
    from qaudit.db.store import Store


@dataclass(frozen=True)
class ReturnedAudit:
    """A cycle's current audit return, as moderation needs it."""

    return_id: int
    reference: str
    audit_type: str
    quadrant: str
    grade: str  # grade key
    auditor: str
    fields: dict[str, str]


@dataclass(frozen=True)
class SampleItem:
    item_id: int
    position: int
    audit: ReturnedAudit
    round: int = 1


@dataclass(frozen=True)
class Sample:
    """A cycle's current moderation sample: every round of picks, in order."""

    id: int
    seed: int
    blind: bool
    rate: float
    items: list[SampleItem]

    @property
    def rounds(self) -> int:
        return max((i.round for i in self.items), default=1)

    def round_items(self, number: int) -> list[SampleItem]:
        return [i for i in self.items if i.round == number]


@dataclass(frozen=True)
class Outcome:
    moderated_grade: str  # grade key
    constructive: str
    names_strengths: str
    names_learning: str
    theme: str
    comments: str
    learning: str


@dataclass(frozen=True)
class ModeratedPair:
    """One current moderation outcome beside the auditor's grade."""

    cycle: str
    reference: str
    audit_type: str
    quadrant: str
    auditor_grade: str
    moderated_grade: str
    auditor: str | None
    constructive: str
    names_strengths: str
    names_learning: str
    theme: str
    comments: str
    learning: str


@dataclass(frozen=True)
class ModerationRecords:
    db: Store

    def returned_audits(self, cycle: str) -> list[ReturnedAudit]:
        cycle = self.db.draws.stored_name(cycle)
        rows = self.db.conn.execute(
            "SELECT r.id, a.reference, a.audit_type, a.quadrant, r.grade,"
            " json_extract(r.fields_json, '$.auditor_name'), r.fields_json"
            " FROM returns r JOIN current_allocations a ON a.id = r.allocation_id"
            " WHERE a.cycle = ? AND r.replaced_at IS NULL AND r.kind = 'audit'"
            " ORDER BY a.reference",
            (cycle,),
        ).fetchall()
        return [ReturnedAudit(r[0], r[1], r[2], r[3], r[4], r[5] or "", json.loads(r[6]))
                for r in rows]

    def answers_of(self, return_id: int) -> list[tuple[str, str, str]]:
        return [(q, a, c) for q, a, c in self.db.conn.execute(
            "SELECT question_id, answer, comment FROM answers WHERE return_id = ?"
            " ORDER BY rowid", (return_id,))]

    def current_sample(self, cycle: str) -> Sample | None:
        cycle_id = self.db.draws.require_cycle(cycle).id
        row = self.db.conn.execute(
            "SELECT s.id, s.seed, s.blind, coalesce(("
            "  SELECT r.rate FROM moderation_rounds r WHERE r.sample_id = s.id"
            "  ORDER BY r.round DESC LIMIT 1), s.rate)"
            " FROM moderation_samples s WHERE s.cycle_id = ? AND s.replaced_at IS NULL",
            (cycle_id,),
        ).fetchone()
        if row is None:
            return None
        audits = {a.return_id: a for a in self.returned_audits(cycle)}
        items = [
            SampleItem(item_id, position, audits[return_id], number)
            for item_id, position, return_id, number in self.db.conn.execute(
                "SELECT id, position, return_id, round FROM moderation_items"
                " WHERE sample_id = ? ORDER BY position", (row[0],))
            if return_id in audits
        ]
        return Sample(int(row[0]), int(row[1]), bool(row[2]), float(row[3]), items)

    def has_outcomes(self, sample_id: int) -> bool:
        return self.db.conn.execute(
            "SELECT 1 FROM moderation_outcomes o JOIN moderation_items i ON i.id = o.item_id"
            " WHERE i.sample_id = ? LIMIT 1", (sample_id,),
        ).fetchone() is not None

    def check_can_redraw(self, cycle: str) -> Sample | None:
        """A moderation sample is drawn again only before any outcome is recorded (then it
        can only be topped up). Returns the sample a redraw would replace. Checked early by
        the job and again inside the transaction that stores the new sample."""
        current = self.current_sample(cycle)
        if current is not None and self.has_outcomes(current.id):
            raise CycleError(f"moderation outcomes of {cycle!r} are already recorded, so its"
                             " sample can no longer be redrawn; `qaudit moderate select`"
                             " without --redraw tops it up.")
        return current

    def save_sample(self, cycle: str, seed: int, rate: float, blind: bool,
                    return_ids: Sequence[int], redraw: bool, returned: int) -> int:
        """Store a sample's first round (replacing the current sample with ``redraw``);
        returns its id."""
        db = self.db
        cycle_id = db.draws.require_cycle(cycle).id
        with db.transaction() as conn:
            replaced = self.check_can_redraw(cycle)
            if replaced is not None and not redraw:
                raise CycleError(f"the moderation sample of {cycle!r} is already drawn; run"
                                 " `qaudit moderate select` again to top it up.")
            if replaced is not None:
                conn.execute("UPDATE moderation_samples SET replaced_at = ? WHERE id = ?",
                             (now(), replaced.id))
                db.log(cycle_id, "moderation_redraw", {"replaced": replaced.id})
            cur = conn.execute(
                "INSERT INTO moderation_samples (cycle_id, seed, rate, blind, created_at)"
                " VALUES (?, ?, ?, ?, ?)", (cycle_id, seed, rate, int(blind), now()),
            )
            sample_id = int(cur.lastrowid or 0)
            self._add_items(sample_id, 1, seed, rate, returned, return_ids, first_position=1)
            db.log(cycle_id, "moderation_sample",
                   {"sample_id": sample_id, "seed": seed, "items": len(return_ids)})
        return sample_id

    def add_round(self, cycle: str, sample: Sample, seed: int, rate: float, returned: int,
                  return_ids: Sequence[int]) -> int:
        """Top a sample up: the new picks as the next round, after every earlier one."""
        db = self.db
        cycle_id = db.draws.require_cycle(cycle).id
        number = sample.rounds + 1
        with db.transaction():
            current = self.current_sample(cycle)
            if current is None or current.id != sample.id or current.rounds + 1 != number:
                raise CycleError(f"the moderation sample of {cycle!r} changed while it was being"
                                 " topped up; run `qaudit moderate select` again.")
            last = max((i.position for i in sample.items), default=0)
            self._add_items(sample.id, number, seed, rate, returned, return_ids,
                            first_position=last + 1)
            db.log(cycle_id, "moderation_top_up",
                   {"sample_id": sample.id, "round": number, "seed": seed,
                    "items": len(return_ids), "returned": returned})
        return number

    def _add_items(self, sample_id: int, number: int, seed: int, rate: float, returned: int,
                   return_ids: Sequence[int], first_position: int) -> None:
        conn = self.db.conn
        conn.execute(
            "INSERT INTO moderation_rounds (sample_id, round, seed, rate, returned, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)", (sample_id, number, seed, rate, returned, now()),
        )
        conn.executemany(
            "INSERT INTO moderation_items (sample_id, position, return_id, round)"
            " VALUES (?, ?, ?, ?)",
            [(sample_id, n, rid, number)
             for n, rid in enumerate(return_ids, start=first_position)],
        )

    def current_outcomes(self, sample_id: int) -> dict[int, tuple[Outcome, str]]:
        """item id -> (outcome, content hash of the workbook it came from)."""
        rows = self.db.conn.execute(
            "SELECT o.item_id, o.moderated_grade, o.constructive, o.names_strengths,"
            " o.names_learning, o.theme, o.comments, o.learning, o.content_hash"
            " FROM moderation_outcomes o JOIN moderation_items i ON i.id = o.item_id"
            " WHERE i.sample_id = ? AND o.replaced_at IS NULL", (sample_id,),
        )
        return {r[0]: (Outcome(*r[1:8]), r[8]) for r in rows}

    def save_outcomes(self, outcomes: Sequence[tuple[int, Outcome]], file_name: str,
                      content_hash: str) -> None:
        """Store one workbook's outcomes (the items of one sample), replacing any earlier
        ones. Its history entry names the sample's cycle, so that a purge of the cycle
        finds it and blanks the workbook's file name with the rest of its history."""
        db = self.db
        stamp = now()
        with db.transaction() as conn:
            for item_id, o in outcomes:
                conn.execute("UPDATE moderation_outcomes SET replaced_at = ? WHERE item_id = ?"
                             " AND replaced_at IS NULL", (stamp, item_id))
                conn.execute(
                    "INSERT INTO moderation_outcomes (item_id, moderated_grade, constructive,"
                    " names_strengths, names_learning, theme, comments, learning, file_name,"
                    " content_hash, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (item_id, o.moderated_grade, o.constructive, o.names_strengths,
                     o.names_learning, o.theme, o.comments, o.learning, file_name,
                     content_hash, stamp),
                )
                (allocation_id,) = conn.execute(
                    "SELECT r.allocation_id FROM moderation_items i JOIN returns r"
                    " ON r.id = i.return_id WHERE i.id = ?", (item_id,),
                ).fetchone()
                # The moderated grade is now the grade of record: it decides RI monitoring.
                db.returns.sync_ri(allocation_id, o.moderated_grade, stamp,
                                   "regraded at moderation")
            db.log(self._cycle_of(outcomes[0][0]) if outcomes else None,
                   "moderation_outcomes", {"file": file_name, "items": len(outcomes)})

    def _cycle_of(self, item_id: int) -> int:
        """The cycle whose moderation sample holds the item."""
        (cycle_id,) = self.db.conn.execute(
            "SELECT s.cycle_id FROM moderation_items i JOIN moderation_samples s"
            " ON s.id = i.sample_id WHERE i.id = ?", (item_id,)).fetchone()
        return int(cycle_id)

    def moderated_grade(self, return_id: int) -> str | None:
        """The moderators' grade of an audit return, if it was moderated."""
        row = self.db.conn.execute(
            "SELECT o.moderated_grade FROM moderation_items i JOIN moderation_outcomes o"
            " ON o.item_id = i.id AND o.replaced_at IS NULL WHERE i.return_id = ?",
            (return_id,),
        ).fetchone()
        return str(row[0]) if row else None

    def follow_replacement(self, old_return: int, new_return: int) -> None:
        """Moderation of an audit stays with it when its return is replaced."""
        self.db.conn.execute("UPDATE moderation_items SET return_id = ? WHERE return_id = ?",
                             (new_return, old_return))

    def grades_of_record(self, cycle: str) -> dict[str, tuple[str, str | None, str]]:
        """reference -> (auditor's grade, moderated grade or None, grade of record)."""
        cycle = self.db.draws.stored_name(cycle)
        rows = self.db.conn.execute(
            "SELECT a.reference, g.auditor_grade, g.moderated_grade, g.grade_of_record"
            " FROM audit_grades g JOIN current_allocations a ON a.id = g.allocation_id"
            " WHERE a.cycle = ?", (cycle,),
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def moderated_pairs(self, cycle: str | None) -> list[ModeratedPair]:
        """Every current outcome with the auditor's grade, across cycles or for one."""
        cycle = None if cycle is None else self.db.draws.stored_name(cycle)
        rows = self.db.conn.execute(
            "SELECT c.name, a.reference, a.audit_type, a.quadrant, r.grade, o.moderated_grade,"
            " json_extract(r.fields_json, '$.auditor_name'), o.constructive, o.names_strengths,"
            " o.names_learning, o.theme, o.comments, o.learning"
            " FROM moderation_outcomes o JOIN moderation_items i ON i.id = o.item_id"
            " JOIN moderation_samples s ON s.id = i.sample_id"
            " JOIN returns r ON r.id = i.return_id JOIN allocations a ON a.id = r.allocation_id"
            " JOIN cycles c ON c.id = s.cycle_id"
            " WHERE o.replaced_at IS NULL AND s.replaced_at IS NULL AND r.replaced_at IS NULL"
            " AND (? IS NULL OR c.name = ?) ORDER BY c.date_to, a.reference",
            (cycle, cycle),
        ).fetchall()
        return [ModeratedPair(*r) for r in rows]
