"""The year's plan (qaudit plan): its cycles, each with its window and due date, and the
read-only queries of a year's progress (qaudit status --year).

A year has one current plan; ``--replace`` keeps the old one as history. The rules that
must hold inside the transaction that stores a plan are ``Plans.check_can_plan``: one plan
per year unless replaced, a drawn cycle's planned window never changed by a new plan, and
no planned window overlapping another year's plan or a drawn cycle outside the plan. An
undrawn planned window is also kept clear by ``allocate`` (``Plans.check_window``); the
windows of drawn cycles are ``Draws.check_window``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from qaudit.db.schema import now
from qaudit.errors import CycleError
from qaudit.values import cycle_key

if TYPE_CHECKING:
    from qaudit.db.store import Store


@dataclass(frozen=True)
class PlannedCycle:
    """One cycle of a year's plan."""

    year: str  # '2026-27'
    position: int  # 1..cycles
    name: str  # '2026-27 C1'
    date_from: date
    date_to: date
    due_date: date
    weeks: int  # the plan's window length

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    def window(self) -> str:
        return f"{self.date_from:%d/%m/%Y} to {self.date_to:%d/%m/%Y}"

    def to_json(self) -> dict[str, Any]:
        return {"year": self.year, "position": self.position, "cycle": self.name,
                "from": self.date_from.isoformat(), "to": self.date_to.isoformat(),
                "due": self.due_date.isoformat(), "weeks": self.weeks}


@dataclass(frozen=True)
class YearAllocation:
    """One allocation of a current draw, as the year's progress counts it."""

    cycle: str
    quadrant: str
    audit_type: str
    returned: bool  # its audit form is back
    moderated: bool  # its moderated grade is recorded


def overlaps(a_from: date, a_to: date, b_from: date, b_to: date) -> bool:
    """Whether two windows (first and last days, both included) share a day."""
    return a_from <= b_to and b_from <= a_to


_COLUMNS = "year, position, name, date_from, date_to, due_date, weeks"


def _planned(row: Sequence[Any]) -> PlannedCycle:
    return PlannedCycle(row[0], int(row[1]), row[2], date.fromisoformat(row[3]),
                        date.fromisoformat(row[4]), date.fromisoformat(row[5]), int(row[6]))


@dataclass(frozen=True)
class Plans:
    db: Store

    def all(self) -> list[PlannedCycle]:
        """Every current plan's cycles, earliest first."""
        rows = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM planned_cycles WHERE replaced_at IS NULL"
            " ORDER BY date_from, year, position")
        return [_planned(r) for r in rows]

    def year(self, year: str) -> list[PlannedCycle]:
        return [p for p in self.all() if p.year == year]

    def years(self) -> list[str]:
        return sorted({p.year for p in self.all()})

    def planned(self, name: str) -> PlannedCycle | None:
        """The planned cycle a name means (case and punctuation aside, as cycles compare)."""
        key = cycle_key(name)
        return next((p for p in self.all() if cycle_key(p.name) == key), None)

    def _drawn(self, name: str) -> bool:
        found = self.db.draws.cycle(name)
        return (found is not None and not found.cancelled
                and self.db.draws.current_draw_id(found.name) is not None)

    def check_can_plan(self, year: str, cycles: Sequence[PlannedCycle], replace: bool) -> None:
        """Refuse a plan that would contradict the record. Checked by the job before it
        says anything, and again inside the transaction that stores the plan."""
        old = self.year(year)
        if old and not replace:
            raise CycleError(
                f"{year} is already planned ({len(old)} cycles, {old[0].date_from:%d/%m/%Y} to"
                f" {old[-1].date_to:%d/%m/%Y}); `qaudit plan show {year}` lists them. Add"
                " --replace to plan it again (refused once a cycle whose window would change"
                " is drawn).")
        new = {cycle_key(c.name): c for c in cycles}
        for was in old:
            if not self._drawn(was.name):
                continue
            now_planned = new.get(cycle_key(was.name))
            if now_planned is None or (now_planned.date_from, now_planned.date_to,
                                       now_planned.due_date) != (was.date_from, was.date_to,
                                                                 was.due_date):
                change = ("drops it" if now_planned is None else
                          f"moves it to {now_planned.window()}, due"
                          f" {now_planned.due_date:%d/%m/%Y}")
                raise CycleError(
                    f"cycle {was.name!r} is already drawn (planned {was.window()}, due"
                    f" {was.due_date:%d/%m/%Y}) and the new plan {change}; a drawn cycle's"
                    " plan cannot change. Give a --start that keeps it, or plan the rest of"
                    " the year with other cycle names.")
        for c in cycles:
            if not old and self._drawn(c.name):
                drawn = self.db.draws.require_cycle(c.name)
                if (drawn.date_from, drawn.date_to) != (c.date_from, c.date_to):
                    raise CycleError(
                        f"cycle {drawn.name!r} is already drawn with the window"
                        f" {drawn.date_from:%d/%m/%Y} to {drawn.date_to:%d/%m/%Y}, but the plan"
                        f" gives it {c.window()}; give a --start whose windows keep it.")
            for other in self.all():
                if other.year != year and (cycle_key(other.name) == cycle_key(c.name) or
                                           overlaps(c.date_from, c.date_to, other.date_from,
                                                    other.date_to)):
                    raise CycleError(
                        f"the planned cycle {c.name!r} ({c.window()}) overlaps {other.year}'s"
                        f" cycle {other.name!r} ({other.window()}); work completed in both"
                        " could be audited twice. Give a --start after it (or plan"
                        f" {other.year} again with --replace).")
            for drawn in self.db.draws.cycles():
                if (cycle_key(drawn.name) in new or drawn.cancelled or not drawn.regular
                        or self.db.draws.current_draw_id(drawn.name) is None):
                    continue
                if overlaps(c.date_from, c.date_to, drawn.date_from, drawn.date_to):
                    raise CycleError(
                        f"the planned cycle {c.name!r} ({c.window()}) overlaps the drawn cycle"
                        f" {drawn.name!r} ({drawn.date_from:%d/%m/%Y} to"
                        f" {drawn.date_to:%d/%m/%Y}); work completed in both could be audited"
                        " twice. Give a --start after it.")

    def save(self, year: str, cycles: Sequence[PlannedCycle], replace: bool) -> None:
        """Store a year's plan in one transaction; with ``replace``, the old one becomes
        history."""
        with self.db.transaction() as conn:
            self.check_can_plan(year, cycles, replace)
            stamp = now()
            replaced = conn.execute(
                "UPDATE planned_cycles SET replaced_at = ? WHERE year = ? AND replaced_at IS NULL",
                (stamp, year)).rowcount
            conn.executemany(
                f"INSERT INTO planned_cycles ({_COLUMNS}, created_at, actor)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(c.year, c.position, c.name, c.date_from.isoformat(), c.date_to.isoformat(),
                  c.due_date.isoformat(), c.weeks, stamp, self.db.actor) for c in cycles])
            self.db.log(None, "plan", {"year": year, "cycles": len(cycles),
                                       "replaced": replaced,
                                       "first": cycles[0].date_from.isoformat(),
                                       "last": cycles[-1].date_to.isoformat()})

    def check_window(self, name: str, date_from: date, date_to: date) -> None:
        """A cycle's window does not overlap another planned cycle's that is not drawn yet
        (a drawn one is ``Draws.check_window``'s): drawing into it would leave that cycle
        nothing of its own."""
        key = cycle_key(name)
        for other in self.all():
            if cycle_key(other.name) == key or self._drawn(other.name):
                continue
            if overlaps(date_from, date_to, other.date_from, other.date_to):
                raise CycleError(
                    f"the window {date_from:%d/%m/%Y} to {date_to:%d/%m/%Y} overlaps the"
                    f" planned cycle {other.name!r} ({other.window()}); work completed in both"
                    " could be audited twice. Keep to the planned window, or add"
                    " --allow-overlap if this is deliberate.")

    def reported(self, name: str) -> bool:
        """Whether the cycle's outcome reports went out (`qaudit send reports`)."""
        found = self.db.draws.cycle(name)
        if found is None:
            return False
        row = self.db.conn.execute(
            "SELECT 1 FROM messages WHERE cycle_id = ? AND kind = 'reports' LIMIT 1",
            (found.id,)).fetchone()
        return row is not None

    def allocations(self, cycles: Sequence[str]) -> list[YearAllocation]:
        """Every allocation of the current draws of these cycles (names as stored)."""
        if not cycles:
            return []
        marks = ", ".join("?" * len(cycles))
        rows = self.db.conn.execute(
            "SELECT a.cycle, a.quadrant, a.audit_type,"
            " EXISTS (SELECT 1 FROM returns r WHERE r.allocation_id = a.id AND r.kind = 'audit'"
            "   AND r.replaced_at IS NULL),"
            " EXISTS (SELECT 1 FROM audit_grades g WHERE g.allocation_id = a.id"
            "   AND g.moderated_grade IS NOT NULL)"
            f" FROM current_allocations a WHERE a.cycle IN ({marks}) ORDER BY a.id",
            tuple(cycles)).fetchall()
        return [YearAllocation(r[0], r[1], r[2], bool(r[3]), bool(r[4])) for r in rows]
