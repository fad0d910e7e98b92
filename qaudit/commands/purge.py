"""`qaudit purge`: remove the personal data of older cycles, keeping the figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from qaudit.commands.common import (
    JsonOption,
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
    " [bold]qaudit purge --before 01/04/2024[/bold]"
)


def register(app: typer.Typer) -> None:
    app.command(epilog=PURGE_EXAMPLE)(purge)


def purge(
    before: Annotated[str, typer.Option(
        "--before", help="Purge the cycles whose window ended before this date (and the"
        " workshops held before it).")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Say what would be removed, and remove nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Remove the personal data of the cycles that ended before a date (retention).

    Every kind of cycle (regular, deep dive, re-audit round, cancelled) and every workshop
    held before the date: ids become keyed pseudonyms, names, email addresses and free
    text go, and so do the cycle's workbooks, outbox, feedback packs and internal
    reports. Grades, answers, quadrants, audit types, teams, dates (the day work was
    completed as its month), moderation and RI figures stay, so every published report
    and the year's figures read as before. Refused, with nothing changed, while a cycle
    has returns still due, open RI items or escalations, audits in its moderation sample
    with no outcome, or is one of the latest cycles the cool-down reads. Recorded in
    `qaudit log`. Running it again removes any file left behind, and otherwise does
    nothing.
    """
    from qaudit.jobs.purge import purge as run_purge

    day = date_option(before, "--before")
    ws = current_workspace()
    with ws.store() as store:
        report = run_purge(ws, store, day, today(), dry_run=dry_run)
    if as_json:
        print_json(report.to_json())
        return
    _print(report)


def _removals(report: PurgeReport) -> Table:
    """One row a cycle or workshop: its name above its kind (a cycle's name kept whole
    where it can be), its window, its rows by kind, its files."""
    rows = table()
    text(rows, "Cycle or workshop", min_width=len("regular cycle"))
    text(rows, "Window, or held", min_width=len("01/06/2026 to"))
    numbers(rows, "Rows")
    text(rows, "Of which", min_width=NOTE_WIDTH)
    numbers(rows, "Files", "Bytes")
    for r in report.removals:
        detail = ", ".join(f"{n} {what}" for what, n in r.rows.items() if n) or "none"
        rows.add_row(escape(f"{r.name}\n{r.kind}"), r.when, f"{sum(r.rows.values()):,}",
                     escape(detail), f"{len(r.files):,}", f"{r.size:,}")
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
    if report.leftovers:
        verb = "Would remove" if report.dry_run else "Removed"
        out.print(f"{verb} {len(report.leftovers)} file(s) ({report.leftover_size:,} bytes)"
                  " left from an earlier purge.")
    if report.dry_run:
        out.print(f"Nothing was changed. Run without --dry-run to purge (qaudit purge"
                  f" --before {before}).")
    elif report.removals:
        out.print("Published reports and every figure stay; the history (`qaudit log`)"
                  " records the purge. The database file was rewritten without the purged"
                  " data.")
