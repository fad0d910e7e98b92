"""Backing up the workspace's record, and putting a backup back in its place.

The copying and the checks are ``db.backup``'s; this is what the commands ask for: a
backup where the officer said (or in ``backups/``), and a restore that refuses a file
that is not a whole qaudit record and refuses while another officer holds the workspace.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qaudit.db import Store, backup, holders, transfer
from qaudit.db.backup import Backup
from qaudit.errors import QauditError
from qaudit.workspace import Workspace


def backup_workspace(ws: Workspace, to: Path | None = None) -> Backup:
    """A checked copy of the record: at ``to`` (a new file, or into a folder under the
    usual name), else in ``<workspace>/backups``."""
    with ws.store() as store:
        if to is None:
            return backup.make(store.conn, store.path, "manual")
        if to.is_dir():
            return backup.make_in(store.conn, to.absolute(), "manual")
        return backup.copy_to(store.conn, to.absolute())


@dataclass(frozen=True)
class Restore:
    """A restore checked, or done."""

    source: Path
    schema_version: int
    kept: Path | None = None  # where the record it replaced was kept

    def to_json(self) -> dict[str, object]:
        return {"source": str(self.source), "schema_version": self.schema_version,
                "kept": None if self.kept is None else str(self.kept)}


def check_restore(ws: Workspace, source: Path) -> Restore:
    """Refuse a file that is not a whole qaudit record this qaudit reads, the live record
    itself, and a workspace another officer's command holds."""
    version = backup.check_restorable(source)
    if ws.db_path.exists() and source.resolve() == ws.db_path.resolve():
        raise QauditError(f"{source} is the workspace's own database; give a backup to"
                          " restore (they are in backups/).")
    _check_free(ws)
    return Restore(source, version)


def _check_free(ws: Workspace) -> None:
    who = holders.in_use_by(ws.db_path)
    if who:
        raise QauditError(f"the workspace is {who}; nothing was restored. Try again when"
                          " their command has finished.")


def restore(ws: Workspace, checked: Restore) -> Restore:
    """Keep the current record (``backups/``, reason ``before-restore``), then put the
    backup in its place in one rename (on PostgreSQL, in one transaction)."""
    _check_free(ws)
    if ws.settings.database.url:
        return _restore_postgresql(ws, checked)
    note = holders.enter(ws.db_path, ws.actor)
    try:
        kept = backup.keep_current(ws.db_path)
        backup.replace_with(checked.source, ws.db_path)
    finally:
        holders.leave(note)
    return Restore(checked.source, checked.schema_version, kept)


def _restore_postgresql(ws: Workspace, checked: Restore) -> Restore:
    """The backup's rows in place of the record's, in one transaction that commits only
    if every table then matches the backup. A backup of an older schema is brought up to
    date first, in a scratch copy (the file itself is not changed)."""
    with tempfile.TemporaryDirectory(dir=ws.root, prefix=".restore-") as scratch:
        copy = Path(scratch) / "restore.db"
        shutil.copyfile(checked.source, copy)
        with Store.open(copy) as source, ws.store() as store:
            kept = backup.make(store.conn, store.path, "before-restore")
            transfer.copy_record(source.conn, store.conn, replace=True)
            store.log(None, "record_restored", {"from": checked.source.name})
    return Restore(checked.source, checked.schema_version, kept.path)
