"""`qaudit staff import` and `qaudit feedback record`: the people the cycle reaches."""

from __future__ import annotations

import typer

staff_app = typer.Typer(
    help="The staff list: who works where, their email, and who manages them.",
    no_args_is_help=True, rich_markup_mode="rich",
    epilog="Example: [bold]qaudit staff import staff.xlsx[/bold]",
)
feedback_app = typer.Typer(
    help="Feedback to the practitioner: record the reflective conversation.",
    no_args_is_help=True, rich_markup_mode="rich",
    epilog="Example: [bold]qaudit feedback record 2026-27-C3-004 --on 12/01/2027[/bold]",
)


def register(app: typer.Typer) -> None:
    app.add_typer(staff_app, name="staff")
    app.add_typer(feedback_app, name="feedback")
