"""A team's record in PostgreSQL: `qaudit db move-to`, `init --database`, backups and
restores of a PostgreSQL record, and several officers' commands at once against a real
server (tests/postgres.py starts it).

These make their own databases, so they run once, in the SQLite pass of `make test`; the
workflow tests run against PostgreSQL in the second pass (conftest.BACKEND).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from postgres import Server, needs_postgresql

from conftest import EXAMPLES, Result, copy_workspace, edit_settings, qaudit_ok, small_workspace
from qaudit.db import postgresql, transfer
from qaudit.workspace import Workspace, open_workspace

pytestmark = [needs_postgresql, pytest.mark.sqlite_only]

CYCLE = "C1"
WINDOW = ["--from", "01/09/2026", "--to", "31/10/2026"]


def _filled(ws: Workspace, folder: Path, forms: list[Path]) -> list[Path]:
    import random

    import fill_forms

    for n, form in enumerate(forms):
        fill_forms.fill_audit(form, folder / form.name, random.Random(n))
    return [folder / f.name for f in forms]


def _forms(ws: Workspace) -> list[Path]:
    return sorted((ws.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx"))


@pytest.fixture(scope="module")
def returned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite workspace with a cycle drawn and 8 audits back."""
    root = tmp_path_factory.mktemp("team") / "ws"
    ws = small_workspace(root, 1)
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, *WINDOW,
              "--seed", "3")
    _filled(ws, root.parent / "back", _forms(ws)[:8])
    qaudit_ok(root, "ingest", root.parent / "back")
    return root


@pytest.fixture
def ws(returned: Path, tmp_path: Path) -> Workspace:
    return open_workspace(copy_workspace(returned, tmp_path / "ws"))


def _json(run: Callable[..., Result], ws: Workspace, *args: str) -> object:
    result = run("-w", ws.root, *args, "--json")
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def _sqlite_checks(ws: Workspace) -> list[transfer.TableCheck]:
    import sqlite3

    conn = sqlite3.connect(ws.db_path, isolation_level=None)
    try:
        return transfer.checks(conn)
    finally:
        conn.close()


# --- db move-to -----------------------------------------------------------------------------

def test_move_to_copies_every_table_proves_it_and_the_record_reads_the_same(
        run: Callable[..., Result], ws: Workspace, postgresql_url: str) -> None:
    status = _json(run, ws, "status")
    history = _json(run, ws, "log", "--cycle", CYCLE)
    expected = _sqlite_checks(ws)

    moved = _json(run, ws, "db", "move-to", postgresql_url)

    assert isinstance(moved, dict)
    assert {t["table"]: (t["rows"], t["sha256"]) for t in moved["tables"]} == {
        c.table: (c.rows, c.sha256) for c in expected}
    assert {t["table"] for t in moved["tables"] if t["rows"]} >= {
        "cycles", "draws", "allocations", "returns", "answers", "events", "workspace"}
    assert _sqlite_checks(ws) == expected  # the SQLite file's rows are left as they were
    moved_ws = open_workspace(ws.root)
    assert moved_ws.settings.database.url == postgresql_url
    assert "the record is in PostgreSQL" not in (ws.root / "qaudit.toml").read_text()
    assert _json(run, moved_ws, "status") == status
    after = _json(run, moved_ws, "log", "--cycle", CYCLE)
    assert isinstance(after, list) and isinstance(history, list)
    assert after[:len(history)] == history  # and the move itself is in the history
    with moved_ws.store() as store:
        assert store.dialect == "postgresql"
        (entry,) = [e for e in store.events(None, None) if e.kind == "record_moved"]
        assert entry.detail["rows"] == sum(c.rows for c in expected)
    # The moved record takes the next return as the file did, ids going on from the copy's.
    more = _filled(moved_ws, ws.root.parent / "more", _forms(moved_ws)[8:10])
    assert run("-w", ws.root, "ingest", *more).code == 0
    with moved_ws.store() as store:
        assert len(store.moderation.returned_audits(CYCLE)) == 10


def test_the_table_printed_names_every_table(run: Callable[..., Result], ws: Workspace,
                                             postgresql_url: str) -> None:
    result = run("-w", ws.root, "db", "move-to", postgresql_url)
    assert result.code == 0, result.stderr
    for table in ("allocations", "answers", "schema_migrations", "purged_audited"):
        assert table in result.stdout
    assert "Moved the record to postgresql://postgres@127.0.0.1" in result.stdout
    assert "qaudit.db is left" in result.stdout


def _refused(run: Callable[..., Result], ws: Workspace, url: str, says: str) -> None:
    toml = (ws.root / "qaudit.toml").read_bytes()
    result = run("-w", ws.root, "db", "move-to", url)
    assert result.code == 1 and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert (ws.root / "qaudit.toml").read_bytes() == toml


@pytest.mark.parametrize("url", [
    "postgresql://qa:s3cret@localhost/qaudit",
    "postgresql://qa@localhost/qaudit?password=s3cret",
    "postgresql://qa@localhost/qaudit?sslmode=require&sslpassword=s3cret",
])
def test_a_password_in_the_address_is_refused_and_never_repeated(
        run: Callable[..., Result], ws: Workspace, url: str) -> None:
    _refused(run, ws, url, "holds a password")
    assert "s3cret" not in run("-w", ws.root, "db", "move-to", url).stderr
    assert "s3cret" not in (ws.root / "qaudit.toml").read_text()


def test_an_address_that_is_not_postgresql_is_refused(run: Callable[..., Result],
                                                      ws: Workspace) -> None:
    _refused(run, ws, "mysql://qa@localhost/qaudit", "give a PostgreSQL address")


def test_a_database_that_is_not_empty_or_not_there_is_refused(
        run: Callable[..., Result], ws: Workspace, postgresql_url: str,
        postgresql_server: Server, tmp_path: Path) -> None:
    postgresql_server.sql("CREATE TABLE someone_elses (x int)", postgresql_url.rsplit("/")[-1])
    _refused(run, ws, postgresql_url, "is not empty (1 tables, such as someone_elses)")
    _refused(run, ws, postgresql_server.url("no_such_database"), "cannot be reached")
    closed = f"postgresql://postgres@127.0.0.1:{_closed_port()}/qaudit"
    _refused(run, ws, closed, "cannot be reached")


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_database_that_would_sort_differently_is_refused(
        run: Callable[..., Result], ws: Workspace, postgresql_server: Server) -> None:
    postgresql_server.sql("CREATE DATABASE ascii_db TEMPLATE template0 ENCODING 'SQL_ASCII'"
                          " LC_COLLATE 'C' LC_CTYPE 'C'")
    _refused(run, ws, postgresql_server.url("ascii_db"), "needs UTF-8 ordered by code point")


def test_a_record_already_moved_is_not_moved_again(run: Callable[..., Result], ws: Workspace,
                                                   postgresql_url: str,
                                                   postgresql_server: Server) -> None:
    assert run("-w", ws.root, "db", "move-to", postgresql_url).code == 0
    _refused(run, ws, postgresql_server.new_database(), "is in PostgreSQL already")


def test_a_copy_that_does_not_match_keeps_nothing(
        run: Callable[..., Result], ws: Workspace, postgresql_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = transfer.check
    seen: list[str] = []

    def one_row_short(table: str, rows: list[tuple[object, ...]]) -> transfer.TableCheck:
        seen.append(table)
        if table == "answers" and seen.count("answers") == 2:  # the copy's side
            rows = rows[:-1]
        return real(table, rows)

    monkeypatch.setattr(transfer, "check", one_row_short)
    _refused(run, ws, postgresql_url, "the copy does not match the record")
    conn = postgresql.connect(postgresql_url, 5)
    try:
        assert postgresql.tables(conn) == set()  # the whole copy was rolled back
    finally:
        conn.close()


def test_a_login_that_may_not_create_tables_is_told_so_and_nothing_is_moved(
        run: Callable[..., Result], ws: Workspace, postgresql_url: str,
        postgresql_server: Server) -> None:
    postgresql_server.sql("DO $$ BEGIN CREATE ROLE clerk LOGIN; EXCEPTION WHEN"
                          " duplicate_object THEN NULL; END $$")
    clerk = postgresql_url.replace("postgres@", "clerk@")
    _refused(run, ws, clerk, "PostgreSQL refused the copy")
    assert "permission denied" in run("-w", ws.root, "db", "move-to", clerk).stderr


def test_when_qaudit_toml_cannot_be_written_the_copy_is_taken_out_again(
        run: Callable[..., Result], ws: Workspace, postgresql_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from qaudit.jobs import database

    def full_disk(path: Path, text: str) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(database, "write_text", full_disk)
        _refused(run, ws, postgresql_url, "could not be written (")
    conn = postgresql.connect(postgresql_url, 5)
    try:
        assert postgresql.tables(conn) == set()
    finally:
        conn.close()
    assert run("-w", ws.root, "db", "move-to", postgresql_url).code == 0  # again, whole


def test_a_command_that_opened_the_file_before_the_move_cannot_write_to_it(
        run: Callable[..., Result], ws: Workspace, postgresql_url: str) -> None:
    from qaudit.errors import WorkspaceError

    before = _sqlite_checks(ws)
    early = ws.store()  # officer B's command, opened on the file just before the move
    try:
        assert run("-w", ws.root, "db", "move-to", postgresql_url).code == 0
        with pytest.raises(WorkspaceError, match="was moved to PostgreSQL"), \
                early.transaction() as conn:
            conn.execute("UPDATE cycles SET cancel_reason = 'lost'")
    finally:
        early.close()
    assert _sqlite_checks(ws) == before  # its rows as they were
    again = run("-w", ws.root, "status")  # a new command uses the moved record
    assert again.code == 0, again.stderr


def test_a_transaction_postgresql_ended_part_way_is_never_reported_stored(
        tmp_path: Path, postgresql_url: str) -> None:
    """PostgreSQL answers COMMIT after a failed statement with a quiet ROLLBACK: qaudit
    raises instead, as SQLite does, so nothing is said to be stored that is not."""
    import sqlite3
    from contextlib import suppress

    from qaudit.errors import StorageError
    from qaudit.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws", postgresql_url)
    with ws.store() as store:
        with pytest.raises(StorageError, match="nothing of it was stored"), \
                store.transaction() as conn:
            store.log(None, "kept?", {})
            with suppress(sqlite3.Error):
                conn.execute("SELECT no_such_column FROM events")
        assert [e for e in store.events(None, None) if e.kind == "kept?"] == []


def test_a_nul_character_postgresql_cannot_store_is_one_clear_refusal(
        tmp_path: Path, postgresql_url: str) -> None:
    """No reader lets one in (a CSV with NUL is not text; a workbook cannot hold one);
    should one reach the record, it is one message and nothing stored, never a crash."""
    from qaudit.errors import QauditError
    from qaudit.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws", postgresql_url)
    with ws.store() as store:
        with pytest.raises(QauditError, match="NUL character"), store.transaction() as conn:
            store.log(None, "before", {})
            conn.execute("UPDATE workspace SET created_at = ?", ("2026\x00",))
        assert [e for e in store.events(None, None) if e.kind == "before"] == []


# --- init --database, backup and restore ---------------------------------------------------

def test_init_makes_the_record_in_an_empty_database(run: Callable[..., Result],
                                                    tmp_path: Path, postgresql_url: str) -> None:
    result = run("init", tmp_path / "team", "--database", postgresql_url)
    assert result.code == 0, result.stderr
    assert "and its record in postgresql://postgres@127.0.0.1" in result.stdout
    assert not (tmp_path / "team" / "qaudit.db").exists()
    assert open_workspace(tmp_path / "team").settings.database.url == postgresql_url
    again = run("init", tmp_path / "second", "--database", postgresql_url)
    assert again.code == 1 and "is not empty" in again.stderr
    assert not (tmp_path / "second" / "qaudit.toml").exists()
    secret = run("init", tmp_path / "third", "--database",
                 postgresql_url.replace("postgres@", "postgres:pw@"))
    assert secret.code == 1 and "holds a password" in secret.stderr
    assert not (tmp_path / "third").exists()


def test_each_new_record_gets_its_own_id_and_signing_key(tmp_path: Path,
                                                         postgresql_server: Server) -> None:
    """Forms carry the workspace id and are signed with its key: two records made by one
    process must never share them (statements are translated once and kept)."""
    from qaudit.workspace import init_workspace

    ids = set()
    for n in range(3):
        with init_workspace(tmp_path / f"ws{n}", postgresql_server.new_database()).store() as s:
            ids.add((s.workspace_id(), s.signing_key()))
    assert len(ids) == 3 and len({key for _, key in ids}) == 3


def test_a_postgresql_record_backs_up_to_a_file_and_restores_from_it(
        run: Callable[..., Result], ws: Workspace, postgresql_url: str) -> None:
    assert run("-w", ws.root, "db", "move-to", postgresql_url).code == 0
    team = open_workspace(ws.root)
    made = _json(run, team, "backup", "--to", str(ws.root.parent / "copy.db"))
    assert isinstance(made, dict)
    copy = Path(str(made["path"]))
    import sqlite3

    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        in_file = transfer.checks(conn)
    finally:
        conn.close()
    pg = postgresql.connect(postgresql_url, 5)
    try:
        assert transfer.checks(pg) == in_file  # the file holds the record, row for row
    finally:
        pg.close()
    status = _json(run, team, "status")
    cancelled = run("-w", ws.root, "cycle", "cancel", CYCLE, "--reason", "test", "--force")
    assert cancelled.code == 0, cancelled.stderr
    assert run("-w", ws.root, "status").code == 1  # nothing drawn now
    restored = run("-w", ws.root, "restore", copy, "--yes")
    assert restored.code == 0, restored.stderr
    after = _json(run, team, "status")
    assert isinstance(after, dict) and isinstance(status, dict)
    # The record is back; the forms the cancel set aside are not, and status says so.
    assert after.pop("files")["noticed"] and not status.pop("files")["noticed"]
    assert after == status
    assert list((ws.root / "backups").glob("*before-restore.db"))  # the cancelled state kept


# --- several officers at once -----------------------------------------------------------------

def _team_workspace(root: Path, url: str) -> Workspace:
    from qaudit.workspace import init_workspace

    ws = init_workspace(root, url)
    with edit_settings(ws.root) as settings:
        for per_type in settings["quotas"].values():
            for key in per_type:
                per_type[key] = 1
    return open_workspace(root)


def _qaudit(ws: Workspace, *args: str | Path, by: str = "",
            env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "qaudit", "-w", str(ws.root),
               *(["--by", by] if by else []), *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


def _finish(children: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    outputs = [child.communicate(timeout=300) for child in children]
    return [(c.returncode, out, err) for c, (out, err) in zip(children, outputs, strict=True)]


def test_two_allocates_of_one_cycle_at_once_one_wins_and_the_other_is_refused(
        tmp_path: Path, postgresql_url: str) -> None:
    ws = _team_workspace(tmp_path / "ws", postgresql_url)
    done = _finish([_qaudit(ws, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE,
                            *WINDOW, "--seed", str(seed), by=who)
                    for seed, who in ((1, "alice"), (2, "bob"))])
    codes = sorted(code for code, _, _ in done)
    assert codes == [0, 1], done
    (refused,) = [err for code, _, err in done if code == 1]
    assert "drawn" in refused and "Traceback" not in refused
    with ws.store() as store:
        assert store.conn.execute("SELECT count(*) FROM draws").fetchone()[0] == 1
        assert len(store.draws.allocations(CYCLE)) == 20


def test_two_cycles_drawn_at_once_never_share_a_person(tmp_path: Path,
                                                       postgresql_url: str) -> None:
    ws = _team_workspace(tmp_path / "ws", postgresql_url)
    done = _finish([_qaudit(ws, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", name,
                            *WINDOW, "--seed", "7", "--allow-overlap")
                    for name in ("C1", "C2")])
    assert all(code in (0, 1) for code, _, _ in done), done
    assert any(code == 0 for code, _, _ in done)
    with ws.store() as store:
        rows = store.conn.execute(
            "SELECT person_id, count(*) FROM current_allocations GROUP BY person_id"
            " HAVING count(*) > 1").fetchall()
    assert rows == []  # nobody is audited twice, whichever draw was refused or drawn second


def test_overlapping_ingests_by_three_officers_store_each_return_exactly_once(
        tmp_path: Path, postgresql_url: str) -> None:
    ws = _team_workspace(tmp_path / "ws", postgresql_url)
    qaudit_ok(ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, *WINDOW,
              "--seed", "5")
    forms = _filled(ws, tmp_path / "back", _forms(ws)[:12])
    batches = [forms[:8], forms[4:12], forms[::2]]  # every form in two batches or three
    done = _finish([_qaudit(ws, "ingest", *batch, "--json", by=who)
                    for batch, who in zip(batches, ("alice", "bob", "carol"), strict=True)])
    for code, _, err in done:
        assert code == 0 and "unexpected failure" not in err, err
    accepted = sum(json.loads(out)["summary"]["accepted"] for _, out, _ in done)
    assert accepted == 12
    with ws.store() as store:
        assert store.conn.execute(
            "SELECT count(*), count(DISTINCT allocation_id) FROM returns"
            " WHERE replaced_at IS NULL AND kind = 'audit'").fetchone() == (12, 12)
        assert store.conn.execute(
            "SELECT count(*) FROM returns WHERE kind = 'audit'").fetchone()[0] == 12


def test_a_write_waits_for_another_officers_then_says_who_and_reading_never_waits(
        tmp_path: Path, postgresql_url: str) -> None:
    ws = _team_workspace(tmp_path / "ws", postgresql_url)
    qaudit_ok(ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, *WINDOW,
              "--seed", "5")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from pathlib import Path\n"
         "from qaudit.workspace import open_workspace\n"
         "store = open_workspace(Path(sys.argv[1]), 'alice').store()\n"
         "store.conn.execute('BEGIN IMMEDIATE')  # as while a big ingest commits\n"
         "print('holding', flush=True)\n"
         "time.sleep(60)\n", str(ws.root)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        quick = {"QAUDIT_BUSY_SECONDS": "1"}
        (status,) = _finish([_qaudit(ws, "status", by="bob", env=quick)])
        assert status[0] == 0, status  # reading never waits for a writer
        (cancel,) = _finish([_qaudit(ws, "cycle", "cancel", CYCLE, "--reason", "x",
                                     by="bob", env=quick)])
    finally:
        holder.kill()
        holder.wait()
    code, _, err = cancel
    assert code == 1 and "is busy: it is in use by alice on " in err, err
    assert "Try again" in err
    with ws.store() as store:
        assert not store.draws.require_cycle(CYCLE).cancelled  # nothing was changed


# --- the dialect ------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from("?%:'ab$\\\"\n "), max_size=12),
       value=st.one_of(st.text(st.characters(exclude_characters="\x00"), max_size=8),
                       st.integers(-2**62, 2**62), st.none()))
def test_literals_and_parameters_cross_unchanged(postgresql_url: str, text: str,
                                                 value: object) -> None:
    """A ``?``, ``%`` or ``:name`` inside a quoted literal is text, never a parameter.
    (PostgreSQL's text cannot hold NUL at all: docs/team.md.)"""
    quoted = "'" + text.replace("'", "''") + "'"
    conn = postgresql.connect(postgresql_url, 5)
    try:
        row = conn.execute(f"SELECT {quoted}, ?, {quoted} || ?", (value, "x")).fetchone()
    finally:
        conn.close()
    assert tuple(row) == (text, value, text + "x")
