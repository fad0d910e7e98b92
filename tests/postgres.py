"""A throwaway PostgreSQL server for the tests: Debian's ``postgresql`` package (``.ci/run``
installs it), started by the tests in a temporary folder on a free local port, one per test
process, and stopped at the end. Each test that asks gets its own new, empty database.

As root (CI), the server runs as the ``postgres`` user the package makes: PostgreSQL
refuses to run as root. Without the programs, the tests that need a server are skipped,
and say why.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                      key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


BIN = _bin_dir()
needs_postgresql = pytest.mark.skipif(
    BIN is None, reason="PostgreSQL is not installed (Debian package postgresql;"
    " .ci/run installs it): the PostgreSQL backend tests cannot run")


def _as_server_user() -> list[str]:
    """PostgreSQL will not run as root: as root, run its programs as ``postgres``."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
    return [runuser, "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    port: int
    folder: Path
    _numbers: Iterator[int]

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new empty database (UTF-8, ordered by code point), and its address."""
        name = f"qa_{os.getpid()}_{next(self._numbers)}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"
                 " LC_COLLATE 'C' LC_CTYPE 'C'")
        return self.url(name)

    def copy_database(self, url: str) -> str:
        """A new database holding what the one at ``url`` holds."""
        name = f"qa_{os.getpid()}_{next(self._numbers)}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE {url.rsplit('/', 1)[1]}")
        return self.url(name)

    def database_bytes(self, url: str) -> bytes:
        """The files the database at ``url`` is kept in, after a checkpoint has written out
        every change: what a disk would give someone who took it."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            row = conn.execute("SELECT oid FROM pg_database WHERE datname = %s",
                               (name,)).fetchone()
        assert row is not None
        folder = self.folder / "data" / "base" / str(row[0])
        return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]


_SHARED: list[Server] = []


def shared_server() -> Server:
    """This test process's server, started on first use and stopped when it exits: for
    workspaces made outside a fixture (``conftest.init_workspace``)."""
    if not _SHARED:
        servers = _server()
        _SHARED.append(next(servers))
        atexit.register(lambda: next(servers, None))
    return _SHARED[0]


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[Server]:
    if _SHARED:
        yield _SHARED[0]
        return
    yield from _server()


def _server() -> Iterator[Server]:
    if BIN is None:
        pytest.skip(needs_postgresql.kwargs["reason"])
    prefix = _as_server_user()
    folder = Path(tempfile.mkdtemp(prefix="qaudit-pg-"))
    data = folder / "data"
    if prefix:
        shutil.chown(folder, "postgres", "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True}
    try:
        subprocess.run([*prefix, str(BIN / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"], **run)
        subprocess.run([*prefix, str(BIN / "pg_ctl"), "-D", str(data), "-l",
                        str(folder / "server.log"), "-w", "-t", "60", "-o",
                        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
                        " -c synchronous_commit=off -c full_page_writes=off", "start"], **run)
    except subprocess.CalledProcessError as exc:
        log = folder / "server.log"
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {exc.stderr or exc.stdout}"
                    f"{log.read_text() if log.exists() else ''}")
    try:
        yield Server(port, folder, count(1))
    finally:
        subprocess.run([*prefix, str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], capture_output=True)
        for _ in range(10):  # a server process may still be letting go of its files
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                break
            time.sleep(0.5)


@pytest.fixture
def postgresql_url(postgresql_server: Server) -> str:
    """The address of a new, empty database of its own for this test."""
    return postgresql_server.new_database()
