"""`qaudit export`: the data set for analysts, optionally anonymised for a workshop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qaudit.commands.common import current_workspace, escape, out

EXPORT_EXAMPLE = (
    "Example: [bold]qaudit export --out qa-data.xlsx[/bold]; for a workshop:"
    " [bold]qaudit export --anonymise --out workshop-data.xlsx[/bold]"
)


def register(app: typer.Typer) -> None:
    app.command("export", epilog=EXPORT_EXAMPLE)(export_data)


def export_data(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Workbook to write.",
                                           dir_okay=False)] = Path("qaudit-export.xlsx"),
    anonymise: Annotated[bool, typer.Option(
        "--anonymise", help="Replace identifiers with keyed pseudonyms and scrub free text.")
    ] = False,
) -> None:
    """The full data set as one workbook for analysts: allocations, audits, answers,
    self-reflections, moderation, RI follow-up and escalations; and, once the record has
    them, the planned cycles, deep dives and workshops (their cases and grades)."""
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
