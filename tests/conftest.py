"""Shared fixtures: workspaces, the CLI run in-process, and stable terminal width."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from qaudit import cli
from qaudit.workspace import Workspace, init_workspace, open_workspace

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "exports"
EXAMPLE_EXPORT = EXAMPLES / "case-export.xlsx"


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


@pytest.fixture
def full_workspace(tmp_path: Path) -> Workspace:
    """A workspace with the default settings: 120 cases a cycle."""
    return init_workspace(tmp_path / "ws")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A workspace drawing 2 cases per quadrant x type (40 a cycle): quicker to write."""
    ws = init_workspace(tmp_path / "ws")
    toml = ws.root / "qaudit.toml"
    lines = [
        line.replace("= 6", "= 2") if line.startswith('"') and "care_act_assessment =" in line
        else line
        for line in toml.read_text().splitlines()
    ]
    toml.write_text("\n".join(lines) + "\n")
    return open_workspace(ws.root)


@pytest.fixture
def example_export(tmp_path: Path) -> Path:
    target = tmp_path / "case-export.xlsx"
    shutil.copy(EXAMPLE_EXPORT, target)
    return target
