"""`qaudit reaudit select|stats`: later work of a Requires improvement audit, re-audited."""

from __future__ import annotations

import typer

reaudit_app = typer.Typer(
    help="Re-audits: after a Requires improvement audit and its corrective action, a later"
    " piece of the same practitioner's work is audited to see whether change happened.",
    no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(reaudit_app, name="reaudit")
