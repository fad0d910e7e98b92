"""Shared fixtures: workspaces, the CLI run in-process, stable terminal width, and every
store a test opens closed at its end.

The tests are in three folders by kind: ``core/`` (pure, fast), ``workbooks/`` (reading and
writing files) and ``commands/`` (the CLI end to end). ``tests/`` and ``examples/`` are on
``sys.path`` through the ``pythonpath`` setting in pyproject.toml, so tests import these
helpers with ``from conftest import ...`` and the example form-filler with
``import fill_forms``."""

from __future__ import annotations

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
from qaudit.workspace import Workspace, init_workspace, open_workspace

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
def raw_database(ws: Workspace) -> Iterator[sqlite3.Connection]:
    """The workspace database as plain SQLite, committed and closed after the block.

    Only for a test that tampers with the database on purpose or checks what no API shows
    (such as the rows of a history table); everything else reads through ``ws.store()``.
    """
    conn = sqlite3.connect(ws.db_path)
    try:
        with conn:
            yield conn
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
