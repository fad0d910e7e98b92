"""`qaudit status` and `qaudit export`: where a cycle stands, and the data for analysts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from qaudit.commands.common import JsonOption, current_workspace, escape, out, print_json, today
from qaudit.reports import STATUS_COUNTS

HEADERS = dict(zip(STATUS_COUNTS, ("Allocated", "Reflections", "Audits", "Overdue",
                                   "Moderated", "RI open"), strict=True))
EXPORT_EXAMPLE = (
    "Example: [bold]qaudit export --out qa-data.xlsx[/bold]; for a workshop:"
    " [bold]qaudit export --anonymise --out workshop-data.xlsx[/bold]"
)


def register(app: typer.Typer) -> None:
    app.command(epilog="Example: [bold]qaudit status --cycle '2026-27 C3'[/bold]")(status)
    app.command("export", epilog=EXPORT_EXAMPLE)(export_data)


def status(
    cycle: Annotated[str | None, typer.Option(
        "--cycle", "-c", help="Cycle (default: the latest drawn).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Where a cycle stands per quadrant and Service Manager: allocated, self-reflections
    and audits back, overdue, moderated, RI open."""
    from qaudit.jobs.status import cycle_status

    ws = current_workspace()
    with ws.store() as store:
        result = cycle_status(store, cycle, today(), ws.settings.moderation.rate)
    if as_json:
        print_json(result.to_json())
        return
    out.print(escape(f"{result.cycle}: returns due {result.due:%d/%m/%Y}"
                     + (" (past)" if result.past_due else "")))
    for title, rows in (("Quadrant", result.by_quadrant),
                        ("Service Manager", result.by_service_manager)):
        table = Table(box=box.SIMPLE_HEAD)
        table.add_column(title, no_wrap=True)
        for header in HEADERS.values():
            table.add_column(header, justify="right")
        for row in rows:
            if row is rows[-1]:
                table.add_section()
            table.add_row(escape(row.group), *(str(getattr(row, k)) for k in HEADERS))
        out.print(table)
    m = result.moderation
    verdict = "met" if m.met else "not met yet"
    out.print(escape(
        f"Moderation: {m.moderated} of {m.returned} returned audits moderated"
        f" ({m.selected} selected); the {m.rate:.0%} target is {m.target}: {verdict}."))


def export_data(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Workbook to write.",
                                           dir_okay=False)] = Path("qaudit-export.xlsx"),
    anonymise: Annotated[bool, typer.Option(
        "--anonymise", help="Replace identifiers with keyed pseudonyms and scrub free text.")
    ] = False,
) -> None:
    """The full data set as one workbook for analysts: allocations, audits, answers,
    self-reflections, moderation, RI follow-up and escalations."""
    from qaudit.jobs.export import export_dataset

    ws = current_workspace()
    with ws.store() as store:
        counts = export_dataset(ws, store, out_file, anonymise)
    what = "anonymised " if anonymise else ""
    out.print(escape(f"Wrote the {what}data set to {out_file}: "
                     + ", ".join(f"{n} {name.lower()}" for name, n in counts.items()) + "."))
    if anonymise:
        out.print("Identifiers are keyed pseudonyms; the key stays in the workspace"
                  " (pseudonym.key) and must not be shared.")
