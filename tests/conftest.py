"""Shared fixtures: workspaces, the CLI run in-process, stable terminal width, and every
store a test opens closed at its end.

The tests are in three folders by kind: ``core/`` (pure, fast), ``workbooks/`` (reading and
writing files) and ``commands/`` (the CLI end to end). ``tests/`` and ``examples/`` are on
``sys.path`` through the ``pythonpath`` setting in pyproject.toml, so tests import these
helpers with ``from conftest import ...`` and the example form-filler with
``import fill_forms``."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from qaudit import cli
from qaudit.db import Store
from qaudit.db.dialect import Connection
from qaudit.workspace import Workspace, open_workspace
from qaudit.workspace import init_workspace as _init_workspace

#: The PostgreSQL server fixtures (``postgresql_server``, ``postgresql_url``).
pytest_plugins = ["postgres"]

#: The database every workspace a test makes keeps its record in: "sqlite" (the default),
#: or "postgresql" (``make test`` runs the workflow tests a second time so, against a
#: throwaway server: tests/postgres.py).
BACKEND = os.environ.get("QAUDIT_TEST_BACKEND", "sqlite")

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
EXAMPLES = REPO / "examples"
FIXTURES = TESTS / "fixtures" / "exports"
GOLDEN = TESTS / "golden"
EXAMPLE_EXPORT = EXAMPLES / "case-export.xlsx"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true",
                     help="rewrite the golden files under tests/golden/ from this run")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def _stable_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide, colourless consoles so assertions on output are stable."""
    monkeypatch.delenv("QAUDIT_WORKSPACE", raising=False)
    for console in (cli.out, cli.err):
        monkeypatch.setattr(console, "_width", 200)
        monkeypatch.setattr(console, "_color_system", None)


@pytest.fixture(autouse=True)
def _close_stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Store]]:
    """Close every store opened during the test (``ws.store()`` and the commands' own), so
    no SQLite connection outlives its test, whether or not the test closed it."""
    opened: list[Store] = []
    open_store = Store.open.__func__  # type: ignore[attr-defined]

    def open_and_remember(cls: type[Store], *args: Any, **kwargs: Any) -> Store:
        store: Store = open_store(cls, *args, **kwargs)
        opened.append(store)
        return store

    monkeypatch.setattr(Store, "open", classmethod(open_and_remember))
    yield opened
    for store in opened:
        store.close()  # closing a closed store does nothing


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``qaudit ARGS...`` in this process and capture what it prints."""

    def _run(*args: str | Path) -> Result:
        try:
            cli.main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


def pytest_report_header() -> str:
    return f"qaudit backend: {BACKEND}"


#: Tests about files, messages and programs alone, whichever database holds the record
#: (the wheel, the help, the terminal, a report's formats and accessibility, the marking,
#: how a message is built): the second, PostgreSQL pass leaves them to the first.
NOT_ABOUT_THE_RECORD = (
    "test_packaging.py", "test_help_and_docs.py", "test_terminal.py",
    "test_report_formats.py", "test_accessibility.py", "test_review14_fixes.py",
    "test_marking.py", "test_wire_message.py", "test_header_injection.py",
    "test_message.py", "test_letters.py", "test_tls.py", "test_smtp.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test is marked with this run's backend. On PostgreSQL, a test about SQLite's
    own file is skipped (and says so), and the tests of files and programs alone (a page
    printed by Chromium, a workbook reopened by LibreOffice, the wheel, the help) are left
    to the SQLite pass: what they check is the same whichever database held the record."""
    if BACKEND == "postgresql":
        from postgres import BIN, needs_postgresql

        left = [i for i in items if i.path.name in NOT_ABOUT_THE_RECORD or any(
            "is not installed; .ci/run installs" in str(m.kwargs.get("reason", ""))
            and "PostgreSQL" not in str(m.kwargs.get("reason", ""))
            for m in i.iter_markers("skipif"))]
        if left:
            config.hook.pytest_deselected(items=left)
            items[:] = [i for i in items if i not in set(left)]
        if BIN is None:
            for item in items:
                item.add_marker(needs_postgresql)
    for item in items:
        item.add_marker(BACKEND)
        if BACKEND != "sqlite" and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(
                reason="runs in the SQLite pass only: about SQLite's own file, or it makes"
                " its own PostgreSQL databases"))


def init_workspace(root: Path) -> Workspace:
    """A new workspace with the default settings, its record in this run's backend: a new
    database of its own on the test server when that is PostgreSQL."""
    if BACKEND == "postgresql":
        from postgres import shared_server

        return _init_workspace(root, shared_server().new_database())
    return _init_workspace(root)


def copy_workspace(source: Path, target: Path) -> Path:
    """``shutil.copytree`` for a workspace: on PostgreSQL its record is copied too (a new
    database made with the old as its template), so the copy is a workspace of its own."""
    shutil.copytree(source, target)
    url = open_workspace(source).settings.database.url
    if url:
        from postgres import shared_server

        copied = shared_server().copy_database(url)
        with edit_settings(target) as settings:
            settings["database"]["url"] = copied  # type: ignore[index]
    return target


def small_workspace(root: Path, per_stratum: int) -> Workspace:
    """A new workspace drawing ``per_stratum`` cases per quadrant x type: quicker to write."""
    ws = init_workspace(root)
    with edit_settings(ws.root) as settings:
        for per_type in settings["quotas"].values():
            for key in per_type:
                per_type[key] = per_stratum
    return open_workspace(root)


@contextmanager
def edit_settings(root: Path) -> Iterator[tomlkit.TOMLDocument]:
    """Change a workspace's qaudit.toml as a person would: keys and comments kept."""
    path = root / "qaudit.toml"
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    yield document
    path.write_text(tomlkit.dumps(document), encoding="utf-8")


def qaudit_ok(root: Path, *args: str | Path) -> None:
    """Run a command that must succeed, in module-scoped fixtures (no capsys there)."""
    with pytest.raises(SystemExit) as done:
        cli.main(["-w", str(root), *map(str, args)])
    assert done.value.code == 0


@contextmanager
def raw_database(ws: Workspace) -> Iterator[Connection]:
    """The workspace database without qaudit's checks, committed and closed after the
    block: plain SQLite, or the PostgreSQL connection qaudit's SQL runs through.

    Only for a test that tampers with the database on purpose or checks what no API shows
    (such as the rows of a history table); everything else reads through ``ws.store()``.
    """
    if ws.settings.database.url:
        from qaudit.db import postgresql

        pg = postgresql.connect(ws.settings.database.url, 15)
        try:
            yield pg
        finally:
            pg.close()
        return
    conn = sqlite3.connect(ws.db_path)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def record_bytes(ws: Workspace) -> bytes:
    """Every byte the record is stored in, free space included: the SQLite file; on
    PostgreSQL, the files of the workspace's database on the test server, written out."""
    url = ws.settings.database.url
    if not url:
        return ws.db_path.read_bytes()
    from postgres import shared_server

    return shared_server().database_bytes(url)


def record_state(ws: Workspace) -> object:
    """What changes whenever the record does: the SQLite file's bytes; on PostgreSQL, every
    table's row count and content hash (its files also change when only read)."""
    if not ws.settings.database.url:
        return ws.db_path.read_bytes()
    from qaudit.db import postgresql, transfer

    conn = postgresql.connect(ws.settings.database.url, 15)
    try:
        return transfer.checks(conn)
    finally:
        conn.close()


@pytest.fixture
def full_workspace(tmp_path: Path) -> Workspace:
    """A workspace with the default settings: 120 cases a cycle."""
    return init_workspace(tmp_path / "ws")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A workspace drawing 2 cases per quadrant x type (40 a cycle)."""
    return small_workspace(tmp_path / "ws", 2)


@pytest.fixture
def example_export(tmp_path: Path) -> Path:
    target = tmp_path / "case-export.xlsx"
    shutil.copy(EXAMPLE_EXPORT, target)
    return target
