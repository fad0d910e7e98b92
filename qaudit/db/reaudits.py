"""The re-audits: which Requires improvement audits are due one, and the linked pairs of
audit and re-audit.

A re-audit is an allocation of a cycle of kind ``reaudit`` whose ``follows_up_id`` is
the allocation id of the audit it follows up (``follows_up`` keeps its reference, as the
forms print it; a reference alone is not enough, since a cancelled cycle drawn again
reuses its references). The rules of who is due are pure (``qaudit.reaudits``); the
rules that must hold inside the draw's transaction, that each audit followed up is still
on record and is followed up once, are ``Reaudits.link``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
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

    def followed_up(self, except_cycle: str | None = None) -> dict[int, str]:
        """Audit allocation id -> the re-audit (of a current draw) that follows it up; with
        ``except_cycle``, not counting that cycle's own (to re-check its draw)."""
        name = None if except_cycle is None else self.db.draws.stored_name(except_cycle)
        rows = self.db.conn.execute(
            "SELECT follows_up_id, reference FROM current_allocations"
            " WHERE follows_up_id IS NOT NULL AND (? IS NULL OR cycle != ?) ORDER BY id",
            (name, name))
        return {int(f): str(r) for f, r in rows}

    def audits_on_record(self, except_cycle: str | None = None) -> list[AuditOnRecord]:
        """Every returned audit of a current regular draw with its grade of record, the RI
        follow-up steps recorded on it, and the re-audit already drawn for it, if any."""
        conn = self.db.conn
        steps: dict[int, list[tuple[str, date]]] = {}
        for ri_id, step, done_on in conn.execute(
                "SELECT ri_id, step, done_on FROM ri_steps ORDER BY id"):
            steps.setdefault(int(ri_id), []).append((str(step), date.fromisoformat(done_on)))
        followed = self.followed_up(except_cycle)
        rows = conn.execute(
            "SELECT a.reference, a.cycle, a.worker_id, a.team, a.audit_type, a.quadrant,"
            " a.completed_date, g.grade_of_record, i.id, a.id"
            " FROM current_allocations a JOIN audit_grades g ON g.allocation_id = a.id"
            " JOIN cycles c ON c.id = a.cycle_id"
            " LEFT JOIN ri_items i ON i.allocation_id = a.id"
            " WHERE a.cycle_kind = 'regular' AND c.cancelled_at IS NULL"
            " AND g.grade_of_record IS NOT NULL ORDER BY a.id")
        return [AuditOnRecord(
            reference=r[0], cycle=r[1], worker_id=r[2], team=r[3], audit_type=r[4],
            quadrant=r[5], completed_date=date.fromisoformat(r[6]), grade=r[7],
            steps_done=frozenset(s for s, _ in steps.get(r[8], ())),
            followed_up_by=followed.get(int(r[9]), ""), allocation_id=int(r[9]),
            steps_on=tuple(steps.get(r[8], ())),
        ) for r in rows]

    def check_not_followed_up(self, audits: Mapping[str, int], cycle: str) -> None:
        """An audit is followed up once: refuse a round that would follow one up twice, or
        one that another round's re-audit already follows up (``audits``: reference ->
        allocation id). Called early by the job and again inside the draw's transaction
        (``link``)."""
        twice = sorted(r for r, n in Counter(audits.values()).items() if n > 1)
        if twice:
            named = sorted(ref for ref, i in audits.items() if i in twice)
            raise CycleError(f"{', '.join(named)} would be followed up twice in this round;"
                             " an audit is followed up once.")
        done = self.followed_up(except_cycle=cycle)
        already = [f"{r} (by {done[i]})" for r, i in sorted(audits.items()) if i in done]
        if already:
            raise CycleError(
                f"already followed up: {', '.join(already)}; an audit is followed up once,"
                " so nothing was stored. Run `qaudit reaudit select` again to draw for the"
                " audits still due.")

    def link(self, cycle: str, audits: Mapping[str, int]) -> None:
        """Inside the draw's transaction: link each re-audit of the round's current draw to
        the allocation of the audit it follows up (``audits``: the reference its
        ``follows_up`` gives -> that audit's allocation id, as the round was planned). Refused,
        so nothing is stored, if an audit is no longer on record as planned (its cycle
        cancelled or drawn again meanwhile) or is followed up already."""
        conn = self.db.conn
        draw = self.db.draws.current_draw_id(cycle)
        linked = dict(conn.execute(
            "SELECT reference, follows_up FROM allocations WHERE draw_id = ?"
            " AND follows_up != ''", (draw,)).fetchall())
        wanted = {ref: audits[ref] for ref in sorted(set(linked.values()))
                  if ref in audits}
        missing = sorted(set(linked.values()) - set(wanted))
        current = {int(i): str(ref) for i, ref in conn.execute(
            "SELECT a.id, a.reference FROM current_allocations a JOIN cycles c"
            " ON c.id = a.cycle_id WHERE a.cycle_kind = 'regular' AND c.cancelled_at IS NULL"
            f" AND a.id IN ({', '.join('?' * len(wanted))})", tuple(wanted.values()))}
        gone = missing + sorted(ref for ref, i in wanted.items() if current.get(i) != ref)
        if gone:
            raise CycleError(
                f"no longer on record as when the round was planned: {', '.join(gone)} (a"
                " cycle cancelled or drawn again meanwhile), so nothing was stored. Run"
                " `qaudit reaudit select` again.")
        self.check_not_followed_up(wanted, cycle)
        conn.executemany(
            "UPDATE allocations SET follows_up_id = ? WHERE draw_id = ? AND follows_up = ?",
            [(i, draw, ref) for ref, i in wanted.items()])

    def pairs(self) -> list[ReauditPair]:
        """Every audit and the re-audit of a current draw that follows it up, with both
        grades of record and, once the re-audit is returned, the questions answered No
        then Yes and Yes then No."""
        conn = self.db.conn
        rows = conn.execute(
            "SELECT f.reference, f.cycle, fg.grade_of_record, r.reference, r.cycle,"
            " rg.grade_of_record, fg.return_id, rg.return_id"
            " FROM current_allocations r JOIN current_allocations f ON f.id = r.follows_up_id"
            " LEFT JOIN audit_grades fg ON fg.allocation_id = f.id"
            " LEFT JOIN audit_grades rg ON rg.allocation_id = r.id"
            " ORDER BY f.reference, r.id").fetchall()
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
