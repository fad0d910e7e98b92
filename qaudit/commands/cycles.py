"""`qaudit cycle list` and `qaudit cycle cancel`."""

from __future__ import annotations

from typing import Annotated

import typer

from qaudit.commands.common import JsonOption, current_workspace, escape, out, print_json, today
from qaudit.commands.tables import WINDOW_WIDTH, numbers, show, table, text, window_and_due

cycle_app = typer.Typer(
    help="The workspace's cycles: where each stands, and cancelling a mistaken one.",
    no_args_is_help=True, rich_markup_mode="rich",
    epilog="Example: [bold]qaudit cycle list[/bold]",
)


def register(app: typer.Typer) -> None:
    app.add_typer(cycle_app, name="cycle")


@cycle_app.command("list", epilog="Example: [bold]qaudit cycle list[/bold]")
def cycle_list(as_json: JsonOption = False) -> None:
    """Every cycle with its kind (regular, deep dive, re-audit round), window, due date and
    state (drawn, returns coming in, returns in, moderated, cancelled). Only regular
    cycles count toward the year's 960 and its figures."""
    from qaudit.db.draws import describe_kind
    from qaudit.jobs.cycles import cycle_states

    ws = current_workspace()
    with ws.store() as store:
        states = cycle_states(store, today(), ws.settings.moderation.rate)
    if as_json:
        print_json([s.to_json() for s in states])
        return
    if not states:
        out.print("No cycle drawn yet; run `qaudit allocate` first.")
        return
    cycles = table()
    text(cycles, "Cycle", "Kind")
    text(cycles, "Window, returns due", min_width=WINDOW_WIDTH)
    text(cycles, "State")
    numbers(cycles, "Drawn", "Returned", "Moderated")
    for s in states:
        c = s.cycle
        state = s.state + (f" ({c.cancel_reason})" if c.cancelled else "")
        kind = "regular" if c.regular else describe_kind(c.kind)
        cycles.add_row(escape(c.name), kind, window_and_due(c.date_from, c.date_to, c.due_date),
                       escape(state), str(s.allocated), str(s.returned), str(s.moderated))
    show(cycles)


@cycle_app.command(
    "cancel", epilog="Example: [bold]qaudit cycle cancel '2026-27 C4' --reason 'Drawn from"
    " the wrong export'[/bold]",
)
def cycle_cancel(
    cycle: Annotated[str, typer.Argument(help="The cycle to cancel.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the history).")],
    force: Annotated[bool, typer.Option(
        "--force", help="Cancel although forms have come back (they leave every figure).")
    ] = False,
) -> None:
    """Cancel a mistaken cycle: kept in the history, its people, records and workers free
    for later draws, its folder moved aside. Refused once forms are back, unless --force;
    and refused while a re-audit round follows up one of its audits (cancel the round
    first). A deep dive or re-audit round is cancelled the same way."""
    from qaudit.jobs.cycles import cancel_cycle

    ws = current_workspace()
    with ws.store() as store:
        cancelled = cancel_cycle(ws, store, cycle, reason, force)
    out.print(escape(f"Cancelled cycle {cancelled.name}: {cancelled.cancel_reason}. Its"
                     " people, records and workers are free for later draws."))
