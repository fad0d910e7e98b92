"""`qaudit purge`: remove the personal data of older cycles, keeping the figures."""

from __future__ import annotations

from typing import Annotated

import typer

from qaudit.commands.common import date_option, out
from qaudit.errors import QauditError

PURGE_EXAMPLE = "Example: [bold]qaudit purge --before 01/04/2024 --dry-run[/bold]"


def register(app: typer.Typer) -> None:
    app.command(epilog=PURGE_EXAMPLE)(purge)


def purge(
    before: Annotated[str, typer.Option(
        "--before", help="Purge the cycles whose window ended before this date.")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Say what would be removed, and remove nothing.")] = False,
) -> None:
    """Remove the personal data of the cycles that ended before a date (retention)."""
    date_option(before, "--before")
    out.print("Nothing purged." if dry_run else "")
    raise QauditError("qaudit purge is not built yet.")
