"""The hostile corpus for the workspace, the database, the terminal and report templates:
every attempt ends in one clear refusal, a whole record, and nobody named.

Readers of files have their own hostile tests (tests/workbooks/test_hostile_exports.py,
tests/commands/test_ingest.py); this file grows with every new way in.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import EXAMPLES, Result, qaudit_ok, small_workspace
from qaudit.db import Store
from qaudit.workspace import Workspace

CYCLE = "C1"
WINDOW = ["--from", "01/09/2026", "--to", "31/10/2026"]


@pytest.fixture
def drawn(tmp_path: Path) -> Workspace:
    ws = small_workspace(tmp_path / "ws", 1)
    qaudit_ok(ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, *WINDOW,
              "--seed", "1")
    return ws


def test_an_empty_or_short_pseudonym_key_is_refused_never_used(
    run: Callable[..., Result], drawn: Workspace, tmp_path: Path
) -> None:
    key = drawn.root / "pseudonym.key"
    for damaged in (b"", b"abcd\n", b"not hex at all, not a key\n"):
        key.write_bytes(damaged)
        result = run("-w", drawn.root, "export", "--anonymise", "--out", tmp_path / "a.xlsx")
        assert result.code == 1 and "not a usable pseudonym key" in result.stderr
        assert not (tmp_path / "a.xlsx").exists()
    key.unlink()
    assert run("-w", drawn.root, "export", "--anonymise", "--out", tmp_path / "a.xlsx").code == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(bytes.fromhex(key.read_text().strip())) == 32


def test_files_with_personal_data_are_readable_by_their_owner_only(drawn: Workspace) -> None:
    assert stat.S_IMODE(drawn.db_path.stat().st_mode) == 0o600
    folder = drawn.cycle_dir(CYCLE)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.rglob("*.xlsx"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_an_empty_database_is_refused_not_replaced(run: Callable[..., Result],
                                                   drawn: Workspace) -> None:
    drawn.db_path.write_bytes(b"")
    for args in (["status"], ["cycle", "list"], ["ingest", drawn.cycle_dir(CYCLE)]):
        result = run("-w", drawn.root, *args)
        assert result.code == 1 and "is empty (0 bytes)" in result.stderr, args
        assert "restore it from a backup" in result.stderr.lower()
    assert drawn.db_path.stat().st_size == 0  # not silently made anew


def test_a_busy_database_says_it_is_busy(drawn: Workspace) -> None:
    holder = sqlite3.connect(drawn.db_path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        env = {**os.environ, "QAUDIT_BUSY_SECONDS": "1"}
        done = subprocess.run([sys.executable, "-m", "qaudit", "-w", str(drawn.root), "status"],
                              capture_output=True, text=True, env=env, timeout=120)
    finally:
        holder.rollback()
        holder.close()
    assert done.returncode == 1
    assert "is busy" in done.stderr and "Try again" in done.stderr
    assert "not a qaudit database" not in done.stderr and "qaudit init" not in done.stderr


def test_the_first_error_surfaces_not_a_failed_rollback(drawn: Workspace) -> None:
    with (Store.open(drawn.db_path) as store, pytest.raises(OSError, match="No space"),
          store.transaction() as conn):
        conn.execute("ROLLBACK")  # as sqlite does itself when the disk is full
        raise OSError(28, "No space left on device")


def _export_with(tmp_path: Path, manager: str) -> Path:
    rows = list(csv.reader((EXAMPLES / "case-export.csv").read_text(
        encoding="utf-8-sig").splitlines()))
    header = next(i for i, r in enumerate(rows) if "Service Manager" in r)
    column = rows[header].index("Service Manager")
    for row in rows[header + 1:]:
        if len(row) > column and row[column]:
            row[column] = manager
    target = tmp_path / "export.csv"
    with target.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return target


def test_terminal_escape_codes_in_names_never_reach_the_terminal(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    ws = small_workspace(tmp_path / "ws", 1)
    hostile = "Evil\x1b]0;owned\x07 \x1b[2J\x1b[31mManager\x9b"
    export = _export_with(tmp_path, hostile)
    drawn = run("-w", ws.root, "allocate", export, "--cycle", CYCLE, *WINDOW, "--seed", "1")
    assert drawn.code == 0, drawn.stderr
    status = run("-w", ws.root, "status")
    assert status.code == 0
    for text in (drawn.stdout, drawn.stderr, status.stdout, status.stderr):
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "Evil" in status.stdout and "Manager" in status.stdout


@pytest.mark.parametrize(("template", "said"), [
    ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "unsafe"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
    ("{% for i in range(10**9) %}x{% endfor %}", "more than 100,000 numbers"),
    ("{% for a in range(9000) %}{% for b in range(9000) %}{% endfor %}{% endfor %}",
     "more than 100,000 numbers"),
    ("ok\n{% for %}", "line 2"),
])
def test_a_workspace_report_template_cannot_run_code_or_hang(
    run: Callable[..., Result], drawn: Workspace, tmp_path: Path, template: str, said: str
) -> None:
    own = drawn.templates / "reports"
    own.mkdir(parents=True)
    (own / "summary.md.j2").write_text(template)
    result = run("-w", drawn.root, "report", "--cycle", CYCLE, "--kind", "summary",
                 "--out", tmp_path / "out")
    assert result.code == 1, result.stdout
    assert "report template" in result.stderr and said in result.stderr
    assert "uid=" not in result.stdout + result.stderr
    assert not list((tmp_path / "out").glob("*.md"))


def test_a_template_linked_outside_its_folder_is_refused(
    run: Callable[..., Result], drawn: Workspace, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the database password")
    own = drawn.templates / "reports"
    own.mkdir(parents=True)
    (own / "summary.md.j2").symlink_to(secret)
    result = run("-w", drawn.root, "report", "--cycle", CYCLE, "--kind", "summary",
                 "--out", tmp_path / "out")
    assert result.code == 1 and "links outside" in result.stderr
    assert "the database password" not in result.stdout + result.stderr
