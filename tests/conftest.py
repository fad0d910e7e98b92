"""Shared fixtures: workspaces, the CLI run in-process, and stable terminal width."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomlkit

from qaudit import cli
from qaudit.workspace import Workspace, init_workspace, open_workspace

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "exports"
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
