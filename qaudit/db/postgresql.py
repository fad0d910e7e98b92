"""A workspace whose record is in PostgreSQL (``[database] url``): connecting, checking the
database can hold the record exactly as SQLite does, and naming it in messages.

The password never comes from ``qaudit.toml`` (the settings refuse one): libpq reads it
from ``PGPASSWORD`` or the officer's password file (``~/.pgpass``, on Windows
``%APPDATA%\\postgresql\\pgpass.conf``), as every PostgreSQL program does.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from qaudit.db.dialect import PgConnection, tables_with_id
from qaudit.db.schema import MIGRATIONS
from qaudit.errors import WorkspaceError

#: Collations that order text by code point, as SQLite does: the same sort everywhere.
CODE_POINT_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8", "ucs_basic"})

_WITH_ID = tables_with_id([sql for _, _, sql in MIGRATIONS])


def display(url: str) -> str:
    """``user@host:port/db``: how a message names the database (never a password)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"postgresql://{user}{host}{port}{parts.path or '/'}"


def connect(url: str, lock_seconds: int) -> PgConnection:
    return PgConnection.connect(url, lock_seconds, _WITH_ID)


def check_database(conn: PgConnection, where: str) -> None:
    """Refuse a database whose text would sort or compare differently from SQLite's (a
    report's order, a name's uniqueness): UTF-8, ordered by code point."""
    encoding, collation = conn.execute(
        "SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database"
        " WHERE datname = current_database()").fetchone()
    if encoding != "UTF8" or collation not in CODE_POINT_COLLATIONS:
        raise WorkspaceError(
            f"the PostgreSQL database {where} is {encoding} with collation {collation}; qaudit"
            " needs UTF-8 ordered by code point, so that reports sort as they do everywhere."
            " Ask for it to be made with: createdb --template=template0 --encoding=UTF8"
            " --locale=C <name> (docs/team.md).")


def tables(conn: PgConnection) -> set[str]:
    """The tables of the database's own schema (``public``, or the first on its path)."""
    return {name for (name,) in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema ="
        " current_schema() AND table_type = 'BASE TABLE'").fetchall()}


def check_empty(conn: PgConnection, where: str, advice: str) -> None:
    """Refuse a database that holds tables already: a record goes only into an empty one."""
    found = tables(conn)
    if found:
        raise WorkspaceError(
            f"the PostgreSQL database {where} is not empty ({len(found)} tables, such as"
            f" {sorted(found)[0]}); {advice}")


def unreachable(where: str, exc: Exception) -> str:
    return (f"the PostgreSQL database {where} cannot be reached ({exc}). Check the server is"
            " running and the [database] url in qaudit.toml; the password goes in PGPASSWORD"
            " or your pgpass file, never in qaudit.toml. Nothing was changed.")
