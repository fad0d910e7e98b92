"""`qaudit workshop make|ingest|stats|list`: audit-the-auditor workshops."""

from __future__ import annotations

import typer

workshop_app = typer.Typer(
    help="Audit-the-auditor workshops: many auditors grade the same anonymised cases, and"
    " their agreement is measured.",
    no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(workshop_app, name="workshop")
