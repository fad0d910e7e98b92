"""The files qaudit wrote into the shared workspace folder are recorded with their hashes,
so a file replaced on the share is noticed: `qaudit status` names it, `qaudit send` will not
attach it (or draft beside it) until it is put back, made again, or its change accepted on
purpose (`--accept-changed`, in the history with who accepted it).

One workspace is made once (module fixture): a cycle drawn, auditors named, audits and
self-reflections back, the allocations, forms and feedback drafted, a moderation sample
drawn and moderated, the reports written, a workshop made. Each test works on its own copy.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, cast

import fill_forms
import pytest
from mail.people import CYCLE, allocations, drawn_cycle, name_auditors

from conftest import (
    EXAMPLES,
    Result,
    copy_workspace,
    edit_settings,
    qaudit_ok,
    raw_database,
    small_workspace,
)
from qaudit.db import files as db_files
from qaudit.workspace import Workspace, open_workspace

AUDITS_BACK, REFLECTIONS_BACK = 6, 4
WORKSHOP = "Q3 2026-27"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hashes")
    root = base / "ws"
    ws = drawn_cycle(root)
    cases = allocations(ws)
    name_auditors(ws, cases[:-2])
    folder = ws.cycle_dir(CYCLE)
    rng = random.Random(3)
    for case in cases[:AUDITS_BACK]:
        form = folder / "audit-forms" / f"{case.reference}-audit.xlsx"
        fill_forms.fill_audit(form, base / "back" / form.name, rng, grade="Good")
    for case in cases[:REFLECTIONS_BACK]:
        form = folder / "self-reflection" / f"{case.reference}-self-reflection.xlsx"
        fill_forms.fill_reflection(form, base / "back" / form.name, rng)
    qaudit_ok(root, "ingest", base / "back")
    qaudit_ok(root, "send", "allocations", "--cycle", CYCLE)
    qaudit_ok(root, "send", "forms", "--cycle", CYCLE)
    qaudit_ok(root, "moderate", "select", "--cycle", CYCLE, "--seed", "1")
    (book,) = (folder / "moderation").glob("*.xlsx")
    fill_forms.fill_moderation(book, base / "moderated" / book.name, random.Random(1))
    qaudit_ok(root, "moderate", "ingest", base / "moderated" / book.name)
    qaudit_ok(root, "send", "feedback", "--cycle", CYCLE)
    qaudit_ok(root, "report", "--cycle", CYCLE)
    qaudit_ok(root, "workshop", "make", WORKSHOP, "--cases", "3", "--participants", "3",
              "--held", f"{date.today():%d/%m/%Y}", "--seed", "1")
    return root


@pytest.fixture
def ws(made: Path, tmp_path: Path) -> Workspace:
    return open_workspace(copy_workspace(made, tmp_path / "ws"))


COLUMNS = ("id", "path", "kind", "cycle_id", "workshop_id", "sha256", "how", "actor")


def current(ws: Workspace, kind: str | None = None) -> list[dict[str, Any]]:
    """The current rows of the files recorded (of one kind), by path."""
    with raw_database(ws) as conn:
        rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM issued_files"
                            " WHERE replaced_at IS NULL ORDER BY path").fetchall()
    found = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    return [r for r in found if kind is None or r["kind"] == kind]


def one_of(ws: Workspace, kind: str, under: str = "") -> Path:
    """A file of that kind qaudit recorded (the first by path, inside ``under``)."""
    row = next(r for r in current(ws, kind) if under in r["path"])
    return ws.root / str(row["path"])


def replace_on_share(ws: Workspace, path: Path) -> None:
    """Save another file of the same kind over it (a form saved over with another case's),
    or, where there is no other, change a byte of it."""
    others = [p for p in sorted(path.parent.iterdir()) if p.suffix == path.suffix and p != path
              and p.is_file() and not p.name.startswith(".")]
    if others:
        shutil.copyfile(others[0], path)
    else:
        path.write_bytes(path.read_bytes() + b"\n")


def status_json(run: Callable[..., Result], ws: Workspace) -> dict[str, Any]:
    result = run("-w", ws.root, "status", "--cycle", CYCLE, "--json")
    assert result.code == 0, result.stderr
    return cast(dict[str, Any], json.loads(result.stdout))


def noticed(run: Callable[..., Result], ws: Workspace, key: str = "files"
            ) -> dict[str, str]:
    """What `status --json` names: path -> state."""
    return {f["path"]: f["state"] for f in status_json(run, ws)[key]["noticed"]}


def send(run: Callable[..., Result], ws: Workspace, kind: str, *args: str) -> Result:
    return run("-w", ws.root, "send", kind, "--cycle", CYCLE, *args)


def messages(ws: Workspace) -> int:
    with raw_database(ws) as conn:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])


def refused(result: Result) -> str:
    """A refusal: exit 1, one message, no traceback."""
    assert result.code == 1, result.stdout
    assert "Traceback" not in result.stderr and result.stderr.startswith("Error:")
    return " ".join(result.stderr.split())


def relative(ws: Workspace, path: Path) -> str:
    return path.relative_to(ws.root).as_posix()


# --- nothing changed --------------------------------------------------------------------


def test_every_kind_of_file_is_recorded_and_nothing_is_refused_when_nothing_changed(
    run: Callable[..., Result], ws: Workspace
) -> None:
    rows = current(ws)
    assert {r["kind"] for r in rows} == set(db_files.KINDS)
    for r in rows:  # each hash is the file's, and the path is the workspace's, in posix form
        data = (ws.root / r["path"]).read_bytes()
        assert db_files.Written.of(r["path"], r["kind"], data).sha256 == r["sha256"]
        assert not r["path"].startswith("/") and "\\" not in r["path"]
    assert {r["cycle_id"] is None for r in rows if r["kind"].startswith(("workshop",
                                                                          "grading"))} == {True}
    data = status_json(run, ws)
    assert data["files"]["noticed"] == [] and data["workshop_files"]["noticed"] == []
    assert data["files"]["checked"] == sum(1 for r in rows if r["cycle_id"] is not None)
    text = run("-w", ws.root, "status", "--cycle", CYCLE).stdout
    assert f"the {data['files']['checked']} qaudit wrote for the cycle are as it wrote" in " ".join(
        text.split())
    before = messages(ws)
    for kind in ("allocations", "forms", "feedback"):
        result = send(run, ws, kind)
        assert result.code == 0, result.stderr
        assert "nothing new to send" in result.stdout
    assert messages(ws) == before


# --- noticed by status --------------------------------------------------------------------

KINDS_IN_CYCLE = [db_files.AUDIT_FORM, db_files.REFLECTION_FORM, db_files.MANAGER_WORKBOOK,
                  db_files.REGISTER, db_files.MODERATION_WORKBOOK, db_files.DRAFT,
                  db_files.FEEDBACK_PACK, db_files.REPORT]


@pytest.mark.parametrize("kind", KINDS_IN_CYCLE)
def test_a_file_of_the_cycle_replaced_on_the_share_is_named_by_status(
    run: Callable[..., Result], ws: Workspace, kind: str
) -> None:
    path = one_of(ws, kind)
    replace_on_share(ws, path)
    assert noticed(run, ws) == {relative(ws, path): "changed"}
    text = " ".join(run("-w", ws.root, "status", "--cycle", CYCLE).stdout.split())
    assert f"1 of the {status_json(run, ws)['files']['checked']} qaudit wrote for the cycle" \
           " changed or went missing" in text
    assert f"{relative(ws, path)}: changed ({db_files.KINDS[kind]}, written" in text
    assert "--accept-changed FILE" in text


@pytest.mark.parametrize("kind", [db_files.WORKSHOP_PACK, db_files.GRADING_WORKBOOK])
def test_a_workshop_file_replaced_on_the_share_is_named_by_status(
    run: Callable[..., Result], ws: Workspace, kind: str
) -> None:
    path = one_of(ws, kind)
    replace_on_share(ws, path)
    assert noticed(run, ws, "workshop_files") == {relative(ws, path): "changed"}
    assert noticed(run, ws) == {}
    text = " ".join(run("-w", ws.root, "status", "--cycle", CYCLE).stdout.split())
    assert "qaudit wrote for the workshops changed or went missing" in text
    assert "`qaudit workshop ingest`" in text


def test_a_missing_form_is_named_and_a_draft_tidied_away_is_not(
    run: Callable[..., Result], ws: Workspace
) -> None:
    form = one_of(ws, db_files.AUDIT_FORM)
    form.unlink()
    one_of(ws, db_files.DRAFT).unlink()  # sent from a mailbox, then deleted: normal
    assert noticed(run, ws) == {relative(ws, form): "missing"}


# --- refused by send ----------------------------------------------------------------------

SENT_WITH = [(db_files.AUDIT_FORM, "forms", ""), (db_files.REFLECTION_FORM, "forms", ""),
             (db_files.MANAGER_WORKBOOK, "allocations", ""),
             (db_files.DRAFT, "forms", "/outbox/forms/"),
             (db_files.REPORT, "reports", "-highlights.html")]


@pytest.mark.parametrize(("kind", "sent", "under"), SENT_WITH)
def test_send_refuses_a_file_replaced_on_the_share_and_sends_nothing(
    run: Callable[..., Result], ws: Workspace, kind: str, sent: str, under: str
) -> None:
    path = one_of(ws, kind, under)
    replace_on_share(ws, path)
    before, drafts = messages(ws), sorted(ws.root.rglob("*.eml"))
    message = refused(send(run, ws, sent))
    place = relative(ws, path)
    assert f"a file qaudit wrote is not as it wrote it, so nothing was sent: {place}: changed" \
           f" ({db_files.KINDS[kind]}, written {date.today():%d/%m/%Y}" in message
    assert f"--accept-changed '{place}'" in message and "who accepted it" in message
    assert {db_files.DRAFT: f"`qaudit send forms --cycle '{CYCLE}' --resend REFERENCE`",
            db_files.REPORT: f"`qaudit report` writes the cycle's reports again (`--cycle"
                             f" '{CYCLE}'`)"}.get(kind, "--redraw") in message
    assert messages(ws) == before and sorted(ws.root.rglob("*.eml")) == drafts
    dry = refused(send(run, ws, sent, "--dry-run"))  # a dry run says so too
    assert place in dry


def test_the_smtp_route_does_not_read_the_outbox(
    run: Callable[..., Result], ws: Workspace
) -> None:
    replace_on_share(ws, one_of(ws, db_files.DRAFT, "/outbox/forms/"))
    with edit_settings(ws.root) as settings:  # a relay nobody listens on: nothing is new
        settings["mail"]["host"] = "127.0.0.1"
    assert send(run, ws, "forms", "--smtp").code == 0


def test_several_files_changed_are_one_message_naming_the_first_and_counting_the_rest(
    run: Callable[..., Result], ws: Workspace
) -> None:
    forms = [ws.root / r["path"] for r in current(ws, db_files.AUDIT_FORM)][:8]
    for form in forms:
        form.write_bytes(form.read_bytes() + b"tampered")
    message = refused(send(run, ws, "forms"))
    assert message.startswith("Error: 8 files qaudit wrote are not as it wrote them")
    assert "and 3 more (`qaudit status --cycle" in message
    assert "--accept-changed FILE for each" in message


def test_a_change_accepted_on_purpose_goes_and_is_in_the_history(
    run: Callable[..., Result], ws: Workspace
) -> None:
    form = one_of(ws, db_files.AUDIT_FORM)
    replace_on_share(ws, form)
    place = relative(ws, form)
    result = run("-w", ws.root, "--by", "alice", "send", "forms", "--cycle", CYCLE,
                 "--accept-changed", place, "--json")
    assert result.code == 0, result.stderr
    went = json.loads(result.stdout)["messages"]
    reference = form.name.removesuffix("-audit.xlsx")
    assert [(m["about"], m["reason"]) for m in went] == [(f"{reference} audit form",
                                                          "changed")]
    assert noticed(run, ws) == {}
    (row,) = [r for r in current(ws) if r["path"] == place]
    assert (row["how"], row["actor"]) == ("accepted", "alice")
    assert row["sha256"] == db_files.Written.of(place, "", form.read_bytes()).sha256
    with raw_database(ws) as conn:
        (actor, detail), = conn.execute(
            "SELECT actor, detail_json FROM events WHERE kind = 'file_change_accepted'")
    assert actor == "alice" and json.loads(detail)["file"] == place
    log = " ".join(run("-w", ws.root, "log", "--cycle", CYCLE).stdout.split())
    assert "file_change_accepted" in log
    assert send(run, ws, "forms").code == 0  # accepted once, not asked again


def test_accepting_on_a_dry_run_records_nothing(
    run: Callable[..., Result], ws: Workspace
) -> None:
    form = one_of(ws, db_files.AUDIT_FORM)
    replace_on_share(ws, form)
    result = send(run, ws, "forms", "--dry-run", "--accept-changed", relative(ws, form))
    assert result.code == 0, result.stderr
    assert noticed(run, ws) == {relative(ws, form): "changed"}


def test_a_missing_form_accepted_as_gone_is_held_and_the_rest_goes(
    run: Callable[..., Result], ws: Workspace
) -> None:
    form = one_of(ws, db_files.REFLECTION_FORM)
    form.unlink()
    message = refused(send(run, ws, "forms"))
    assert f"{relative(ws, form)}: missing (self-reflection form" in message
    result = send(run, ws, "forms", "--accept-changed", str(form))  # its own path works too
    assert result.code == 0, result.stderr
    assert "is not there, so it cannot be attached" in " ".join(result.stdout.split())
    assert noticed(run, ws) == {}
    form.write_bytes(b"not what qaudit wrote")  # a file appearing there later is not qaudit's
    assert noticed(run, ws) == {relative(ws, form): "changed"}


@pytest.mark.parametrize(("named", "said"), [
    ("cycles/elsewhere/x.xlsx", "names no file qaudit wrote for cycle"),
    (None, "that file is as qaudit wrote it"),
])
def test_accept_changed_must_name_a_changed_file_of_the_cycle(
    run: Callable[..., Result], ws: Workspace, named: str | None, said: str
) -> None:
    name = named or relative(ws, one_of(ws, db_files.AUDIT_FORM))
    assert said in refused(send(run, ws, "forms", "--accept-changed", name))


def test_a_change_to_a_file_send_never_attaches_can_be_accepted_too(
    run: Callable[..., Result], ws: Workspace
) -> None:
    register = one_of(ws, db_files.REGISTER)
    replace_on_share(ws, register)
    assert send(run, ws, "forms").code == 0  # the register is not attached: not refused
    as_windows_writes_it = relative(ws, register).replace("/", "\\")
    assert send(run, ws, "forms", "--accept-changed", as_windows_writes_it).code == 0
    assert noticed(run, ws) == {}


def test_a_kept_decision_on_what_to_hide_changed_on_the_share_stops_the_report(
    run: Callable[..., Result], ws: Workspace
) -> None:
    """qaudit reads its kept decisions back itself: one edited to hide less could publish a
    figure that must stay hidden."""
    decision = one_of(ws, db_files.DECISION)
    kept = json.loads(decision.read_text(encoding="utf-8"))
    decision.write_text(json.dumps({**kept, "hidden": []}), encoding="utf-8")
    result = run("-w", ws.root, "report", "--cycle", CYCLE)
    message = refused(result)
    assert f"{relative(ws, decision)}: changed (kept decision on what to hide, written" in message
    assert "could show a figure that must stay hidden" in message
    decision.unlink()  # what the message offers when it cannot be put back: decided again
    assert run("-w", ws.root, "report", "--cycle", CYCLE).code == 0
    assert json.loads(decision.read_text(encoding="utf-8")) == kept
    assert relative(ws, decision) in {r["path"] for r in current(ws, db_files.DECISION)}


# --- hostile paths ------------------------------------------------------------------------


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _link(path: Path) -> None:
    copy = path.with_name("copy.bin")
    shutil.copyfile(path, copy)  # the very same bytes, through a link: still replaced
    path.unlink()
    path.symlink_to(copy)


def _pipe(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)  # reading it would wait for ever


HOSTILE = {"replaced by a folder": _folder, "replaced by a link": _link,
           "replaced by something that is not a file": _pipe}


@pytest.mark.parametrize("state", sorted(HOSTILE))
def test_a_form_replaced_by_something_else_is_one_clear_message(
    run: Callable[..., Result], ws: Workspace, state: str
) -> None:
    if state != "replaced by a folder" and os.name == "nt":
        pytest.skip("links and pipes are made differently on Windows")
    form = one_of(ws, db_files.AUDIT_FORM)
    HOSTILE[state](form)
    assert noticed(run, ws) == {relative(ws, form): state}
    message = refused(send(run, ws, "forms"))
    assert f"{relative(ws, form)}: {state} (audit form" in message
    # it cannot be accepted as a file to attach: still refused
    assert state in refused(send(run, ws, "forms", "--accept-changed", relative(ws, form)))


def test_a_folder_of_forms_replaced_by_a_link_to_other_files_is_noticed(
    run: Callable[..., Result], ws: Workspace
) -> None:
    if os.name == "nt":
        pytest.skip("a link to a folder needs a privilege on Windows")
    forms = one_of(ws, db_files.AUDIT_FORM).parent
    elsewhere = ws.root.parent / "elsewhere"
    shutil.move(forms, elsewhere)  # the same files, even: reached through a link, not qaudit's
    forms.symlink_to(elsewhere, target_is_directory=True)
    found = noticed(run, ws)
    assert len(found) == len(current(ws, db_files.AUDIT_FORM))
    assert set(found.values()) == {"replaced by a link"}
    assert "a folder on its way is a link" in refused(send(run, ws, "forms"))


def test_an_unreadable_form_is_one_clear_message(
    run: Callable[..., Result], ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = one_of(ws, db_files.AUDIT_FORM)
    real_open = os.open

    def no_read(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path).name == form.name:  # as a share answers a file it may not read
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_read)
    assert noticed(run, ws) == {relative(ws, form): "unreadable"}
    message = refused(send(run, ws, "forms"))
    assert f"{relative(ws, form)}: unreadable (Permission denied) (audit form" in message


# --- written again, taken back, purged ----------------------------------------------------


@pytest.fixture
def fresh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Workspace:
    """A cycle just drawn: nothing back, so it may be drawn again."""
    ws = drawn_cycle(tmp_path / "fresh")
    capsys.readouterr()  # what drawing it printed
    return ws


def test_a_redraw_writes_every_file_anew_and_its_hashes_supersede_the_old(
    run: Callable[..., Result], fresh: Workspace
) -> None:
    ws = fresh
    before = {r["path"]: r["id"] for r in current(ws)}
    replace_on_share(ws, one_of(ws, db_files.AUDIT_FORM))
    (ws.cycle_dir(CYCLE) / "register.xlsx").unlink()
    assert len(noticed(run, ws)) == 2
    result = run("-w", ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE,
                 "--from", "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--redraw")
    assert result.code == 0, result.stderr
    assert noticed(run, ws) == {}
    after = {r["path"]: r["id"] for r in current(ws)}
    assert set(after) == set(before) and not set(after.values()) & set(before.values())
    with raw_database(ws) as conn:
        replaced = {i for (i,) in conn.execute(
            "SELECT id FROM issued_files WHERE replaced_at IS NOT NULL")}
    assert set(before.values()) <= replaced  # kept as history


def test_files_written_outside_the_workspace_are_not_recorded(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    ws = small_workspace(tmp_path / "ws", 1)
    result = run("-w", ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE,
                 "--from", "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--out",
                 tmp_path / "elsewhere")
    assert result.code == 0, result.stderr
    assert (tmp_path / "elsewhere" / "register.xlsx").is_file() and current(ws) == []
    assert status_json(run, ws)["files"] == {"checked": 0, "noticed": []}


def test_a_cancelled_cycles_files_are_no_longer_checked(
    run: Callable[..., Result], fresh: Workspace
) -> None:
    assert run("-w", fresh.root, "cycle", "cancel", CYCLE, "--reason", "drawn by mistake",
               "--force").code == 0
    assert current(fresh) == []


def test_a_moderation_workbook_filled_on_the_share_is_taken_back_as_it_is(
    run: Callable[..., Result], ws: Workspace
) -> None:
    book = one_of(ws, db_files.MODERATION_WORKBOOK)
    with raw_database(ws) as conn:  # taken back as it was filled elsewhere: fill it here
        conn.execute("DELETE FROM moderation_outcomes")
    fill_forms.fill_moderation(book, book, random.Random(1))
    assert noticed(run, ws) == {relative(ws, book): "changed"}
    assert run("-w", ws.root, "moderate", "ingest", book).code == 0
    assert noticed(run, ws) == {}
    (row,) = current(ws, db_files.MODERATION_WORKBOOK)
    assert row["how"] == "returned"


def test_a_purge_leaves_no_path_naming_anything_of_the_cycle(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    ws = drawn_cycle(tmp_path / "old", due_in_days=-3)
    with edit_settings(ws.root) as settings:
        settings["sampling"]["worker_cooldown_cycles"] = 0
    name_auditors(ws, allocations(ws))
    assert send(run, ws, "forms").code == 0
    form = one_of(ws, db_files.AUDIT_FORM)
    replace_on_share(ws, form)
    assert send(run, ws, "forms", "--accept-changed", relative(ws, form)).code == 0
    references = [a.reference for a in allocations(ws)]
    result = run("-w", ws.root, "purge", "--before", "01/11/2026", "--yes")
    assert result.code == 0, result.stderr
    with raw_database(ws) as conn:
        assert conn.execute("SELECT count(*) FROM issued_files").fetchone()[0] == 0
        details = [d for (d,) in conn.execute("SELECT detail_json FROM events")]
    assert not [d for d in details for ref in references if ref in d]
