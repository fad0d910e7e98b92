"""`qaudit backup` and `qaudit restore`: a checked copy of the record, and putting one back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qaudit.commands.common import (
    JsonOption,
    confirm,
    current_workspace,
    escape,
    out,
    print_json,
    print_path,
)

BACKUP_EXAMPLE = (
    "Example: [bold]qaudit backup[/bold]  (into the workspace's backups folder), or"
    " [bold]qaudit backup --to E:/qaudit-2026-11-26.db[/bold]"
)
RESTORE_EXAMPLE = (
    "Example: [bold]qaudit restore backups/qaudit-20261126T104200Z-redraw.db[/bold]  (asks"
    " first; a script adds --yes)"
)


def register(app: typer.Typer) -> None:
    app.command(epilog=BACKUP_EXAMPLE)(backup)
    app.command(epilog=RESTORE_EXAMPLE)(restore)


def backup(
    to: Annotated[Path | None, typer.Option(
        "--to", help="Write the backup to this new file (or into this folder); default:"
        " the workspace's backups folder.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Make a checked copy of the workspace's record, safely while others use it.

    Uses SQLite's online backup, so the copy is whole even while another officer's command
    is running; the copy is checked (SQLite's integrity check and its schema version) and
    only then given its name. A record in PostgreSQL is copied into such a file, row for
    row, from one snapshot, each table's count and content hash checked. qaudit also backs
    up on its own before every upgrade of the record, --redraw, ingest --replace, purge and
    cycle cancel (the last 10 of each kept).
    A backup holds all the personal data of the record: keep it as safe as the workspace.
    """
    from qaudit.db.network import share_note
    from qaudit.jobs.backup import backup_workspace

    ws = current_workspace()
    made = backup_workspace(ws, to)
    note = "" if ws.settings.database.url else share_note(ws.root)
    if as_json:
        print_json({**made.to_json(), "network_share": note})
        return
    print_path(f"Backed up the record ({made.size:,} bytes, schema {made.schema_version}),"
               " checked, to:", made.path)
    if note:
        out.print(escape(note))


def restore(
    file: Annotated[Path, typer.Argument(help="The backup to put back (a .db file).",
                                         metavar="FILE")],
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Restore without asking first (for scripts: without a terminal,"
        " a restore without --yes is refused).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Put a backup back as the workspace's record.

    Refused when the file is not a whole qaudit record (SQLite's integrity check, qaudit's
    tables, a schema this qaudit reads) or while another officer's command holds the
    workspace. The current record is first backed up (backups/, "before-restore"), then
    replaced in one step (a record in PostgreSQL: in one transaction, each table checked).
    Everything stored since the backup was made is then no longer in the record (it stays
    in the before-restore backup).
    """
    from qaudit.jobs.backup import check_restore
    from qaudit.jobs.backup import restore as run_restore

    ws = current_workspace()
    checked = check_restore(ws, file)
    if not yes:
        _confirm(file)
    done = run_restore(ws, checked)
    if as_json:
        print_json(done.to_json())
        return
    if done.kept is not None:
        print_path("The record it replaced is kept at:", done.kept)
    print_path(f"Restored the record (schema {done.schema_version}) from:", done.source)


def _confirm(file: Path) -> None:
    confirm(f"Replace the workspace's record with {file}? What was stored since it was made"
            " will be only in a backup. [y/N] ",
            no_terminal="nothing was restored: a restore replaces the record, and there is no"
            " terminal to ask on. Run it again with --yes.",
            declined="nothing was restored (not confirmed).")
