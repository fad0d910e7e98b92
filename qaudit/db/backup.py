"""Copies of the workspace database: made safely while others use it, checked, and kept.

A backup is made with SQLite's online backup API (``sqlite3.Connection.backup``), which
copies a consistent snapshot page by page even while another officer's command is using
the database; copying the file with the file manager could catch it half-written. The
copy is written under a temporary name, checked (``PRAGMA integrity_check`` and its schema
version), and only then renamed into place, so a backup that exists is a whole one.

Automatic backups (``before``) are made before every change that cannot be taken back
by another command (a migration, a redraw, a replaced return, a purge, a cancelled
cycle) into ``<workspace>/backups``, named ``qaudit-<UTC time>-<reason>.db``; the last
``KEEP`` of each reason are kept.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qaudit.db import transfer
from qaudit.db.dialect import Connection
from qaudit.db.schema import SCHEMA_VERSION
from qaudit.errors import QauditError
from qaudit.values import HIDDEN_IN_TEXT

FOLDER = "backups"
#: How many automatic backups of each reason are kept (the oldest go first).
KEEP = 10


def _say(path: Path) -> None:
    """One line on stderr, so a command's ``--json`` output stays JSON alone; a path with
    a control character in it prints it as U+FFFD, never as a terminal escape."""
    line = HIDDEN_IN_TEXT.sub("\ufffd", f"Backed up the record to {path} first.")
    print(line, file=sys.stderr, flush=True)


#: Told of every automatic backup made, to say so in the command's output (a test or a
#: library caller may put its own in).
announce: Callable[[Path], None] = _say


@dataclass(frozen=True)
class Backup:
    """A checked copy of the record."""

    path: Path
    size: int
    schema_version: int

    def to_json(self) -> dict[str, object]:
        return {"path": str(self.path), "size": self.size,
                "schema_version": self.schema_version}


def backup_name(when: datetime, reason: str) -> str:
    """``qaudit-20261126T104200Z-redraw.db``: UTC, no ':' (Windows refuses it), sorted by
    time when listed by name."""
    return f"qaudit-{when.astimezone(UTC):%Y%m%dT%H%M%SZ}-{reason}.db"


def backup_folder(db_path: Path) -> Path:
    """``<workspace>/backups``: beside the database, so it travels with the workspace."""
    return db_path.parent / FOLDER


def schema_version(conn: Connection) -> int:
    """The highest migration applied; 0 where there is no migrations table."""
    try:
        row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0] or 0)


def copy_to(conn: Connection, dest: Path) -> Backup:
    """Copy the database ``conn`` has open to ``dest`` (which must not exist), checked,
    atomically: nothing at ``dest`` unless the whole, checked copy is there."""
    if dest.exists() or dest.is_symlink():
        raise QauditError(f"{dest} already exists; a backup never overwrites a file. Give"
                          " another --to, or move that file away.")
    if not dest.parent.is_dir():
        raise QauditError(f"the folder {dest.parent} does not exist; make it first or give"
                          " another --to.")
    if not writable(dest.parent):
        raise QauditError(f"the folder {dest.parent} cannot be written (no permission);"
                          " nothing was changed. Give another --to.")
    temp = dest.with_name(f".{dest.name}.part-{os.getpid()}")
    try:
        with closing(sqlite3.connect(temp, isolation_level=None)) as copy:
            if isinstance(conn, sqlite3.Connection):
                conn.backup(copy)
            else:  # a PostgreSQL record: copied row by row, each table proved
                transfer.copy_record(conn, copy)
            version = _check(copy, temp)
        os.chmod(temp, 0o600)  # the record holds personal data
        if dest.exists():
            raise QauditError(f"{dest} appeared while the backup was made; nothing was"
                              " overwritten. Run it again with another --to.")
        os.replace(temp, dest)
    except (OSError, sqlite3.Error) as exc:
        raise QauditError(
            f"the backup to {dest} could not be made ({exc}); nothing was changed. Check"
            " that the folder can be written and has space, then run it again.") from exc
    finally:
        with suppress(OSError):
            temp.unlink()
    live = schema_version(conn)
    if version != live:
        raise QauditError(f"the backup {dest} has schema {version}, the record {live}; do"
                          " not rely on it. Run the backup again.")
    return Backup(dest, dest.stat().st_size, version)


def writable(folder: Path) -> bool:
    """Whether this user may make files in ``folder`` (said before SQLite would fail)."""
    return os.access(folder, os.W_OK)


def _check(copy: sqlite3.Connection, path: Path) -> int:
    result = copy.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise QauditError(f"the copy {path} failed SQLite's integrity check ({result});"
                          " nothing was kept. Run the backup again.")
    return schema_version(copy)


def make(conn: Connection, db_path: Path, reason: str) -> Backup:
    """A backup into ``<workspace>/backups``, made when missing."""
    return make_in(conn, backup_folder(db_path), reason)


def make_in(conn: Connection, folder: Path, reason: str,
            when: datetime | None = None) -> Backup:
    """A backup into ``folder`` under a name of its own (a second one in the same second
    gets ``-2``)."""
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise QauditError(f"the backups folder {folder} cannot be made ({exc}); nothing"
                          " was changed. Check that the workspace can be written.") from exc
    name = backup_name(when or datetime.now(UTC), reason)
    dest, n = folder / name, 1
    while dest.exists():
        n += 1
        dest = folder / name.replace(".db", f"-{n}.db")
    return copy_to(conn, dest)


def before(conn: Connection, db_path: Path, reason: str) -> Backup:
    """The automatic backup before a change: made (or the change refused), the oldest of
    this reason beyond ``KEEP`` removed, and the command told (``announce``)."""
    try:
        made = make(conn, db_path, reason)
    except QauditError as exc:
        raise QauditError(f"{exc} qaudit backs up the record before a {reason}, and did"
                          f" not go on without one: nothing was changed.") from exc
    prune(backup_folder(db_path), reason, KEEP)
    announce(made.path)
    return made


def prune(folder: Path, reason: str, keep: int) -> list[Path]:
    """Remove the oldest automatic backups of one reason beyond ``keep``; the removed."""
    mine = sorted(p for p in folder.glob(f"qaudit-*Z-{reason}*.db")
                  if _reason_of(p.name) == reason)
    gone = mine[:-keep] if keep else mine
    for path in gone:
        with suppress(OSError):
            path.unlink()
    return gone


def _reason_of(name: str) -> str:
    """``redraw`` of ``qaudit-20261126T104200Z-redraw-2.db``."""
    rest = name.removesuffix(".db").split("Z-", 1)[-1]
    head, _, tail = rest.rpartition("-")
    return head if head and tail.isdigit() else rest


def check_restorable(path: Path) -> int:
    """The schema version of a file that is a whole qaudit database this qaudit can read;
    otherwise a clear refusal."""
    if not path.is_file():
        raise QauditError(f"{path} is not a file; give the backup to restore.")
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = schema_version(conn)
    except sqlite3.Error as exc:
        raise QauditError(f"{path} is not a qaudit database ({exc}); nothing was"
                          " restored.") from exc
    if result != "ok":
        raise QauditError(f"{path} failed SQLite's integrity check ({result}); nothing"
                          " was restored. Try an older backup.")
    if not {"schema_migrations", "workspace"} <= tables or version == 0:
        raise QauditError(f"{path} is an SQLite database but not a qaudit record; nothing"
                          " was restored.")
    if version > SCHEMA_VERSION:
        raise QauditError(f"{path} was written by a newer qaudit (schema {version}; this"
                          f" one reads up to {SCHEMA_VERSION}); upgrade qaudit first.")
    return version


def keep_current(db_path: Path) -> Path | None:
    """Back up the live database before it is replaced (``before-restore``); a file that
    SQLite cannot read is kept as it is, byte for byte (restoring is how a damaged record
    is mended). None where there is no record to keep."""
    if not db_path.exists() or db_path.stat().st_size == 0:
        return None
    try:
        with closing(sqlite3.connect(db_path)) as conn:
            return make(conn, db_path, "before-restore").path
    except QauditError:
        pass  # damaged: kept whole below
    dest = backup_folder(db_path) / backup_name(datetime.now(UTC), "before-restore-damaged")
    try:
        shutil.copyfile(db_path, dest)
    except OSError as exc:
        raise QauditError(f"the current record could not be kept at {dest} ({exc});"
                          " nothing was restored.") from exc
    return dest


def replace_with(source: Path, db_path: Path) -> None:
    """Put a checked copy of ``source`` in place of the live database in one rename."""
    temp = db_path.with_name(f".{db_path.name}.restore-{os.getpid()}")
    try:
        with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src, \
                closing(sqlite3.connect(temp)) as copy:
            src.backup(copy)
            _check(copy, temp)
        os.chmod(temp, 0o600)
        os.replace(temp, db_path)
    except (OSError, sqlite3.Error) as exc:
        raise QauditError(f"{source} could not be put in place ({exc}); the record is as it"
                          " was.") from exc
    finally:
        with suppress(OSError):
            temp.unlink()
