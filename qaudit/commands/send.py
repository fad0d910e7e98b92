"""`qaudit send KIND --cycle C`: every message of the people loop, as drafts or by SMTP."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Registers ``qaudit send`` (built in this module)."""
