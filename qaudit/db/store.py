"""The open workspace database: connection, migrations, transactions and the event log.

A ``Store`` holds one SQLite connection and the record's parts, one per concern:
``store.draws`` (cycles, draws, allocations), ``store.returns`` (returns, RI follow-up,
escalations), ``store.moderation`` (samples and outcomes) and ``store.reporting``
(read-only queries for status, reports and the analysts' export), ``store.people`` (the
staff list and feedback conversations), ``store.assignments`` (the auditors Service
Managers named) and ``store.messages`` (what was drafted or sent).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from qaudit.db import backup, holders
from qaudit.db.assignments import Assignments
from qaudit.db.deepdives import DeepDives
from qaudit.db.draws import Draws
from qaudit.db.mail import Messages
from qaudit.db.moderation import ModerationRecords
from qaudit.db.people import People
from qaudit.db.plan import Plans
from qaudit.db.reaudits import Reaudits
from qaudit.db.reporting import Reporting
from qaudit.db.returns import Returns
from qaudit.db.schema import MIGRATIONS, SCHEMA_VERSION, now
from qaudit.db.workshops import Workshops
from qaudit.errors import StorageError, WorkspaceError

#: How long a command waits for another officer's command to finish with the database
#: (QAUDIT_BUSY_SECONDS overrides it).
BUSY_SECONDS = int(os.environ.get("QAUDIT_BUSY_SECONDS", "15") or 15)


def busy_message(path: Path) -> str:
    who = holders.in_use_by(path)
    by = (f"it is {who}" if who else
          "another qaudit command (or a program holding the file open) is using it")
    return (f"the workspace database {path} is busy: {by}, and it stayed busy for"
            f" {BUSY_SECONDS} seconds. Try again in a moment; nothing was changed.")


class Store:
    """One open workspace database."""

    def __init__(self, conn: sqlite3.Connection, path: Path, actor: str = "") -> None:
        self.conn = conn
        self.path = path
        self.actor = actor  # who is at the keyboard: every event records it
        self._depth = 0
        self._note: Path | None = None  # this command's "in use by" note (db.holders)
        self.draws = Draws(self)
        self.returns = Returns(self)
        self.moderation = ModerationRecords(self)
        self.reporting = Reporting(self)
        self.people = People(self)
        self.assignments = Assignments(self)
        self.messages = Messages(self)
        self.plan = Plans(self)
        self.deep_dives = DeepDives(self)
        self.reaudits = Reaudits(self)
        self.workshops = Workshops(self)

    @classmethod
    def open(cls, path: Path, create: bool = False, actor: str = "") -> Self:
        if not create and not path.exists():
            raise WorkspaceError(
                f"the workspace database {path} is missing. Restore it from a backup; only a"
                " new workspace starts without one (`qaudit init` in a new folder)."
            )
        if not create and path.stat().st_size == 0:
            # sqlite would quietly make a new, empty database here, with a new workspace id:
            # every form issued so far would then look foreign.
            raise WorkspaceError(
                f"the workspace database {path} is empty (0 bytes): the record is gone from"
                " this file. Restore it from a backup; do not run `qaudit init` over it."
            )
        if create and not path.exists():
            # The record holds personal data: readable by its owner only, whatever the
            # umask of the process that makes it (``cli.main`` sets 077; a library caller
            # may not have).
            path.touch(mode=0o600)
            os.chmod(path, 0o600)
        conn = None
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_SECONDS)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
            conn.execute("PRAGMA journal_mode = DELETE")  # never WAL: unsafe on a share
            conn.execute("PRAGMA foreign_keys = ON")
            store = cls(conn, path, actor)
            store._migrate()
            store._note = holders.enter(path, actor)
        except sqlite3.OperationalError as exc:
            if conn is not None:
                conn.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise WorkspaceError(busy_message(path)) from exc
            raise WorkspaceError(
                f"{path} cannot be opened ({exc}). Check the folder is reachable and that"
                " you may write to it; if the file is damaged, restore it from a backup."
            ) from exc
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise WorkspaceError(
                f"{path} is not a qaudit database ({exc}). Restore it from a backup; never"
                " replace it with a new one, which would make every issued form foreign."
            ) from exc
        return store

    def close(self) -> None:
        self.conn.close()
        holders.leave(self._note)
        self._note = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: all of it is stored, or none of it.

        Nested use joins the outer transaction, so a job can make files and rows succeed
        or fail together (``with store.transaction(): write files; store rows``). A nested
        block is a savepoint: if it raises, its own rows are undone and the outer
        transaction goes on without them (ingest stores many files a commit, each whole
        or not at all). An error that ended the whole transaction (a full disk) leaves
        :attr:`in_transaction` false, and the outer commit then fails as it should.
        """
        if self._depth:
            savepoint = f"nested_{self._depth}"
            self.conn.execute(f"SAVEPOINT {savepoint}")
            self._depth += 1
            try:
                yield self.conn
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    self.conn.execute(f"ROLLBACK TO {savepoint}")
                    self.conn.execute(f"RELEASE {savepoint}")
                if isinstance(exc, sqlite3.OperationalError):
                    raise _storage_error(exc) from exc
                raise
            else:
                self.conn.execute(f"RELEASE {savepoint}")
            finally:
                self._depth -= 1
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise WorkspaceError(busy_message(self.path)) from exc
            raise
        self._depth = 1
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            # A failed write (a full disk, say) may already have ended the transaction;
            # the error that matters is the first one, never "cannot rollback".
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise _storage_error(exc) from exc
            raise
        finally:
            self._depth = 0

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open: false inside a ``transaction()`` block once an
        error has ended it."""
        return self.conn.in_transaction

    def _migrate(self) -> None:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        applied = {r[0] for r in self.conn.execute("SELECT version FROM schema_migrations")}
        if applied and max(applied) > SCHEMA_VERSION:
            raise WorkspaceError(
                f"{self.path} was written by a newer qaudit (schema {max(applied)}); upgrade"
                " qaudit to use this workspace."
            )
        if applied and any(v not in applied for v, _, _ in MIGRATIONS):
            # An existing record about to change shape: keep it as it was first.
            backup.before(self.conn, self.path, "migration")
        for version, name, sql in MIGRATIONS:
            if version in applied:
                continue
            with self.transaction() as conn:
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, now())
                )

    def workspace_id(self) -> str:
        """A random id made with the database: forms carry it, so a form from another
        workspace is recognised as foreign."""
        return str(self.conn.execute("SELECT id FROM workspace").fetchone()[0])

    def signing_key(self) -> bytes:
        """The workspace's secret for signing what forms say about themselves; it never
        leaves the database."""
        return bytes.fromhex(str(self.conn.execute(
            "SELECT signing_key FROM workspace").fetchone()[0]))

    def log(self, cycle_id: int | None, kind: str, detail: dict[str, Any],
            reference: str | None = None) -> None:
        """Record an event in the history (who, when, what), inside the caller's transaction."""
        self.conn.execute(
            "INSERT INTO events (at, cycle_id, kind, detail_json, actor, reference)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (now(), cycle_id, kind, json.dumps(detail, ensure_ascii=False), self.actor,
             reference),
        )

    def events(self, cycle: str | None, reference: str | None) -> list[Event]:
        """The history, oldest first: of one cycle, one allocation, or everything."""
        cycle = None if cycle is None else self.draws.stored_name(cycle)
        rows = self.conn.execute(
            "SELECT e.at, e.actor, e.kind, c.name, e.reference, e.detail_json FROM events e"
            " LEFT JOIN cycles c ON c.id = e.cycle_id"
            " WHERE (? IS NULL OR c.name = ? OR e.reference IN"
            "   (SELECT reference FROM allocations a JOIN draws d ON d.id = a.draw_id"
            "    JOIN cycles k ON k.id = d.cycle_id WHERE k.name = ?))"
            " AND (? IS NULL OR e.reference = ?) ORDER BY e.id",
            (cycle, cycle, cycle, reference, reference),
        )
        return [Event(at, actor, kind, name, ref, json.loads(detail))
                for at, actor, kind, name, ref, detail in rows]


@dataclass(frozen=True)
class Event:
    """One line of the history."""

    at: str
    actor: str
    kind: str
    cycle: str | None
    reference: str | None
    detail: dict[str, Any]


def _storage_error(exc: sqlite3.OperationalError) -> StorageError:
    return StorageError(
        f"the workspace database could not be written ({exc}); nothing of this was stored."
        " Free some disk space or check the share, then run it again."
    )
