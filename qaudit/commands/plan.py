"""`qaudit plan YEAR --start DATE` and `qaudit plan show [YEAR]`: the year's cycles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from qaudit.commands.common import (
    JsonOption,
    current_workspace,
    date_option,
    err,
    escape,
    out,
    print_json,
    today,
)
from qaudit.commands.tables import WINDOW_WIDTH, fixed, numbers, show, table, text, window_and_due
from qaudit.errors import QauditError

if TYPE_CHECKING:
    from qaudit.jobs.plan import PlanState, Quarter

PLAN_EXAMPLE = (
    "Example: [bold]qaudit plan 2026-27 --start 06/04/2026[/bold]  (eight 6-week cycles,"
    " '2026-27 C1' to 'C8'), then [bold]qaudit plan show 2026-27[/bold]; draw a planned"
    " cycle with [bold]qaudit allocate EXPORT --cycle '2026-27 C1'[/bold]"
)


def register(app: typer.Typer) -> None:
    app.command("plan", epilog=PLAN_EXAMPLE)(plan)


def plan(
    year: Annotated[str, typer.Argument(
        help="The year to plan, e.g. 2026-27; or [bold]show[/bold] to list the plan.",
        metavar="YEAR|show")],
    shown: Annotated[str | None, typer.Argument(
        help="With show: the year to list (default: every planned year).",
        metavar="[YEAR]", show_default=False)] = None,
    start: Annotated[str | None, typer.Option(
        "--start", help="First day of the first cycle's window (dd/mm/yyyy).")] = None,
    cycles: Annotated[int | None, typer.Option(
        "--cycles", help="Cycles in the year (default: \\[plan] cycles, 8).")] = None,
    weeks: Annotated[int | None, typer.Option(
        "--weeks", help="Weeks in each window (default: \\[plan] weeks, 6).")] = None,
    return_days: Annotated[int | None, typer.Option(
        "--return-days", help="Returns due this many days after a window ends (default:"
        " \\[cycle] return_days, 28).")] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Plan a planned year again (refused if a drawn cycle would"
        " move). The old plan is kept as history.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Plan the year's cycles, or list them with where each stands.

    [bold]qaudit plan YEAR --start DATE[/bold] writes the year's cycles, named 'YEAR C1' to
    'YEAR C8': consecutive windows of --weeks weeks from --start, none overlapping, each
    with returns due --return-days after it ends. `qaudit allocate EXPORT --cycle 'YEAR C3'`
    then takes the window and due date from the plan.

    [bold]qaudit plan show [YEAR][/bold] lists the planned cycles and their state: planned,
    drawn, returns coming in, returns in, moderated, reported (the outcome reports sent),
    or cancelled; then each quarter of the year (three months from the first cycle's first
    day) and the audit workshops held in it, with a warning for a past quarter without one.
    """
    from qaudit.jobs.plan import PlanRequest, make_plan, plan_states, workshop_quarters

    ws = current_workspace()
    if year.strip().casefold() == "show":
        options = [o for o, v in (("--start", start), ("--cycles", cycles), ("--weeks", weeks),
                                  ("--return-days", return_days)) if v is not None]
        if options or replace:
            raise QauditError(f"`qaudit plan show` lists the plan and takes no"
                              f" {', '.join(options) or '--replace'}; to plan a year, run"
                              " `qaudit plan YEAR --start DATE`.")
        with ws.store() as store:
            states = plan_states(store, shown, today(), ws.settings.moderation.rate)
            quarters = workshop_quarters(store, shown, today())
        for q in quarters:
            if q.missed:
                err.print(escape(
                    f"Warning: no audit workshop was held in quarter {q.number} of {q.year}"
                    f" ({q.first:%d/%m/%Y} to {q.last:%d/%m/%Y}); the framework asks for one"
                    " at least quarterly (`qaudit workshop make`)."), style="yellow")
        if as_json:
            print_json([s.to_json() for s in states])
            return
        _show(states)
        _show_quarters(quarters)
        return
    if shown is not None:
        raise QauditError(f"unexpected {shown!r} after YEAR; plan one year at a time, e.g."
                          " `qaudit plan 2026-27 --start 06/04/2026`.")
    if start is None:
        raise QauditError(f"--start DATE is required: the first day of {year.strip()}'s first"
                          " window, e.g. `qaudit plan 2026-27 --start 06/04/2026`.")
    request = PlanRequest(year=year, start=date_option(start, "--start"), today=today(),
                          cycles=cycles, weeks=weeks, return_days=return_days, replace=replace)
    with ws.store() as store:
        made = make_plan(ws.settings, store, request)
    if as_json:
        print_json(made.to_json())
        return
    planned = table()
    fixed(planned, "Cycle", "Window", "Returns due")
    for c in made.cycles:
        planned.add_row(escape(c.name), c.window(), f"{c.due_date:%d/%m/%Y}")
    show(planned, escape(f"Plan for {made.year}"))
    verb = "Replaced the plan" if made.replaced else "Planned"
    out.print(escape(
        f"{verb} for {made.year}: {len(made.cycles)} cycles of {made.cycles[0].weeks} weeks,"
        f" {made.cycles[0].date_from:%d/%m/%Y} to {made.cycles[-1].date_to:%d/%m/%Y}. Draw each"
        f" once its window has ended: `qaudit allocate EXPORT --cycle '{made.cycles[0].name}'`."))


def _show(states: list[PlanState]) -> None:
    if not states:
        out.print("No year is planned yet; run `qaudit plan YEAR --start DATE`.")
        return
    cycles = table()
    text(cycles, "Cycle")
    text(cycles, "Window, returns due", min_width=WINDOW_WIDTH)
    text(cycles, "State")
    numbers(cycles, "Drawn", "Returned", "Moderated")
    for s in states:
        p, d = s.planned, s.drawn
        window = window_and_due(p.date_from, p.date_to, p.due_date)
        if d is not None and not d.cancelled and (d.date_from, d.date_to, d.due_date) != (
                p.date_from, p.date_to, p.due_date):
            window = (window_and_due(d.date_from, d.date_to, d.due_date)
                      + f" (planned {window})")
        drawn = s.state not in {"planned", "cancelled"}
        cycles.add_row(escape(p.name), window, escape(s.state),
                       *(str(n) if drawn else "" for n in (s.allocated, s.returned,
                                                           s.moderated)))
    show(cycles)


def _show_quarters(quarters: list[Quarter]) -> None:
    """The "at least quarterly" audit workshops: one line a quarter of each planned year."""
    if not quarters:
        return
    out.print("Audit workshops (the framework: at least quarterly):")
    for q in quarters:
        held = ("held: " + ", ".join(q.workshops) if q.workshops else
                "none held: missed" if q.past else "none yet")
        out.print(escape(f"  {q.year} Q{q.number} {q.first:%d/%m/%Y} to {q.last:%d/%m/%Y}:"
                         f" {held}"))
