"""`qaudit status` and `qaudit export`: where a cycle stands, and the data for analysts."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from qaudit.commands.common import app, current_workspace, out
from qaudit.errors import QauditError
from qaudit.jobs.export import export_workbook
from qaudit.privacy import workspace_key
from qaudit.reports import status_rows

COLUMNS = (("allocated", "Allocated"), ("self_reflections", "Reflections"),
           ("audits", "Audits"), ("overdue", "Overdue"), ("moderated", "Moderated"),
           ("ri_open", "RI open"))


@app.command(epilog="Example: [bold]qaudit status --cycle '2026-27 C3'[/bold]")
def status(
    cycle: Annotated[str | None, typer.Option(
        "--cycle", "-c", help="Cycle (default: the latest drawn).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Where a cycle stands per quadrant and Service Manager: allocated, self-reflections
    and audits back, overdue, moderated, RI open."""
    ws = current_workspace()
    with ws.store() as store:
        name = cycle or store.latest_cycle()
        if name is None:
            raise QauditError("no cycle is drawn yet; run `qaudit allocate` first.")
        found = store.require_cycle(name)
        progress = store.allocation_progress(name)
    today = date.today()
    result = {
        "cycle": name, "due": found.due_date.isoformat(),
        "by_quadrant": status_rows(progress, "quadrant", today),
        "by_service_manager": status_rows(progress, "service_manager", today),
    }
    if as_json:
        print(json.dumps(result, indent=2))
        return
    out.print(escape(f"{name}: returns due {found.due_date:%d/%m/%Y}"
                     + (" (past)" if today > found.due_date else "")))
    for key, title in (("by_quadrant", "Quadrant"), ("by_service_manager", "Service Manager")):
        table = Table(box=box.SIMPLE_HEAD)
        table.add_column(title, no_wrap=True)
        for _, header in COLUMNS:
            table.add_column(header, justify="right")
        rows = result[key]
        assert isinstance(rows, list)
        for row in rows:
            if row is rows[-1]:
                table.add_section()
            table.add_row(escape(str(row[key.removeprefix("by_")])),
                          *(str(row[k]) for k, _ in COLUMNS))
        out.print(table)


@app.command(
    "export",
    epilog="Example: [bold]qaudit export --out qa-data.xlsx[/bold]; for a workshop:"
    " [bold]qaudit export --anonymise --out workshop-data.xlsx[/bold]",
)
def export_data(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Workbook to write.",
                                           dir_okay=False)] = Path("qaudit-export.xlsx"),
    anonymise: Annotated[bool, typer.Option(
        "--anonymise", help="Replace identifiers with keyed pseudonyms and scrub free text.")
    ] = False,
) -> None:
    """The full data set as one workbook for analysts: allocations, audits, answers,
    self-reflections, moderation, RI follow-up and escalations."""
    if out_file.suffix.lower() != ".xlsx":
        raise QauditError(f"--out {out_file} must end in .xlsx.")
    ws = current_workspace()
    with ws.store() as store:
        key = workspace_key(ws.root) if anonymise else None
        out_file.parent.mkdir(parents=True, exist_ok=True)
        counts = export_workbook(store, out_file, key)
    what = "anonymised " if anonymise else ""
    out.print(escape(f"Wrote the {what}data set to {out_file}: "
                     + ", ".join(f"{n} {name.lower()}" for name, n in counts.items()) + "."))
    if anonymise:
        out.print("Identifiers are keyed pseudonyms; the key stays in the workspace"
                  " (pseudonym.key) and must not be shared.")
