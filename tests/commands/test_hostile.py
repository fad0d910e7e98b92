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
from qaudit.workspace import Workspace, open_workspace

CYCLE = "C1"
WINDOW = ["--from", "01/09/2026", "--to", "31/10/2026"]


@pytest.fixture
def drawn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Workspace:
    ws = small_workspace(tmp_path / "ws", 1)
    qaudit_ok(ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, *WINDOW,
              "--seed", "1")
    capsys.readouterr()  # the draw's own output is not the test's
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


@pytest.mark.sqlite_only
def test_files_with_personal_data_are_readable_by_their_owner_only(drawn: Workspace) -> None:
    assert stat.S_IMODE(drawn.db_path.stat().st_mode) == 0o600
    folder = drawn.cycle_dir(CYCLE)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.rglob("*.xlsx"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.sqlite_only
def test_an_empty_database_is_refused_not_replaced(run: Callable[..., Result],
                                                   drawn: Workspace) -> None:
    drawn.db_path.write_bytes(b"")
    for args in (["status"], ["cycle", "list"], ["ingest", drawn.cycle_dir(CYCLE)]):
        result = run("-w", drawn.root, *args)
        assert result.code == 1 and "is empty (0 bytes)" in result.stderr, args
        assert "restore it from a backup" in result.stderr.lower()
    assert drawn.db_path.stat().st_size == 0  # not silently made anew


@pytest.mark.sqlite_only
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


@pytest.mark.sqlite_only
def test_a_database_busy_with_another_officers_command_names_them(drawn: Workspace) -> None:
    """Another qaudit process holds the record in a transaction (a long ingest, say): the
    second officer is told who, on which computer and since when."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from pathlib import Path\n"
         "from qaudit.db import Store\n"
         "store = Store.open(Path(sys.argv[1]), actor='alice')\n"
         "store.conn.execute('BEGIN EXCLUSIVE')  # as while a big ingest commits\n"
         "print('holding', flush=True)\n"
         "time.sleep(60)\n", str(drawn.db_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        env = {**os.environ, "QAUDIT_BUSY_SECONDS": "1"}
        done = subprocess.run([sys.executable, "-m", "qaudit", "-w", str(drawn.root), "--by",
                               "bob", "status"],
                              capture_output=True, text=True, env=env, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    assert "is busy: it is in use by alice on " in done.stderr
    assert " since " in done.stderr and "Try again" in done.stderr
    # alice's command was killed: its note is dropped, and the next command runs.
    qaudit_ok(drawn.root, "status")
    assert not list((drawn.root / ".qaudit-in-use").iterdir())


def test_the_first_error_surfaces_not_a_failed_rollback(drawn: Workspace) -> None:
    with (drawn.store() as store, pytest.raises(OSError, match="No space"),
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


def test_out_never_takes_the_workspace_or_a_folder_qaudit_did_not_make(
    run: Callable[..., Result], drawn: Workspace, tmp_path: Path
) -> None:
    export = EXAMPLES / "case-export.xlsx"
    for out in (drawn.root, drawn.root.parent):
        result = run("-w", drawn.root, "allocate", export, "--cycle", CYCLE, *WINDOW,
                     "--redraw", "--out", out)
        assert result.code == 1 and "is the workspace or holds it" in result.stderr
    assert (drawn.root / "qaudit.toml").is_file()
    assert drawn.db_path.is_file() or drawn.settings.database.url
    theirs = tmp_path / "someone-elses"
    theirs.mkdir()
    (theirs / "minutes.docx").write_text("not ours")
    result = run("-w", drawn.root, "allocate", export, "--cycle", CYCLE, *WINDOW,
                 "--redraw", "--out", theirs)
    assert result.code == 1 and "qaudit did not make" in result.stderr
    assert (theirs / "minutes.docx").is_file()
    # Its own folder it replaces (keeping the old one beside it).
    again = run("-w", drawn.root, "allocate", export, "--cycle", CYCLE, *WINDOW, "--redraw")
    assert again.code == 0, again.stderr
    assert any(p.name.startswith("C1.replaced-") for p in (drawn.root / "cycles").iterdir())


KILL_MID_ALLOCATE = """
import os, signal, sys
import qaudit.jobs.allocate as job
from qaudit import cli

real_write = job._write_files

def write_then_die(ws, plan, folder, on_file):
    real_write(ws, plan, folder, on_file)
    os.kill(os.getpid(), signal.SIGKILL)  # every workbook written, nothing stored or moved

job._write_files = write_then_die
cli.main(sys.argv[1:])
"""


def test_a_killed_allocate_leaves_no_personal_data_behind_and_can_run_again(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    ws = small_workspace(tmp_path / "ws", 1)
    args = ["-w", str(ws.root), "allocate", str(EXAMPLES / "case-export.xlsx"), "--cycle",
            CYCLE, *WINDOW, "--seed", "1"]
    killed = subprocess.run([sys.executable, "-c", KILL_MID_ALLOCATE, *args],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9
    cycles = ws.root / "cycles"
    assert [p.name[:8] for p in cycles.iterdir()] == [".qaudit-"]  # the scratch, hidden
    with ws.store() as store:
        assert store.draws.cycles() == []  # nothing stored
    result = run(*args)
    assert result.code == 0, result.stderr
    assert [p.name for p in cycles.iterdir()] == ["C1"]  # the stale scratch is gone


# --- returned forms that should never get past the gate, nor stop the batch ----------------


def _filled(ws: Workspace, folder: Path, count: int) -> list[Path]:
    import random

    import fill_forms

    forms = sorted((ws.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx"))[:count]
    for n, form in enumerate(forms):
        fill_forms.fill_audit(form, folder / form.name, random.Random(n))
    return [folder / f.name for f in forms]


def _mangle(path: Path, how: str) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    if how == "cleared-meta":
        for row in wb["_qaudit"].iter_rows():
            row[1].value = None
    elif how == "ref-error":
        wb.defined_names["grade"].attr_text = "#REF!"
    elif how == "beyond-last-row":
        wb.defined_names["rationale"].attr_text = "Audit!$A$1048577"
    elif how == "far-column":
        wb.defined_names["strengths"].attr_text = "Audit!$XFE$5"
    elif how == "thousands-of-columns":
        ws = wb["Audit"]
        for col in range(1, 4000):
            ws.cell(row=300, column=col, value="x")
    wb.save(path)


@pytest.mark.parametrize("how", ["cleared-meta", "ref-error", "beyond-last-row", "far-column",
                                 "thousands-of-columns"])
def test_a_mangled_form_is_refused_alone_and_the_batch_goes_on(
    run: Callable[..., Result], drawn: Workspace, tmp_path: Path, how: str
) -> None:
    import json

    first, *good = _filled(drawn, tmp_path / "back", 4)
    _mangle(first, how)
    result = run("-w", drawn.root, "ingest", tmp_path / "back", "--json")
    assert "unexpected failure" not in result.stderr
    assert result.stdout, result.stderr
    data = json.loads(result.stdout)
    by_file = {Path(f["file"]).name: f for f in data["files"]}
    assert all(by_file[g.name]["status"] == "accepted" for g in good), by_file
    if how == "thousands-of-columns":  # the answers are all still where they belong
        assert by_file[first.name]["status"] == "accepted"
    else:
        assert by_file[first.name]["status"] == "refused"
        assert result.code == 1 and by_file[first.name]["findings"]


def test_concurrent_ingests_of_one_folder_store_each_return_once(
    drawn: Workspace, tmp_path: Path
) -> None:
    import json

    _filled(drawn, tmp_path / "back", 12)
    command = [sys.executable, "-m", "qaudit", "-w", str(drawn.root), "ingest",
               str(tmp_path / "back"), "--json"]
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]
    outputs = [child.communicate(timeout=300) for child in children]
    for child, (_, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr
        assert "unexpected failure" not in stderr
    summaries = [json.loads(stdout)["summary"] for stdout, _ in outputs]
    assert sum(s["accepted"] for s in summaries) == 12
    assert sum(s["accepted"] + s["unchanged"] for s in summaries) == 24
    with drawn.store() as store:
        assert len(store.moderation.returned_audits(CYCLE)) == 12


@pytest.fixture(scope="module")
def one_good_form(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    root = tmp_path_factory.mktemp("fuzz")
    ws = small_workspace(root / "ws", 1)
    qaudit_ok(ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, *WINDOW,
              "--seed", "1")
    (form,) = _filled(ws, root / "back", 1)
    return ws.root, form.read_bytes()


def test_mutated_forms_only_ever_end_in_a_clean_refusal(
    one_good_form: tuple[Path, bytes], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Fuzz: bytes of a valid form flipped, cut, repeated or inserted, and the same inside
    its zipped XML parts; ingest must accept it or refuse it with findings, never fail."""
    import io
    import random
    import zipfile
    from datetime import date

    from qaudit.jobs.ingest import ingest_files

    root, data = one_good_form
    rng = random.Random(20261125)
    folder = tmp_path_factory.mktemp("mutants")
    paths = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = {i.filename: archive.read(i) for i in archive.infolist()}
    for n in range(60):
        if n % 2:  # mutate the raw bytes
            raw = bytearray(data)
            for _ in range(rng.randint(1, 20)):
                at = rng.randrange(len(raw))
                raw[at:at + rng.randint(1, 8)] = bytes(rng.randrange(256)
                                                       for _ in range(rng.randint(0, 8)))
            mutant = bytes(raw)
        else:  # mutate one XML part and zip it up again
            name = rng.choice([p for p in parts if p.endswith(".xml")])
            text = bytearray(parts[name])
            for _ in range(rng.randint(1, 6)):
                at = rng.randrange(len(text))
                text[at:at + rng.randint(0, 12)] = rng.choice(
                    [b"", b"<", b">", b"&", b'"', b"\x00", b"#REF!", b"999999", b"<c r=\"ZZ9\"/>"])
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
                for part, content in parts.items():
                    out.writestr(part, bytes(text) if part == name else content)
            mutant = buffer.getvalue()
        path = folder / f"mutant-{n:02d}.xlsx"
        path.write_bytes(mutant)
        paths.append(path)
    with open_workspace(root).store() as store:
        report = ingest_files(store, paths, today=date.today())
    assert len(report.outcomes) == len(paths)
    for outcome in report.outcomes:
        assert outcome.status in ("accepted", "unchanged", "refused"), outcome
        if outcome.status == "refused":
            assert outcome.findings and all(f.message for f in outcome.findings)
            for finding in outcome.findings:
                assert "Error" not in finding.message and "Traceback" not in finding.message


def test_a_date_that_cannot_be_right_is_refused(
    run: Callable[..., Result], drawn: Workspace, tmp_path: Path
) -> None:
    import json
    import random
    from datetime import date

    import fill_forms

    form = sorted((drawn.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx"))[0]
    fill_forms.fill_audit(form, tmp_path / "back" / form.name, random.Random(1),
                          when=date(1900, 1, 1))
    result = json.loads(run("-w", drawn.root, "ingest", tmp_path / "back", "--json").stdout)
    codes = [f["code"] for f in result["files"][0]["findings"]]
    assert "implausible-date" in codes


def test_a_due_date_long_past_is_refused_and_a_past_one_warned(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    from datetime import date, timedelta

    ws = small_workspace(tmp_path / "ws", 1)
    export = EXAMPLES / "case-export.xlsx"
    old = run("-w", ws.root, "allocate", export, "--cycle", "C1", "--from", "01/09/2024",
              "--to", "31/10/2024", "--due", "30/11/2024")
    assert old.code == 1 and "over a year ago" in old.stderr
    past = (date.today() - timedelta(days=3)).strftime("%d/%m/%Y")
    late = run("-w", ws.root, "allocate", export, "--cycle", "C1", *WINDOW, "--due", past,
               "--seed", "1")
    assert late.code == 0 and "every return will be late" in late.stderr


def test_a_full_disk_mid_batch_reports_exactly_what_was_stored(
    drawn: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date

    from qaudit.db.returns import Returns
    from qaudit.errors import StorageError
    from qaudit.jobs.ingest import ingest_files

    paths = _filled(drawn, tmp_path / "back", 5)
    real_store = Returns.store
    calls = {"n": 0}

    def store_until_full(self: Returns, *args: object, **kw: object) -> int | None:
        calls["n"] += 1
        if calls["n"] > 2:
            raise StorageError("the workspace database could not be written (database or"
                               " disk is full); nothing of this was stored.")
        return real_store(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Returns, "store", store_until_full)
    with drawn.store() as store:
        report = ingest_files(store, paths, today=date.today())
        stored = {a.reference for a in store.moderation.returned_audits(CYCLE)}
    statuses = [o.status for o in report.outcomes]
    assert statuses == ["accepted", "accepted", "refused", "refused", "refused"]
    assert all(o.findings[0].code == "not-stored" for o in report.outcomes[2:])
    assert stored == {o.reference for o in report.outcomes[:2]}


# --- the other readers: settings, question sets, the moderation workbook ----------------------


def test_mutated_settings_only_ever_end_in_a_named_config_error(tmp_path: Path) -> None:
    """Fuzz: the commented qaudit.toml with characters flipped, cut and inserted."""
    import random

    from qaudit.config import default_toml, load_settings
    from qaudit.errors import ConfigError

    rng = random.Random(7)
    text = default_toml()
    path = tmp_path / "qaudit.toml"
    for _ in range(150):
        chars = list(text)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(chars))
            chars[at:at + rng.randint(0, 5)] = rng.choice(
                ["", "=", "[", "]", '"', "\n", "-1", "true", "'x'", "\x00", "1e999", "{"])
        path.write_text("".join(chars), encoding="utf-8")
        try:
            load_settings(path)
        except ConfigError as exc:
            assert str(exc) and "Traceback" not in str(exc)


def test_mutated_question_sets_only_ever_end_in_a_named_error(tmp_path: Path) -> None:
    import random

    from qaudit.errors import QuestionSetError
    from qaudit.questions import load_question_set, question_set_path

    rng = random.Random(11)
    text = question_set_path("mca_assessment", None).read_text(encoding="utf-8")
    own = tmp_path / "questions"
    own.mkdir()
    for _ in range(100):
        chars = list(text)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(chars))
            chars[at:at + rng.randint(0, 5)] = rng.choice(
                ["", "=", "[[", "]", '"', "\n", "key = 1", "\x00", "{"])
        (own / "mca_assessment.toml").write_text("".join(chars), encoding="utf-8")
        try:
            load_question_set("mca_assessment", tmp_path)
        except QuestionSetError as exc:
            assert str(exc)


def test_mutated_moderation_workbooks_only_ever_end_in_a_clean_refusal(
    run: Callable[..., Result], drawn: Workspace, tmp_path: Path
) -> None:
    import io
    import random
    import zipfile
    from datetime import date

    from qaudit.jobs.moderate import ingest_outcomes

    _filled(drawn, tmp_path / "back", 10)
    assert run("-w", drawn.root, "ingest", tmp_path / "back").code == 0
    assert run("-w", drawn.root, "moderate", "select", "--cycle", CYCLE, "--seed", "1").code == 0
    book = (drawn.cycle_dir(CYCLE) / "moderation" / "C1-moderation.xlsx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        parts = {i.filename: archive.read(i) for i in archive.infolist()}
    rng = random.Random(3)
    with drawn.store() as store:
        for n in range(30):
            name = rng.choice([p for p in parts if p.endswith(".xml")])
            text = bytearray(parts[name])
            for _ in range(rng.randint(1, 5)):
                at = rng.randrange(len(text))
                text[at:at + rng.randint(0, 10)] = rng.choice(
                    [b"", b"<", b"&", b'"', b"#REF!", b"x", b"<c r=\"ZZ9\"/>"])
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
                for part, content in parts.items():
                    out.writestr(part, bytes(text) if part == name else content)
            path = tmp_path / f"mod-{n}.xlsx"
            path.write_bytes(buffer.getvalue())
            result = ingest_outcomes(store, path, today=date.today())
            assert result.status in ("accepted", "unchanged", "refused")
            if result.status == "refused":
                assert result.findings and all(f.message for f in result.findings)


def test_a_cycle_folder_left_without_its_draw_is_moved_aside_on_the_next_run(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    """A crash after the workbooks moved into place but before the draw committed leaves a
    qaudit folder with no draw: the next allocate keeps it aside and draws afresh."""
    from qaudit.files import MARKER

    ws = small_workspace(tmp_path / "ws", 1)
    orphan = ws.cycle_dir(CYCLE)
    (orphan / "audit-forms").mkdir(parents=True)
    (orphan / MARKER).write_text("made by qaudit")
    (orphan / "audit-forms" / "C1-001-audit.xlsx").write_bytes(b"from the crashed run")
    result = run("-w", ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE,
                 *WINDOW, "--seed", "1")
    assert result.code == 0, result.stderr
    kept = [p for p in (ws.root / "cycles").iterdir() if p.name.startswith("C1.replaced-")]
    assert len(kept) == 1 and (kept[0] / "audit-forms" / "C1-001-audit.xlsx").is_file()
    assert (orphan / "register.xlsx").is_file()


def test_hidden_and_reordering_characters_in_names_never_reach_the_terminal(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    """Tag characters (invisible "ASCII"), bidi overrides and zero-width characters from
    an export are shown as U+FFFD, like control characters; tab and line feed are kept."""
    from qaudit.commands.common import escape

    hidden = ("\U000e0041", "\U000e007f", "\u202e", "\u2066", "\u200b", "\u2060", "\ufeff",
              "\x1b", "\r", "\x85")
    assert escape("a\tb\nc" + "".join(hidden)) == "a\tb\nc" + "\ufffd" * len(hidden)
    ws = small_workspace(tmp_path / "ws", 1)
    export = _export_with(tmp_path, "Hana\u202e eloC\U000e0041\U000e0042 Cole\u200b")
    assert run("-w", ws.root, "allocate", export, "--cycle", CYCLE, *WINDOW, "--seed",
               "1").code == 0
    for args in ((), ("--by", "service-manager")):
        shown = run("-w", ws.root, "status", *args).stdout
        assert not any(ch in shown for ch in hidden), args
        assert "Hana\ufffd eloC\ufffd\ufffd Cole\ufffd" in shown
