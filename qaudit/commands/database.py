"""`qaudit db move-to`: the workspace's record moved from its SQLite file into PostgreSQL."""

from __future__ import annotations

from typing import Annotated

import typer

from qaudit.commands.common import JsonOption, current_workspace, escape, out, print_json
from qaudit.commands.tables import fixed, numbers, show, table

MOVE_EXAMPLE = (
    "Example: [bold]qaudit db move-to postgresql://qa_officer@dbserver/qaudit[/bold]"
    "  (the password in PGPASSWORD or your pgpass file, never on the command line)"
)

db_app = typer.Typer(
    help="Where the workspace's record lives: its SQLite file, or a team's PostgreSQL"
    " database (docs/team.md).",
    no_args_is_help=True, rich_markup_mode="rich", epilog=MOVE_EXAMPLE,
)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


@db_app.command("move-to", epilog=MOVE_EXAMPLE)
def move_to(
    url: Annotated[str, typer.Argument(
        help="An empty PostgreSQL database (UTF-8, --locale=C), as"
        " postgresql://USER@HOST[:PORT]/DATABASE.", metavar="URL")],
    as_json: JsonOption = False,
) -> None:
    """Copy the whole record into an empty PostgreSQL database, prove the copy, and make
    it the workspace's record.

    Every table is copied in one transaction, and kept only if each table's row count and
    content hash (SHA-256 over its rows) are the same in both; then \\[database] url in
    qaudit.toml points at it. The SQLite file is held while the move runs, so nobody stores
    anything the copy would miss; its rows stay as they were, and it is marked as moved, so
    a command opened on it before the move stores nothing there. Keep it as the last copy
    of the file-based record. Workbooks and the outbox stay in the workspace folder.
    """
    from qaudit.jobs.database import move_to as run_move

    ws = current_workspace()
    moved = run_move(ws, url)
    if as_json:
        print_json(moved.to_json())
        return
    rows = table()
    fixed(rows, "Table")
    numbers(rows, "Rows")
    fixed(rows, "Content hash (SHA-256), the same in both")
    for check in moved.tables:
        rows.add_row(check.table, f"{check.rows:,}", check.sha256[:16] + "…")
    show(rows)
    out.print(f"Moved the record to {escape(moved.where)}: {len(moved.tables)} tables,"
              f" {sum(t.rows for t in moved.tables):,} rows, each table's rows and content"
              " the same as in qaudit.db. qaudit.toml now points there; qaudit.db is left"
              " as it was, marked as moved.")
