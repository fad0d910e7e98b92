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

from qaudit.db import backup, holders, postgresql
from qaudit.db.assignments import Assignments
from qaudit.db.deepdives import DeepDives
from qaudit.db.dialect import SQLITE, Connection, dialect_of
from qaudit.db.draws import Draws
from qaudit.db.files import IssuedFiles
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


#: ``PRAGMA user_version`` of a SQLite record moved to PostgreSQL (``qaudit db move-to``):
#: a command that opened it before the move refuses to store anything in it.
MOVED = 0x6D6F7665


def moved_message(path: Path) -> str:
    return (f"{path} was moved to PostgreSQL (`qaudit db move-to`) and is no longer the"
            " workspace's record, so nothing was stored in it. Run the command again: it"
            " uses the record where qaudit.toml's [database] url says.")


def busy_message(path: Path, where: str = "") -> str:
    """``path`` places the "in use by" notes; ``where`` names a PostgreSQL record."""
    who = holders.in_use_by(path)
    by = (f"it is {who}" if who else
          "another qaudit command (or a program holding the file open) is using it")
    return (f"the workspace database {where or path} is busy: {by}, and it stayed busy for"
            f" {BUSY_SECONDS} seconds. Try again in a moment; nothing was changed.")


class Store:
    """One open workspace database."""

    def __init__(self, conn: Connection, path: Path, actor: str = "", url: str = "") -> None:
        self.conn = conn
        self.path = path
        self.url = url  # the PostgreSQL database, or "" for the SQLite file at ``path``
        self.dialect = dialect_of(conn)
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
        self.files = IssuedFiles(self)

    @classmethod
    def open(cls, path: Path, create: bool = False, actor: str = "", url: str = "") -> Self:
        """The workspace's record: the SQLite file at ``path``, or with ``url`` the
        PostgreSQL database there (``path`` then only places the "in use by" notes)."""
        if url:
            return cls._open_postgresql(path, url, actor)
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
            if conn.execute("PRAGMA user_version").fetchone()[0] == MOVED:
                conn.close()
                raise WorkspaceError(moved_message(path))
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

    @classmethod
    def refuse_a_record_in(cls, url: str, path: Path) -> None:
        """A new workspace starts with an empty database: one that holds a record already
        belongs to another workspace folder, whose forms and outbox would go astray."""
        where = postgresql.display(url)
        try:
            conn = postgresql.connect(url, BUSY_SECONDS)
        except sqlite3.Error as exc:
            raise WorkspaceError(postgresql.unreachable(where, exc)) from exc
        try:
            postgresql.check_empty(conn, where, "a new workspace needs an empty database; to"
                                   " use a record already there, open the workspace folder"
                                   " that uses it.")
        finally:
            conn.close()

    @classmethod
    def _open_postgresql(cls, path: Path, url: str, actor: str) -> Self:
        where = postgresql.display(url)
        conn = None
        try:
            conn = postgresql.connect(url, BUSY_SECONDS)
            postgresql.check_database(conn, where)
            store = cls(conn, path, actor, url=url)
            store._migrate()
            store._note = holders.enter(path, actor)
        except sqlite3.OperationalError as exc:
            if conn is not None:
                conn.close()
            if "locked" in str(exc):
                raise WorkspaceError(busy_message(path, where)) from exc
            raise WorkspaceError(postgresql.unreachable(where, exc)) from exc
        except (sqlite3.DatabaseError, WorkspaceError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, WorkspaceError):
                raise
            raise WorkspaceError(
                f"the PostgreSQL database {where} could not be used as qaudit's record ({exc})."
                " Check it is the workspace's database; a new one must be empty."
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
    def transaction(self) -> Iterator[Connection]:
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
                where = self.where if self.url else ""
                raise WorkspaceError(busy_message(self.path, where)) from exc
            raise
        self._depth = 1
        if self.dialect == SQLITE and self.conn.execute(
                "PRAGMA user_version").fetchone()[0] == MOVED:
            self.conn.execute("ROLLBACK")
            self._depth = 0
            raise WorkspaceError(moved_message(self.path))
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
        applied = self._applied()
        if applied and max(applied) > SCHEMA_VERSION:
            raise WorkspaceError(
                f"{self.where} was written by a newer qaudit (schema {max(applied)}); upgrade"
                " qaudit to use this workspace."
            )
        if applied and any(v not in applied for v, _, _ in MIGRATIONS):
            # An existing record about to change shape: keep it as it was first.
            backup.before(self.conn, self.path, "migration")
        for version, name, sql in MIGRATIONS:
            if version in applied:
                continue
            with self.transaction() as conn:
                if version in self._applied():
                    continue  # another officer's command applied it while this one waited
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, now())
                )

    def _applied(self) -> set[int]:
        return {int(r[0]) for r in self.conn.execute("SELECT version FROM schema_migrations")}

    @property
    def where(self) -> str:
        """The record as a person would name it: the file, or the PostgreSQL database
        (without any password)."""
        return postgresql.display(self.url) if self.url else str(self.path)

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
