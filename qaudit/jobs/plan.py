"""The year's plan: eight cycles (by default) whose windows tile the year, where each
stands, the window ``allocate`` takes from it, and the year's progress against its target.

``tile`` is the pure rule of a plan's windows: consecutive, each ``weeks`` long, none
overlapping, the first starting on ``--start``; each cycle's returns are due
``return_days`` after its window ends. The rules that must hold inside the transaction
are ``Plans.check_can_plan`` (db/plan.py).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from qaudit.config import Settings
from qaudit.db import Cycle, Store
from qaudit.db.plan import PlannedCycle
from qaudit.errors import CycleError, QauditError
from qaudit.jobs.cycles import cycle_state
from qaudit.values import cycle_key

_YEAR = re.compile(r"^(\d{4})(?:\s*[-/]\s*(\d{2}|\d{4}))?$")
#: A plan spans at most this many days (a leap year).
MOST_DAYS = 366
#: Where a planned cycle stands, in order.
PLAN_STATES = ("planned", "drawn", "returns coming in", "returns in", "moderated", "reported",
               "cancelled")


def year_label(text: str) -> str:
    """The year a plan is for, as cycles are named: '2026', '2026-27', '2026/2027' ->
    '2026-27'."""
    found = _YEAR.match(text.strip())
    first = int(found.group(1)) if found else 0
    second = found.group(2) if found else None
    if (found is None or not 2000 <= first <= 2099
            or (second is not None and int(second[-2:]) != (first + 1) % 100)):
        raise QauditError(f"YEAR {text!r} is not a year; write it as the cycles name it,"
                          " e.g. 2026-27 (or 2026).")
    return f"{first}-{(first + 1) % 100:02d}"


def tile(year: str, start: date, cycles: int, weeks: int, return_days: int) -> list[PlannedCycle]:
    """The year's cycles: consecutive windows of ``weeks`` weeks from ``start``, none
    overlapping and no day between them; each due ``return_days`` after its window ends."""
    length = timedelta(weeks=weeks)
    planned = []
    for n in range(cycles):
        first = start + n * length
        last = first + length - timedelta(days=1)
        planned.append(PlannedCycle(year, n + 1, f"{year} C{n + 1}", first, last,
                                    last + timedelta(days=return_days), weeks))
    return planned


@dataclass(frozen=True)
class PlanRequest:
    year: str
    start: date
    today: date
    cycles: int | None = None  # default: [plan] cycles
    weeks: int | None = None  # default: [plan] weeks
    return_days: int | None = None  # default: [cycle] return_days
    replace: bool = False


@dataclass(frozen=True)
class YearPlan:
    year: str
    cycles: list[PlannedCycle]
    replaced: bool

    def to_json(self) -> dict[str, Any]:
        return {"year": self.year, "replaced": self.replaced,
                "cycles": [c.to_json() for c in self.cycles]}


def make_plan(settings: Settings, store: Store, request: PlanRequest) -> YearPlan:
    """Work out the year's cycles and store them (refused, with the reason, if the year is
    planned already without ``replace``, or the plan would move a drawn cycle)."""
    year = year_label(request.year)
    cycles = settings.plan.cycles if request.cycles is None else request.cycles
    weeks = settings.plan.weeks if request.weeks is None else request.weeks
    return_days = (settings.cycle.return_days if request.return_days is None
                   else request.return_days)
    if not 1 <= cycles <= 26:
        raise QauditError(f"--cycles {cycles} is not allowed: give 1 to 26 cycles a year.")
    if not 1 <= weeks <= 52:
        raise QauditError(f"--weeks {weeks} is not allowed: give a window of 1 to 52 weeks.")
    if not 1 <= return_days <= 365:
        raise QauditError(f"--return-days {return_days} is not allowed: give 1 to 365 days"
                          " after a window ends.")
    if cycles * weeks * 7 > MOST_DAYS:
        raise QauditError(
            f"{cycles} cycles of {weeks} weeks is {cycles * weeks} weeks, more than a year;"
            " give fewer --cycles or shorter --weeks.")
    first = int(year[:4])
    if request.start.year != first:
        raise QauditError(f"--start {request.start:%d/%m/%Y} is not in {first}: a plan for"
                          f" {year} starts in {first}. Check YEAR and --start.")
    planned = tile(year, request.start, cycles, weeks, return_days)
    replaced = bool(store.plan.year(year))
    store.plan.save(year, planned, request.replace)
    return YearPlan(year, planned, replaced)


@dataclass(frozen=True)
class PlanState:
    """A planned cycle and where it stands; ``drawn`` is the cycle as drawn (its window
    may differ from the plan's, when ``allocate --from/--to`` overrode it)."""

    planned: PlannedCycle
    state: str
    drawn: Cycle | None = None
    allocated: int = 0
    returned: int = 0
    moderated: int = 0

    def to_json(self) -> dict[str, Any]:
        d = self.drawn
        return self.planned.to_json() | {
            "state": self.state, "allocated": self.allocated, "returned": self.returned,
            "moderated": self.moderated,
            "drawn_window": None if d is None or d.cancelled else {
                "from": d.date_from.isoformat(), "to": d.date_to.isoformat(),
                "due": d.due_date.isoformat()}}


def plan_states(store: Store, year: str | None, today: date, rate: float) -> list[PlanState]:
    """Every planned cycle of ``year`` (or of every year), earliest first, with its state."""
    if year is not None:
        label = year_label(year)
        planned = store.plan.year(label)
        if not planned:
            known = ", ".join(store.plan.years()) or "none yet"
            raise QauditError(f"{label} has no plan (planned years: {known}); make one with"
                              f" `qaudit plan {label} --start DATE`.")
    else:
        planned = store.plan.all()
    states = []
    for p in planned:
        cycle = store.draws.cycle(p.name)
        if cycle is None:
            states.append(PlanState(p, "planned"))
            continue
        s = cycle_state(store, cycle, today, rate)
        state = "reported" if not cycle.cancelled and store.plan.reported(cycle.name) \
            else s.state
        if state == "returns in" and not s.allocated:
            state = "planned"  # a cycle row with no current draw
        states.append(PlanState(p, state, cycle, s.allocated, s.returned, s.moderated))
    return states


@dataclass(frozen=True)
class Window:
    """The window and due date a draw uses, and where they came from."""

    date_from: date
    date_to: date
    due: date | None  # None: today + [cycle] return_days
    planned: PlannedCycle | None
    warnings: tuple[str, ...] = ()


def planned_window(store: Store, cycle: str, date_from: date | None, date_to: date | None,
                   due: date | None) -> Window:
    """The window of a draw: the plan's, where the cycle is planned; ``--from/--to/--due``
    override it, with a warning naming the planned values. Without a plan both --from and
    --to are needed. A window of another length than the plan's is warned."""
    planned = store.plan.planned(cycle)
    if planned is None:
        if date_from is None or date_to is None:
            years = store.plan.years()
            hint = (f" (planned cycles: {', '.join(p.name for p in store.plan.all())})"
                    if years else "; or plan the year first with `qaudit plan YEAR --start"
                    " DATE`")
            missing = " and ".join(o for o, v in (("--from", date_from), ("--to", date_to))
                                   if v is None)
            raise CycleError(f"cycle {cycle!r} is not in a plan, so its window needs {missing}"
                             f" (dd/mm/yyyy){hint}.")
        warnings: tuple[str, ...] = ()
        if store.plan.years() and store.draws.cycle(cycle) is None:
            warnings = (f"cycle {cycle!r} is not in any plan (`qaudit plan show` lists the"
                        " planned cycles); it is drawn with the window given.",)
        return Window(date_from, date_to, due, None, warnings)
    notes = []
    overridden = [f"{o} {v:%d/%m/%Y}" for o, v in (("--from", date_from), ("--to", date_to),
                                                  ("--due", due)) if v is not None]
    if overridden:
        notes.append(f"{', '.join(overridden)} override the plan for {planned.name}: window"
                     f" {planned.window()}, returns due {planned.due_date:%d/%m/%Y}.")
    first = planned.date_from if date_from is None else date_from
    last = planned.date_to if date_to is None else date_to
    days = (last - first).days + 1
    if days != planned.weeks * 7 and first <= last:
        side = "shorter" if days < planned.weeks * 7 else "longer"
        notes.append(f"the window {first:%d/%m/%Y} to {last:%d/%m/%Y} is {days} days, {side}"
                     f" than the plan's {planned.weeks} weeks ({planned.weeks * 7} days).")
    return Window(first, last, planned.due_date if due is None else due, planned, tuple(notes))


@dataclass(frozen=True)
class YearRow:
    group: str
    target: int
    drawn: int
    returned: int
    moderated: int


@dataclass(frozen=True)
class YearStatus:
    """The year to date against its target (cycles x the sum of quotas; 960 by default)."""

    year: str
    cycles: list[str]  # the year's cycles counted (planned and drawn, or named for it)
    planned: int  # cycles in the plan (or [plan] cycles, without one)
    target: int
    drawn: int
    returned: int
    moderated: int
    by_quadrant: list[YearRow] = field(default_factory=list)
    by_type: list[YearRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def rows(key: str, items: list[YearRow]) -> list[dict[str, Any]]:
            return [{key: r.group, "target": r.target, "drawn": r.drawn,
                     "returned": r.returned, "moderated": r.moderated} for r in items]

        return {"year": self.year, "cycles": self.cycles, "planned_cycles": self.planned,
                "target": self.target, "drawn": self.drawn, "returned": self.returned,
                "moderated": self.moderated,
                "by_quadrant": rows("quadrant", self.by_quadrant),
                "by_audit_type": rows("audit_type", self.by_type)}


def year_status(settings: Settings, store: Store, year: str) -> YearStatus:
    """Drawn, returned and moderated so far in the year, by quadrant and audit type, against
    the year's target. The year's cycles are its planned cycles, and any other drawn cycle
    named for it ('2026-27 ...')."""
    label = year_label(year)
    planned = store.plan.year(label)
    names = {cycle_key(p.name) for p in planned}
    prefix = cycle_key(label) + "-"
    cycles = [c.name for c in store.draws.cycles() if not c.cancelled and c.regular and (
        cycle_key(c.name) in names or cycle_key(c.name).startswith(prefix))]
    count = len(planned) or settings.plan.cycles
    rows = store.plan.allocations(cycles)

    def tally(key: str, groups: list[str], target: dict[str, int]) -> list[YearRow]:
        drawn: Counter[str] = Counter()
        returned: Counter[str] = Counter()
        moderated: Counter[str] = Counter()
        for r in rows:
            g = getattr(r, key)
            drawn[g] += 1
            returned[g] += r.returned
            moderated[g] += r.moderated
        extra = sorted(set(drawn) - set(groups))
        return [YearRow(g, target.get(g, 0), drawn[g], returned[g], moderated[g])
                for g in [*groups, *extra]]

    quadrants = list(settings.quadrants)
    types = list(settings.audit_types)
    by_quadrant = tally("quadrant", quadrants, {
        q: count * sum(settings.quota(q, t) for t in types) for q in quadrants})
    by_type = tally("audit_type", types, {
        t: count * sum(settings.quota(q, t) for q in quadrants) for t in types})
    return YearStatus(
        year=label, cycles=cycles, planned=count,
        target=sum(r.target for r in by_quadrant), drawn=len(rows),
        returned=sum(r.returned for r in rows), moderated=sum(r.moderated for r in rows),
        by_quadrant=by_quadrant, by_type=by_type)


# --- the "at least quarterly" workshops ----------------------------------------------------


def _months_later(day: date, months: int) -> date:
    """The same day ``months`` calendar months later (the month's last day if it is
    shorter: 31/08 + 3 months is 30/11)."""
    import calendar

    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def quarter_bounds(start: date) -> list[tuple[date, date]]:
    """The plan year's four quarters: three calendar months each from the first cycle's
    first day (first and last day of each)."""
    return [(_months_later(start, 3 * n), _months_later(start, 3 * (n + 1)) - timedelta(days=1))
            for n in range(4)]


@dataclass(frozen=True)
class Quarter:
    """One quarter of a planned year, and the audit-the-auditor workshops held in it (the
    framework: *audit workshops ... at least quarterly*)."""

    year: str
    number: int
    first: date
    last: date
    workshops: tuple[str, ...]
    today: date

    @property
    def past(self) -> bool:
        return self.last < self.today

    @property
    def missed(self) -> bool:
        """A quarter gone by without a workshop: the framework's rule was not met."""
        return self.past and not self.workshops

    def to_json(self) -> dict[str, Any]:
        return {"year": self.year, "quarter": self.number, "from": self.first.isoformat(),
                "to": self.last.isoformat(), "workshops": list(self.workshops),
                "past": self.past, "missed": self.missed}


def workshop_quarters(store: Store, year: str | None, today: date) -> list[Quarter]:
    """Each planned year's quarters (of ``year``, or of every planned year), with the
    workshops held in each."""
    years = [year_label(year)] if year is not None else store.plan.years()
    held = store.workshops.held_on_dates()
    quarters = []
    for label in years:
        planned = store.plan.year(label)
        if not planned:
            continue
        start = min(p.date_from for p in planned)
        for n, (first, last) in enumerate(quarter_bounds(start), start=1):
            names = tuple(name for name, day in held if first <= day <= last)
            quarters.append(Quarter(label, n, first, last, names, today))
    return quarters
