"""A whole record copied from one database to another, and the copy proved.

``qaudit db move-to`` copies a workspace's SQLite record into an empty PostgreSQL
database; a backup of a PostgreSQL record is the same copy the other way, into a new
SQLite file. Either way the target gets the schema from the same numbered migrations,
then every row of every table, ids (and SQLite's rowid, where PostgreSQL keeps it as a
column) included, all in one transaction; and before that transaction commits, each
table's row count and content hash (SHA-256 over its rows, in a canonical order and form)
must be the same on both sides, or nothing is kept.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from qaudit.db.dialect import POSTGRESQL, Connection, dialect_of, implicit_rowid
from qaudit.db.schema import MIGRATIONS, SCHEMA_VERSION
from qaudit.errors import QauditError

MIGRATIONS_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations"
                    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")

def tables_at(version: int) -> tuple[str, ...]:
    """Every table of a record at schema ``version``, in the order the migrations make
    them: the rows a row refers to are copied first."""
    return ("schema_migrations", *(m[1] for v, _, sql in MIGRATIONS if v <= version
                                   for m in re.finditer(r"CREATE TABLE (\w+)", sql)))


TABLES = tables_at(SCHEMA_VERSION)

#: Tables whose SQLite rowid is a column of its own (``dialect.implicit_rowid``): the
#: order their rows were written in, copied too.
ROWID_TABLES = frozenset(
    statement.split("(", 1)[0].split()[-1] for _, _, sql in MIGRATIONS
    for statement in sql.split(";") if implicit_rowid(statement))


@dataclass(frozen=True)
class TableCheck:
    """One table's rows on both sides: their number and a hash of their content."""

    table: str
    rows: int
    sha256: str


@contextmanager
def _transaction(conn: Connection, read_only: bool = False) -> Iterator[None]:
    """One transaction on ``conn``: a snapshot that does not move while it is read, or a
    write that holds the record's write lock. Inside a caller's own transaction (a move
    holds the SQLite record until the workspace points at its copy), that one."""
    if conn.in_transaction:
        yield
        return
    if read_only and dialect_of(conn) == POSTGRESQL:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    else:
        conn.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def columns(conn: Connection, table: str) -> list[str]:
    """The columns both databases give ``table`` (SQLite's own definition, by name)."""
    if dialect_of(conn) == POSTGRESQL:
        names = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = ? AND column_name != 'rowid'"
            " ORDER BY ordinal_position", (table,)).fetchall()]
    else:
        names = [r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()]
    return (["rowid"] if table in ROWID_TABLES else []) + names


def _rows(conn: Connection, table: str, names: list[str]) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(
        f"SELECT {', '.join(names)} FROM {table}").fetchall()]


def _canonical(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return {"float": value.hex()}
    return value


def check(table: str, rows: list[tuple[Any, ...]]) -> TableCheck:
    """Rows as a count and a hash that does not depend on the order they were read in."""
    lines = sorted(json.dumps([_canonical(v) for v in row], ensure_ascii=False)
                   for row in rows)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return TableCheck(table, len(rows), digest)


def checks(conn: Connection) -> list[TableCheck]:
    """Every table's count and hash, read in one snapshot."""
    with _transaction(conn, read_only=True):
        return [check(t, _rows(conn, t, columns(conn, t)))
                for t in tables_at(schema_version(conn))]


def schema_version(conn: Connection) -> int:
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def copy_record(source: Connection, target: Connection, *, replace: bool = False
                ) -> list[TableCheck]:
    """Make the record's schema in the empty ``target`` (with ``replace``, a record of the
    same schema already there, whose rows are all taken out) and copy every row of
    ``source`` into it, in one transaction that commits only if every table's count and
    hash are the same on both sides. ``source`` is read in one snapshot and never written;
    the copy has its schema (a record not yet brought up to date is copied as it is)."""
    with _transaction(source, read_only=True):
        version = schema_version(source)
        if version > SCHEMA_VERSION:
            raise QauditError(f"the record was written by a newer qaudit (schema {version});"
                              " upgrade qaudit first.")
        tables = tables_at(version)
        names = {t: columns(source, t) for t in tables}
        data = {t: _rows(source, t, names[t]) for t in tables}
    expected = [check(t, data[t]) for t in tables]
    with _transaction(target):
        if not replace:
            _make_schema(target, version)
        elif schema_version(target) != version:
            raise QauditError(f"the record is at schema {schema_version(target)}, the copy"
                              f" at {version}; nothing was changed.")
        for table in reversed(tables):  # what the migrations put in (a new workspace id)
            target.execute(f"DELETE FROM {table}")
        for table in tables:
            if data[table]:
                marks = ", ".join("?" for _ in names[table])
                target.executemany(
                    f"INSERT INTO {table} ({', '.join(names[table])}) VALUES ({marks})",
                    data[table])
        if dialect_of(target) == POSTGRESQL:
            _advance_identities(target)
        found = [check(t, _rows(target, t, columns(target, t))) for t in tables]
        differ = [f"{e.table} ({e.rows} rows, {f.rows} copied)"
                  for e, f in zip(expected, found, strict=True) if e != f]
        if differ:
            raise QauditError(
                "the copy does not match the record, so nothing was kept: "
                + "; ".join(differ) + ". Run it again; if it says so again, report it.")
    return found


def _make_schema(conn: Connection, version: int) -> None:
    conn.execute(MIGRATIONS_TABLE)
    for _, _, sql in (m for m in MIGRATIONS if m[0] <= version):
        for statement in sql.split(";"):
            if statement.strip():
                conn.execute(statement)


def _advance_identities(conn: Connection) -> None:
    """PostgreSQL's identity columns start after the ids copied in, as SQLite's would."""
    for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE"
            " table_schema = current_schema() AND is_identity = 'YES'").fetchall():
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
            f" COALESCE((SELECT max({column}) FROM {table}), 0) + 1, false)")


def drop_record(conn: Connection) -> None:
    """Take a record's tables and views out of a database again (a move that could not
    finish), so that it is empty, as it was."""
    views = [m[1] for _, _, sql in MIGRATIONS for m in re.finditer(r"CREATE VIEW (\w+)", sql)]
    for view in dict.fromkeys(views):
        conn.execute(f"DROP VIEW IF EXISTS {view}")
    for table in reversed(TABLES):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
