"""The re-audits: which Requires improvement audits are due one, and the linked pairs of
audit and re-audit.

A re-audit is an allocation of a cycle of kind ``reaudit`` whose ``follows_up`` names the
audit it follows up. The rules of who is due are pure (``qaudit.reaudits``); the one
rule that must hold inside the draw's transaction, that an audit is followed up once,
is ``Reaudits.check_not_followed_up``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from qaudit.errors import CycleError
from qaudit.reaudits import AuditOnRecord, ReauditPair, answer_changes

if TYPE_CHECKING:
    from qaudit.db.store import Store


@dataclass(frozen=True)
class Reaudits:
    db: Store

    def regular_cycles(self) -> list[str]:
        """The drawn regular cycles (not cancelled), oldest first: what "cycles drawn
        after an audit's" counts."""
        rows = self.db.conn.execute(
            "SELECT c.name FROM cycles c JOIN draws d ON d.cycle_id = c.id"
            " AND d.replaced_at IS NULL WHERE c.kind = 'regular' AND c.cancelled_at IS NULL"
            " ORDER BY c.date_to, c.id")
        return [str(r[0]) for r in rows]

    def followed_up(self, except_cycle: str | None = None) -> dict[str, str]:
        """Audit reference -> the re-audit (of a current draw) that follows it up; with
        ``except_cycle``, not counting that cycle's own (to re-check its draw)."""
        name = None if except_cycle is None else self.db.draws.stored_name(except_cycle)
        rows = self.db.conn.execute(
            "SELECT follows_up, reference FROM current_allocations WHERE follows_up != ''"
            " AND (? IS NULL OR cycle != ?) ORDER BY id", (name, name))
        return {str(f): str(r) for f, r in rows}

    def audits_on_record(self, except_cycle: str | None = None) -> list[AuditOnRecord]:
        """Every returned audit of a current regular draw with its grade of record, the RI
        follow-up steps recorded on it, and the re-audit already drawn for it, if any."""
        conn = self.db.conn
        steps: dict[int, set[str]] = {}
        for ri_id, step in conn.execute("SELECT ri_id, step FROM ri_steps"):
            steps.setdefault(int(ri_id), set()).add(str(step))
        followed = self.followed_up(except_cycle)
        rows = conn.execute(
            "SELECT a.reference, a.cycle, a.worker_id, a.team, a.audit_type, a.quadrant,"
            " a.completed_date, g.grade_of_record, i.id"
            " FROM current_allocations a JOIN audit_grades g ON g.allocation_id = a.id"
            " JOIN cycles c ON c.id = a.cycle_id"
            " LEFT JOIN ri_items i ON i.allocation_id = a.id"
            " WHERE a.cycle_kind = 'regular' AND c.cancelled_at IS NULL"
            " AND g.grade_of_record IS NOT NULL ORDER BY a.id")
        return [AuditOnRecord(
            reference=r[0], cycle=r[1], worker_id=r[2], team=r[3], audit_type=r[4],
            quadrant=r[5], completed_date=date.fromisoformat(r[6]), grade=r[7],
            steps_done=frozenset(steps.get(r[8], ())) if r[8] is not None else frozenset(),
            followed_up_by=followed.get(r[0], ""),
        ) for r in rows]

    def check_not_followed_up(self, references: Sequence[str], cycle: str) -> None:
        """An audit is followed up once: refuse a round that would follow one up twice, or
        one that another round's re-audit already follows up. Called early by the job and
        again inside the draw's transaction (``ReauditSelection.saved``)."""
        twice = sorted(r for r, n in Counter(references).items() if n > 1)
        if twice:
            raise CycleError(f"{', '.join(twice)} would be followed up twice in this round;"
                             " an audit is followed up once.")
        done = self.followed_up(except_cycle=cycle)
        already = [f"{r} (by {done[r]})" for r in sorted(set(references)) if r in done]
        if already:
            raise CycleError(
                f"already followed up: {', '.join(already)}; an audit is followed up once,"
                " so nothing was stored. Run `qaudit reaudit select` again to draw for the"
                " audits still due.")

    def pairs(self) -> list[ReauditPair]:
        """Every audit and the re-audit of a current draw that follows it up, with both
        grades of record and, once the re-audit is returned, the questions answered No
        then Yes and Yes then No."""
        conn = self.db.conn
        rows = conn.execute(
            "SELECT f.reference, f.cycle, fg.grade_of_record, r.reference, r.cycle,"
            " rg.grade_of_record, fg.return_id, rg.return_id"
            " FROM current_allocations r JOIN current_allocations f ON f.reference = r.follows_up"
            " LEFT JOIN audit_grades fg ON fg.allocation_id = f.id"
            " LEFT JOIN audit_grades rg ON rg.allocation_id = r.id"
            " WHERE r.follows_up != '' ORDER BY f.reference, r.id").fetchall()
        pairs = []
        for first_ref, first_cycle, first_grade, ref, cycle, grade, first_id, then_id in rows:
            up: tuple[str, ...] = ()
            down: tuple[str, ...] = ()
            if grade is not None and first_id is not None:
                up, down = answer_changes(self._answers(first_id), self._answers(then_id))
            pairs.append(ReauditPair(first_ref, first_cycle, first_grade or "", ref, cycle,
                                     grade, up, down))
        return pairs

    def _answers(self, return_id: int) -> dict[str, str]:
        return {str(q): str(a) for q, a in self.db.conn.execute(
            "SELECT question_id, answer FROM answers WHERE return_id = ?", (return_id,))}
