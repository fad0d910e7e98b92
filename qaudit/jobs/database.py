"""Moving a workspace's record from its SQLite file into a team's PostgreSQL database.

``qaudit db move-to URL`` copies the whole record into an empty PostgreSQL database and
proves the copy (every table's row count and content hash, ``db.transfer``) before it
points the workspace at it (``[database] url`` in ``qaudit.toml``). The SQLite file is
held while the move runs, so no officer's command can store anything in it that the copy
would miss; its rows stay as they were, and it is marked as moved (``store.MOVED``), so a
command that opened it before the move refuses to store anything there afterwards.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from pydantic import ValidationError

from qaudit.db import Store, holders, postgresql, transfer
from qaudit.db.dialect import Connection, PgConnection
from qaudit.db.store import MOVED
from qaudit.db.transfer import TableCheck
from qaudit.errors import QauditError, WorkspaceError
from qaudit.files import write_text
from qaudit.workspace import CONFIG_NAME, Workspace


@dataclass(frozen=True)
class Moved:
    """The record as it now is in PostgreSQL, table by table."""

    where: str
    tables: list[TableCheck]

    def to_json(self) -> dict[str, object]:
        return {"database": self.where, "tables": [
            {"table": t.table, "rows": t.rows, "sha256": t.sha256} for t in self.tables]}


def checked_url(url: str) -> str:
    """The address as ``[database] url`` accepts it, or the reason it does not."""
    from qaudit.config import DatabaseSettings

    try:
        return DatabaseSettings(url=url).url
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise QauditError(f"that address cannot be used: {reason}.") from None  # no echo


def move_to(ws: Workspace, url: str) -> Moved:
    """Copy the SQLite record into the empty database at ``url``, verify it, then make
    it the workspace's record. Nothing is changed unless every table matches."""
    url = checked_url(url)
    if ws.settings.database.url:
        raise QauditError(
            "the workspace's record is in PostgreSQL already"
            f" ({postgresql.display(ws.settings.database.url)}); nothing was moved.")
    who = holders.in_use_by(ws.db_path)
    if who:
        raise QauditError(f"the workspace is {who}; nothing was moved. Move it when their"
                          " command has finished (a move holds the record while it runs).")
    where = postgresql.display(url)
    with ws.store() as store:
        target = _empty_database(url, where)
        try:
            store.conn.execute("BEGIN IMMEDIATE")  # held until the workspace points there
            try:
                tables = _copy(store.conn, target, where)
                _point_at(ws, url, target)
                store.conn.execute(f"PRAGMA user_version = {MOVED}")  # its writers refuse
                store.conn.execute("COMMIT")
            finally:
                if store.conn.in_transaction:
                    store.conn.execute("ROLLBACK")
            with Store.open(ws.db_path, actor=ws.actor, url=url) as moved:
                moved.log(None, "record_moved", {"to": where, "tables": len(tables),
                                                 "rows": sum(t.rows for t in tables)})
        finally:
            target.close()
    return Moved(where, tables)


def _copy(source: Connection, target: PgConnection, where: str) -> list[TableCheck]:
    """The copy, or one message naming the database when PostgreSQL refuses it (a login
    that may not create tables, say): nothing of it is kept."""
    try:
        return transfer.copy_record(source, target)
    except sqlite3.Error as exc:
        raise WorkspaceError(
            f"PostgreSQL refused the copy into {where} ({exc}); nothing was moved. If it is"
            " a permission, ask for the database to be owned by your login (or for CREATE"
            " on its schema), then run it again.") from exc


def _empty_database(url: str, where: str) -> PgConnection:
    try:
        conn = postgresql.connect(url, 15)
    except sqlite3.Error as exc:
        raise WorkspaceError(postgresql.unreachable(where, exc)) from exc
    try:
        postgresql.check_database(conn, where)
        postgresql.check_empty(conn, where, "a record is moved only into an empty database,"
                               " so nothing was moved. Ask for a new one (docs/team.md).")
    except BaseException:
        conn.close()
        raise
    return conn


def _point_at(ws: Workspace, url: str, target: PgConnection) -> None:
    """``[database] url`` in qaudit.toml, every other line and comment kept. If it cannot
    be written, the copy is taken out of the database again, so a second run finds it
    empty and nothing is half moved."""
    import tomlkit

    path = ws.root / CONFIG_NAME
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
        if "database" not in document:
            document.add(tomlkit.nl())
            document.add("database", tomlkit.table())
        document["database"]["url"] = url
        write_text(path, tomlkit.dumps(document))
    except (OSError, ValueError) as exc:
        transfer.drop_record(target)
        raise WorkspaceError(
            f"the record was copied, but {path} could not be written ({exc}), so the copy"
            " was taken out of the database again and nothing was moved. Free the file (or"
            " the disk), then run it again.") from exc
