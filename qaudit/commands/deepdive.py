"""`qaudit deep-dive new|list|show`: themed audits with their own terms of reference."""

from __future__ import annotations

import typer

deep_dive_app = typer.Typer(
    help="Themed (deep dive) audits: their own terms of reference and question set, drawn"
    " at random from the filtered export, directed by the Practice Governance Board.",
    no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(deep_dive_app, name="deep-dive")
