"""`qaudit backup` / `qaudit restore`, the automatic backups, and network shares."""
from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import EXAMPLES, Result, copy_workspace, qaudit_ok, raw_database, small_workspace
from qaudit.db import backup, holders, network, store
from qaudit.db.schema import MIGRATIONS, SCHEMA_VERSION
from qaudit.jobs.ingest import ingest_files
from qaudit.workspace import Workspace, open_workspace

CYCLE = "2026-27 C3"
ALLOCATE = ("allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
            "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due",
            (date.today() + timedelta(days=10)).strftime("%d/%m/%Y"))
#: About the SQLite file itself: on PostgreSQL the server keeps the record (docs/team.md).
pytestmark = pytest.mark.sqlite_only
NAME = re.compile(r"qaudit-\d{8}T\d{6}Z-[a-z-]+(-\d+)?\.db")


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with one case per quadrant x type drawn, once."""
    root = tmp_path_factory.mktemp("drawn") / "ws"
    small_workspace(root, 1)
    qaudit_ok(root, *ALLOCATE)
    return root


@pytest.fixture
def ws(drawn: Path, tmp_path: Path) -> Workspace:
    copy_workspace(drawn, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def qaudit(run: Callable[..., Result], ws: Workspace, *args: object) -> Result:
    return run("-w", ws.root, *args)


def cycles(ws: Workspace) -> list[tuple[str, str | None]]:
    with raw_database(ws) as conn:
        return list(conn.execute("SELECT name, cancelled_at FROM cycles"))


def backups(ws: Workspace) -> list[Path]:
    folder = ws.root / "backups"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def checked(path: Path) -> int:
    """The schema version of a backup that passes SQLite's integrity check."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return int(conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0])
    finally:
        conn.close()


# --- qaudit backup -------------------------------------------------------------------------

def test_backup_makes_a_checked_copy_in_the_backups_folder(
    run: Callable[..., Result], ws: Workspace
) -> None:
    result = qaudit(run, ws, "backup", "--json")
    assert result.code == 0, result.stderr
    made = json.loads(result.stdout)
    path = Path(made["path"])
    assert path.parent == ws.root / "backups" and NAME.fullmatch(path.name)
    assert made["size"] == path.stat().st_size and made["schema_version"] == SCHEMA_VERSION
    assert checked(path) == SCHEMA_VERSION
    assert path.stat().st_mode & 0o077 == 0  # personal data: its owner's only
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM cycles")] == [CYCLE]
    conn.close()
    again = qaudit(run, ws, "backup")
    assert again.code == 0 and "Backed up the record" in again.stdout
    assert len(backups(ws)) == 2  # a second one in the same second gets a name of its own
    assert not [p for p in backups(ws) if p.name.startswith(".")]  # no temporary left


def test_backup_is_consistent_while_another_command_is_writing(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    """Another officer's write not yet committed is not in the copy, and does not stop it."""
    other = sqlite3.connect(ws.db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE cycles SET name = 'half-written'")
        result = qaudit(run, ws, "backup", "--to", tmp_path / "copy.db")
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert result.code == 0, result.stderr
    conn = sqlite3.connect(tmp_path / "copy.db")
    assert [r[0] for r in conn.execute("SELECT name FROM cycles")] == [CYCLE]
    conn.close()


def test_backup_to_a_folder_uses_the_usual_name(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    (tmp_path / "usb").mkdir()
    assert qaudit(run, ws, "backup", "--to", tmp_path / "usb").code == 0
    [made] = list((tmp_path / "usb").iterdir())
    assert NAME.fullmatch(made.name) and checked(made) == SCHEMA_VERSION


def test_backup_never_overwrites_and_says_why(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = tmp_path / "mine.db"
    existing.write_bytes(b"precious")
    result = qaudit(run, ws, "backup", "--to", existing)
    assert result.code == 1 and "already exists" in result.stderr
    assert existing.read_bytes() == b"precious"
    missing = qaudit(run, ws, "backup", "--to", tmp_path / "nowhere" / "x.db")
    assert missing.code == 1 and "does not exist" in missing.stderr
    monkeypatch.setattr(backup, "writable", lambda folder: False)
    locked = qaudit(run, ws, "backup", "--to", tmp_path / "x.db")
    assert locked.code == 1 and "cannot be written" in locked.stderr
    assert not (tmp_path / "x.db").exists() and "Traceback" not in locked.stderr


# --- automatic backups ----------------------------------------------------------------------

def test_cycle_cancel_backs_up_first_and_says_so(
    run: Callable[..., Result], ws: Workspace
) -> None:
    result = qaudit(run, ws, "cycle", "cancel", CYCLE, "--reason", "Wrong window")
    assert result.code == 0, result.stderr
    [made] = backups(ws)
    assert made.name.endswith("-cycle-cancel.db")
    assert f"Backed up the record to {made} first." in result.stderr.replace("\n", "")
    conn = sqlite3.connect(made)  # the copy is the record as it was before
    assert conn.execute("SELECT cancelled_at FROM cycles").fetchone()[0] is None
    conn.close()


def test_a_backup_that_fails_stops_the_command_before_anything_changes(
    run: Callable[..., Result], ws: Workspace
) -> None:
    (ws.root / "backups").write_text("a file where the folder should be")
    result = qaudit(run, ws, "cycle", "cancel", CYCLE, "--reason", "Wrong window")
    assert result.code == 1 and "nothing was changed" in result.stderr
    assert "Traceback" not in result.stderr
    assert cycles(ws) == [(CYCLE, None)]


def test_redraw_backs_up_first(run: Callable[..., Result], ws: Workspace) -> None:
    result = qaudit(run, ws, *ALLOCATE, "--redraw")
    assert result.code == 0, result.stderr
    assert [p.name.endswith("-redraw.db") for p in backups(ws)] == [True]


def test_purge_backs_up_first_and_a_dry_run_does_not(
    run: Callable[..., Result], ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qaudit.commands import purge

    monkeypatch.setattr(purge, "today", lambda: date(2027, 1, 1))  # the cycle is past
    assert qaudit(run, ws, "cycle", "cancel", CYCLE, "--reason", "Wrong window").code == 0
    after = (date(2026, 10, 31) + timedelta(days=1)).strftime("%d/%m/%Y")
    assert qaudit(run, ws, "purge", "--before", after, "--dry-run").code == 0
    assert len(backups(ws)) == 1  # the cancel's
    result = qaudit(run, ws, "purge", "--before", after, "--yes")
    assert result.code == 0, result.stderr
    assert [p.name.split("Z-")[1] for p in backups(ws)] == ["cycle-cancel.db", "purge.db"]


def test_ingest_replace_backs_up_first_and_plain_ingest_does_not(ws: Workspace) -> None:
    with ws.store() as opened:
        ingest_files(opened, [], today=date.today())
        assert backups(ws) == []
        ingest_files(opened, [], today=date.today(), replace=True)
    assert [p.name.endswith("-replace.db") for p in backups(ws)] == [True]


def test_a_migration_of_an_existing_record_backs_it_up_first(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    newer = [*MIGRATIONS, (SCHEMA_VERSION + 1, "test", "CREATE TABLE extra (a TEXT)")]
    monkeypatch.setattr(store, "MIGRATIONS", newer)
    monkeypatch.setattr(store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    ws.store().close()
    [made] = backups(ws)
    assert made.name.endswith("-migration.db") and checked(made) == SCHEMA_VERSION
    ws.store().close()  # up to date now: no second backup
    assert len(backups(ws)) == 1
    small_workspace(tmp_path / "new", 1).store().close()  # a new record: nothing to keep
    assert not (tmp_path / "new" / "backups").exists()


def test_only_the_last_ten_of_each_reason_are_kept(tmp_path: Path) -> None:
    names = [backup.backup_name(datetime(2026, 1, 1, 10, m), "purge") for m in range(12)]
    others = ["qaudit-20250101T000000Z-manual.db", "qaudit-20250101T000000Z-purge-2.db",
              "qaudit-20250101T000000Z-before-restore.db"]
    for name in (*names, *others):
        (tmp_path / name).write_text("")
    gone = backup.prune(tmp_path, "purge", 10)
    assert [p.name for p in gone] == [others[1], names[0], names[1]][:3]
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {*names[2:], others[0], others[2]}


def test_backup_names_have_no_colon_and_sort_by_time() -> None:
    name = backup.backup_name(datetime(2026, 11, 26, 10, 42, 5).astimezone(), "redraw")
    assert ":" not in name and NAME.fullmatch(name)


# --- qaudit restore -------------------------------------------------------------------------

def test_restore_puts_a_backup_back_and_keeps_the_record_it_replaced(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    assert qaudit(run, ws, "backup", "--to", tmp_path / "before.db").code == 0
    assert qaudit(run, ws, "cycle", "cancel", CYCLE, "--reason", "Wrong window").code == 0
    result = qaudit(run, ws, "restore", tmp_path / "before.db", "--yes", "--json")
    assert result.code == 0, result.stderr
    done = json.loads(result.stdout)
    assert cycles(ws) == [(CYCLE, None)]
    kept = Path(done["kept"])
    assert kept.name.endswith("-before-restore.db")
    conn = sqlite3.connect(kept)
    assert conn.execute("SELECT cancelled_at FROM cycles").fetchone()[0] is not None
    conn.close()
    assert ws.db_path.stat().st_mode & 0o077 == 0


def test_restore_asks_first_and_a_script_needs_yes(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    assert qaudit(run, ws, "backup", "--to", tmp_path / "b.db").code == 0
    before = ws.db_path.read_bytes()
    result = qaudit(run, ws, "restore", tmp_path / "b.db")
    assert result.code == 1 and "--yes" in result.stderr
    assert ws.db_path.read_bytes() == before


@pytest.mark.parametrize(("answer", "restored"), [("y", True), ("n", False), ("", False)])
def test_on_a_terminal_restore_does_only_what_the_officer_answers(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, answer: str, restored: bool
) -> None:
    from qaudit.commands import common
    from qaudit.commands.common import err

    assert qaudit(run, ws, "backup", "--to", tmp_path / "b.db").code == 0
    assert qaudit(run, ws, "cycle", "cancel", CYCLE, "--reason", "Wrong window").code == 0
    monkeypatch.setattr(common, "on_terminal", lambda: True)
    monkeypatch.setattr(err, "input", lambda prompt: answer)
    result = qaudit(run, ws, "restore", tmp_path / "b.db")
    assert result.code == (0 if restored else 1)
    assert (cycles(ws)[0][1] is None) == restored


def fake_databases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Files restore must refuse, and what it says of each."""
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (a)")
    conn.commit()
    conn.close()
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    return {"garbage": (garbage, "not a qaudit database"),
            "other": (other, "not a qaudit record"),
            "empty": (empty, "not a qaudit record"),
            "folder": (tmp_path, "not a file")}


def test_restore_refuses_what_is_not_a_qaudit_record(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    before = ws.db_path.read_bytes()
    for name, (path, said) in fake_databases(tmp_path).items():
        result = qaudit(run, ws, "restore", path, "--yes")
        assert result.code == 1 and said in result.stderr, name
        assert "Traceback" not in result.stderr
    assert ws.db_path.read_bytes() == before and backups(ws) == []


def test_restore_refuses_a_newer_schema_and_the_live_record(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    assert qaudit(run, ws, "backup", "--to", tmp_path / "newer.db").code == 0
    conn = sqlite3.connect(tmp_path / "newer.db")
    conn.execute("INSERT INTO schema_migrations VALUES (?, 'future', 'now')",
                 (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    result = qaudit(run, ws, "restore", tmp_path / "newer.db", "--yes")
    assert result.code == 1 and "newer qaudit" in result.stderr
    itself = qaudit(run, ws, "restore", ws.db_path, "--yes")
    assert itself.code == 1 and "own database" in itself.stderr


def test_restore_is_refused_while_another_officer_holds_the_workspace(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    assert qaudit(run, ws, "backup", "--to", tmp_path / "b.db").code == 0
    folder = ws.root / holders.FOLDER
    folder.mkdir(exist_ok=True)
    (folder / "QA-7-1.json").write_text(json.dumps({
        "who": "alice", "host": "QA-7" if socket.gethostname() != "QA-7" else "QA-8",
        "pid": 1, "since": datetime.now().isoformat(timespec="seconds")}))
    result = qaudit(run, ws, "restore", tmp_path / "b.db", "--yes")
    assert result.code == 1 and "in use by alice" in result.stderr
    assert backups(ws) == []


def test_restore_mends_a_damaged_record_and_keeps_the_damaged_file(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    assert qaudit(run, ws, "backup", "--to", tmp_path / "b.db").code == 0
    ws.db_path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    result = qaudit(run, ws, "restore", tmp_path / "b.db", "--yes")
    assert result.code == 0, result.stderr
    assert cycles(ws) == [(CYCLE, None)]
    [kept] = backups(ws)
    assert kept.name.endswith("-before-restore-damaged.db")
    assert kept.read_bytes().startswith(b"SQLite format 3\x00\xff")


# --- network shares --------------------------------------------------------------------------

MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
//fileserver/qa /mnt/qa cifs rw,vers=3.0 0 0
/dev/sdb1 /mnt/qa/local ext4 rw 0 0
nas:/export /srv/team\\040drive nfs4 rw 0 0
broken line
"""


@pytest.mark.parametrize(("folder", "kind"), [
    ("/home/alice/ws", None),
    ("/mnt/qa", "CIFS/SMB"),
    ("/mnt/qa/2026/ws", "CIFS/SMB"),
    ("/mnt/qa/local/ws", None),  # a local disk mounted inside the share: the longest wins
    ("/mnt/qab/ws", None),  # a name that only starts like the mount point
    ("/srv/team drive/ws", "NFS"),
])
def test_a_workspace_on_a_linux_share_is_recognised(folder: str, kind: str | None) -> None:
    assert network.linux_share(folder, MOUNTS) == kind


@pytest.mark.parametrize(("folder", "remote", "kind"), [
    (r"\\fileserver\qa\ws", False, "SMB"),
    ("//fileserver/qa/ws", False, "SMB"),
    (r"H:\qa\ws", True, "SMB"),
    (r"C:\Users\alice\ws", False, None),
])
def test_a_workspace_on_a_windows_share_is_recognised(folder: str, remote: bool,
                                                      kind: str | None) -> None:
    asked: list[str] = []

    def drive_type(root: str) -> int:
        asked.append(root)
        return network.DRIVE_REMOTE if remote else 3  # DRIVE_FIXED

    assert network.windows_share(folder, drive_type) == kind
    assert all(re.fullmatch(r"[A-Z]:\\", a) for a in asked)


@given(st.text())
def test_any_mounts_text_is_read_without_failing(mounts: str) -> None:
    assert network.linux_share("/mnt/qa/ws", mounts) in (None, "CIFS/SMB", "NFS")


def test_the_share_note_is_said_once_per_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "mounts"
    fake.write_text(f"//server/qa {tmp_path} cifs rw 0 0\n")
    monkeypatch.setattr(network, "MOUNTS", fake)
    network.share_note.cache_clear()
    note = network.share_note(tmp_path / "ws")
    assert "CIFS/SMB" in note and "never WAL" in note
    fake.write_text("")
    assert network.share_note(tmp_path / "ws") == note  # cached: the mounts not read again
    network.share_note.cache_clear()
    assert network.share_note(tmp_path / "ws") == ""


def test_the_record_keeps_the_rollback_journal(ws: Workspace) -> None:
    """Never WAL: it does not work on a network share."""
    with ws.store() as opened:
        assert opened.conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
