"""`qaudit export`: the data set for analysts, optionally anonymised for a workshop."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from qaudit.commands.common import current_workspace, escape, out

EXPORT_EXAMPLE = (
    "Example: [bold]qaudit export --out qa-data.xlsx[/bold]; for Power BI or R:"
    " [bold]qaudit export --format csv --out qa-data[/bold]; for a workshop:"
    " [bold]qaudit export --anonymise --out workshop-data.xlsx[/bold]"
)


class ExportFormat(StrEnum):
    """A workbook, or a folder of CSV files."""

    XLSX = "xlsx"
    CSV = "csv"


def register(app: typer.Typer) -> None:
    app.command("export", epilog=EXPORT_EXAMPLE)(export_data)


def export_data(
    out_file: Annotated[Path | None, typer.Option(
        "--out", "-o", help="The workbook to write (.xlsx); with --format csv, the folder.",
        show_default="qaudit-export.xlsx, or the folder qaudit-export")] = None,
    anonymise: Annotated[bool, typer.Option(
        "--anonymise", help="Replace identifiers with keyed pseudonyms and scrub free text.")
    ] = False,
    fmt: Annotated[ExportFormat, typer.Option(
        "--format", help="xlsx: one workbook, a sheet a table. csv: a folder of UTF-8 CSV"
        " files, one a table, with README.txt (for Power BI or R).")] = ExportFormat.XLSX,
) -> None:
    """The full data set for analysts, with a data dictionary: allocations, audits,
    answers, self-reflections, moderation, RI follow-up and its steps, escalations; and,
    once the record has them, the planned cycles, deep dives and workshops (their cases and
    grades). Grades, audit types and kinds of cycle are shown by their labels, dates as
    dates."""
    from qaudit.jobs.export import export_dataset

    path = out_file or Path("qaudit-export" if fmt is ExportFormat.CSV else
                            "qaudit-export.xlsx")
    ws = current_workspace()
    with ws.store() as store:
        counts = export_dataset(ws, store, path, anonymise, fmt is ExportFormat.CSV)
    what = "anonymised " if anonymise else ""
    where = (f"{path} (a CSV file a table, data-dictionary.csv and README.txt)"
             if fmt is ExportFormat.CSV else str(path))
    out.print(escape(f"Wrote the {what}data set to {where}: "
                     + ", ".join(f"{n} {name.lower()}" for name, n in counts.items()) + "."))
    if anonymise:
        out.print("Identifiers are keyed pseudonyms; the key stays in the workspace"
                  " (pseudonym.key) and must not be shared.")
