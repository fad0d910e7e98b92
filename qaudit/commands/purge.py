"""`qaudit purge`: remove the personal data of older cycles, keeping the figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from qaudit.commands.common import (
    JsonOption,
    confirm,
    current_workspace,
    date_option,
    escape,
    out,
    print_json,
    today,
)
from qaudit.commands.tables import NOTE_WIDTH, numbers, show, table, text

if TYPE_CHECKING:
    from rich.table import Table

    from qaudit.jobs.purge import PurgeReport

PURGE_EXAMPLE = (
    "Example: [bold]qaudit purge --before 01/04/2024 --dry-run[/bold]  (what would go), then"
    " [bold]qaudit purge --before 01/04/2024[/bold]  (asks first; a script adds --yes)"
)


def register(app: typer.Typer) -> None:
    app.command(epilog=PURGE_EXAMPLE)(purge)


def purge(
    before: Annotated[str, typer.Option(
        "--before", help="Purge the cycles whose window ended before this date (and the"
        " workshops held before it).")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Say what would be removed, and remove nothing.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Purge without asking first (for scripts: without a terminal,"
        " a purge without --yes is refused).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Remove the personal data of the cycles that ended before a date (retention).

    Every kind of cycle (regular, deep dive, re-audit round, cancelled) and every workshop
    held before the date: ids and names become tokens that link to no one, email
    addresses and free text go, and so do the cycle's workbooks, outbox, feedback packs
    and internal reports. Grades, answers, quadrants, audit types, teams, dates (the day
    work was completed as its month), moderation and RI figures stay, so every published
    report and the year's figures read as before. It cannot be undone: on a terminal it
    asks first, and a script gives --yes. Refused, with nothing changed, while a cycle
    has returns still due, open RI items or escalations, audits in its moderation sample
    with no outcome, is one of the latest cycles the cool-down reads (or that a draw
    still running read), or has audits a re-audit round not purged with it follows up.
    Recorded in `qaudit log`. Running it again removes any file left behind and any
    personal data written into a purged cycle since, and otherwise does nothing.
    """
    from qaudit.jobs.purge import purge as run_purge

    day = date_option(before, "--before")
    ws = current_workspace()
    with ws.store() as store:
        if not (dry_run or yes):
            _confirm(run_purge(ws, store, day, today(), dry_run=True))
        report = run_purge(ws, store, day, today(), dry_run=dry_run)
    if as_json:
        print_json(report.to_json())
        return
    _print(report)


def _confirm(plan: PurgeReport) -> None:
    """Ask before a purge that would change anything (it cannot be undone); without a
    terminal to ask on, refuse: a script says --yes."""
    if plan.nothing:
        return
    what = _what(plan)
    confirm(f"Purge {what}? It cannot be undone. [y/N] ",
            no_terminal=f"nothing was purged: a purge ({what}) cannot be undone, and there is"
            " no terminal to ask on. See what it would do with --dry-run, then run it again"
            " with --yes.", declined="nothing was purged (not confirmed).")


def _what(plan: PurgeReport) -> str:
    """'2 cycle(s) and 1 workshop(s) that ended before 01/08/2026', and what else."""
    cycles = sum(r.key[0] == "cycle" for r in plan.removals)
    workshops = len(plan.removals) - cycles
    said = [f"the personal data of {cycles} cycle(s) and {workshops} workshop(s) that"
            f" ended before {plan.before:%d/%m/%Y}"] if plan.removals else []
    if plan.again:
        said.append(f"what was written since into {len(plan.again)} purged before")
    if plan.leftovers:
        said.append(f"{len(plan.leftovers)} file(s) left from an earlier purge")
    return ", ".join(said)


def _removals(report: PurgeReport, again: bool = False) -> Table:
    """One row a cycle or workshop: its name above its kind (a cycle's name kept whole
    where it can be), its window (or when it was purged), its rows by kind, its files."""
    rows = table()
    text(rows, "Cycle or workshop", min_width=len("regular cycle"))
    text(rows, "Purged" if again else "Window, or held", min_width=len("01/06/2026 to"))
    numbers(rows, "Rows")
    text(rows, "Of which", min_width=NOTE_WIDTH)
    if not again:
        numbers(rows, "Files", "Bytes")
    for r in report.again if again else report.removals:
        detail = ", ".join(f"{n} {what}" for what, n in r.rows.items() if n) or "none"
        files = () if again else (f"{len(r.files):,}", f"{r.size:,}")
        rows.add_row(escape(f"{r.name}\n{r.kind}"), r.when, f"{sum(r.rows.values()):,}",
                     escape(detail), *files)
    return rows


def _print(report: PurgeReport) -> None:
    before = f"{report.before:%d/%m/%Y}"
    if report.nothing:
        already = (f" Purged already: {', '.join(report.already)}." if report.already
                   else " No cycle ended, and no workshop was held, before it.")
        out.print(escape(f"Nothing to purge before {before}.{already}"))
        return
    if report.removals:
        verb = "Would purge" if report.dry_run else "Purged"
        show(_removals(report), escape(f"{verb} the personal data of what ended before {before}:"))
    if report.again:
        verb = "Would take out" if report.dry_run else "Took out"
        show(_removals(report, again=True),
             f"{verb} the personal data written since into what was purged before:")
    if report.leftovers:
        verb = "Would remove" if report.dry_run else "Removed"
        out.print(f"{verb} {len(report.leftovers)} file(s) ({report.leftover_size:,} bytes)"
                  " left from an earlier purge.")
    if report.dry_run:
        out.print(f"Nothing was changed. Run without --dry-run to purge (qaudit purge"
                  f" --before {before}).")
    elif report.removals or report.again:
        out.print("Published reports and every figure stay; the history (`qaudit log`)"
                  " records the purge. The database file was rewritten without the purged"
                  " data.")
