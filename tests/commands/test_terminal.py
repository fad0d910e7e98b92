"""qaudit on a terminal: progress bars only where they can be seen, tables that read at 80
columns, no colour under NO_COLOR, and shell completion.

The autouse fixture in conftest.py makes the consoles 200 wide and colourless; the tests
here narrow them to 80 (as a laptop's terminal is) or run qaudit as a user does, in a
pseudo-terminal, to see what reaches the screen.
"""

from __future__ import annotations

import json
import os
import pty
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import fill_forms
import fill_workshop
import pytest

from conftest import EXAMPLES, Result, copy_workspace, qaudit_ok, small_workspace
from qaudit import cli, layout
from qaudit.values import HIDDEN_IN_TEXT

CYCLE = "2026-27 C3"
WORKSHOP = "Q2 2026-27"
WIDTH = 80
#: What an auditor writes: long enough to wrap, and every word of it must stay readable.
NOTE = ("The practitioner recorded the person's own words throughout, but the carer's views"
        " were not sought before the support plan was agreed, which the team manager will"
        " follow up in supervision.")
#: A returned form renamed the way people do, longer than a column could hold.
LONG_NAME = "2026-27-C3-001-audit-returned-by-the-auditor-after-the-team-meeting-v2.xlsx"


@pytest.fixture(scope="module")
def returned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty audits back, every grade among them (five Requires improvement, so on the
    re-audit list), each rationale long; a workshop made of them and graded."""
    root = tmp_path_factory.mktemp("terminal") / "ws"
    small_workspace(root, 1)
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due",
              (date.today() + timedelta(days=10)).strftime("%d/%m/%Y"))
    returns = root.parent / "returns"
    rng = random.Random(5)
    forms = sorted((layout.cycle_folder(root, CYCLE) / layout.AUDIT_FORMS).glob("*.xlsx"))
    for i, form in enumerate(forms):
        fill_forms.fill_audit(form, returns / form.name, rng, grade=fill_forms.GRADES[i % 4],
                              overrides={"rationale": NOTE})
    qaudit_ok(root, "ingest", returns)
    qaudit_ok(root, "workshop", "make", WORKSHOP, "--cases", "6", "--participants", "5",
              "--seed", "5")
    graded = root.parent / "graded"
    graded.mkdir()
    fill_workshop.fill_workshop(layout.workshop_folder(root / layout.WORKSHOPS, WORKSHOP),
                                graded, 3)
    qaudit_ok(root, "workshop", "ingest", graded)
    return root


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Consoles 80 columns wide, as a laptop's terminal."""
    monkeypatch.setattr(cli.out, "_width", WIDTH)
    monkeypatch.setattr(cli.err, "_width", WIDTH)


def readable_at_80(text: str, whole: tuple[str, ...] = (), notes: tuple[str, ...] = ()) -> None:
    """No line past 80 columns; each of ``whole`` whole on one line; each of ``notes`` set
    several words a line, never one (its first three words together on a line)."""
    lines = text.splitlines()
    too_long = [line for line in lines if len(line) > WIDTH]
    assert not too_long, too_long
    for item in whole:
        assert any(item in line for line in lines), (item, text)
    for note in notes:
        start = " ".join(note.split()[:3])
        assert any(start in line for line in lines), (note, text)
    assert "…" not in text


# --- 80 columns ------------------------------------------------------------------------------


def test_workshop_stats_read_at_80_columns(run: Callable[..., Result], returned: Path,
                                           narrow: None) -> None:
    result = run("-w", returned, "workshop", "stats", WORKSHOP, "--internal")
    assert result.code == 0, result.stderr
    readable_at_80(result.stdout, whole=("Participant 1", "Krippendorff's alpha (ordinal)",
                                         "Outstanding", "2026-27-C3-0"))
    header = next(line for line in result.stdout.splitlines() if line.startswith("Participant"))
    assert "Graded" in header


def test_reaudit_list_reads_at_80_columns_with_notes_wrapped_at_words(
        run: Callable[..., Result], returned: Path, narrow: None) -> None:
    listed = json.loads(run("-w", returned, "reaudit", "list", "--json").stdout)
    assert len(listed) == 5
    result = run("-w", returned, "reaudit", "list")
    assert result.code == 0, result.stderr
    readable_at_80(result.stdout, whole=tuple(r["reference"] for r in listed),
                   notes=tuple(r["detail"] for r in listed))


def test_a_long_file_name_in_a_findings_table_stays_whole(run: Callable[..., Result],
                                                          returned: Path, narrow: None,
                                                          tmp_path: Path) -> None:
    form = layout.audit_form(layout.cycle_folder(returned, CYCLE), "2026-27-C3-001")
    fill_forms.fill_audit(form, tmp_path / LONG_NAME, random.Random(1), grade="Good",
                          overrides={"rationale": "", "grade": "Excellent"})
    result = run("-w", returned, "ingest", tmp_path / LONG_NAME)
    assert result.code == 1
    readable_at_80(result.stdout, whole=(LONG_NAME, "(rationale)", "(grade)"),
                   notes=("is required; please fill it in", "is not allowed; choose Requires"))
    assert any(line.strip() == LONG_NAME for line in result.stdout.splitlines())


@pytest.mark.parametrize("command", [("status", "--by", "service-manager"), ("cycle", "list"),
                                     ("ri",), ("log",), ("staff", "list"),
                                     ("moderate", "stats", "--all"), ("workshop", "list"),
                                     ("status", "--year", "2026-27")])
def test_other_tables_fit_80_columns_without_cutting_a_word(
        run: Callable[..., Result], returned: Path, narrow: None, command: tuple[str, ...]
) -> None:
    result = run("-w", returned, *command)
    assert result.code in (0, 1), result.stderr
    readable_at_80(result.stdout)


# --- progress bars ---------------------------------------------------------------------------


@pytest.fixture
def drawn_ws(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "ws"
    small_workspace(root, 1)
    shutil.copy(EXAMPLES / "case-export.xlsx", tmp_path / "export.xlsx")
    yield root


def allocate(run: Callable[..., Result], root: Path, *extra: str) -> Result:
    return run("-w", root, "allocate", root.parent / "export.xlsx", "--cycle", CYCLE,
               "--from", "01/09/2026", "--to", "31/10/2026", "--seed", "7", *extra)


def test_a_terminal_sees_a_bar_for_reading_the_export_and_writing_the_workbooks(
        run: Callable[..., Result], drawn_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.err, "_force_terminal", True)
    monkeypatch.setattr(cli.err, "is_interactive", True)
    result = allocate(run, drawn_ws)
    assert result.code == 0, result.stderr
    assert "Reading export" in result.stderr and "Writing workbooks" in result.stderr
    assert "Reading export" not in result.stdout and "Wrote " in result.stdout


def test_piped_or_json_output_holds_no_bar_and_the_same_text(
        run: Callable[..., Result], drawn_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    piped = allocate(run, drawn_ws, "--dry-run")
    assert piped.code == 0 and piped.stderr == ""
    monkeypatch.setattr(cli.err, "_force_terminal", True)
    monkeypatch.setattr(cli.err, "is_interactive", True)
    on_terminal = allocate(run, drawn_ws, "--dry-run")
    assert "Reading export" in on_terminal.stderr and on_terminal.stdout == piped.stdout
    as_json = allocate(run, drawn_ws, "--json")
    assert as_json.code == 0 and as_json.stderr == ""
    assert json.loads(as_json.stdout)["dry_run"] is False


def test_a_workshop_shows_a_bar_while_its_workbooks_are_written(
        run: Callable[..., Result], returned: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ws"
    copy_workspace(returned, root)
    monkeypatch.setattr(cli.err, "_force_terminal", True)
    monkeypatch.setattr(cli.err, "is_interactive", True)
    result = run("-w", root, "workshop", "make", "Q3 2026-27", "--cases", "3",
                 "--participants", "4", "--seed", "2")
    assert result.code == 0, result.stderr
    assert "Writing workbooks" in result.stderr


# --- colour ----------------------------------------------------------------------------------


def on_a_terminal(*args: str | Path, **env: str) -> tuple[int, bytes]:
    """Run qaudit in a pseudo-terminal (as a user's shell does) and read all it shows."""
    environ = {k: v for k, v in os.environ.items()
               if k not in {"NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE",
                            "COLUMNS", "TERM"}}
    environ.update({"TERM": "xterm-256color", "COLUMNS": "100"}, **env)
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "qaudit", *map(str, args)],
                               stdin=terminal, stdout=terminal, stderr=terminal, env=environ)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: qaudit has finished
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    return process.wait(timeout=120), shown


def test_no_color_leaves_no_escape_sequence_in_help_errors_or_tables(returned: Path) -> None:
    assert b"\x1b[" in on_a_terminal("--help")[1]  # the pseudo-terminal gets colour
    for args in (("--help",), ("status", "--by", "nobody"), ("-w", returned, "ri", "show", "X"),
                 ("-w", returned, "status")):
        code, shown = on_a_terminal(*args, NO_COLOR="1")
        assert b"\x1b" not in shown, (args, shown[:300])
        assert code in (0, 1) and shown.strip()


def test_a_dumb_terminal_gets_no_escape_sequence_either(returned: Path) -> None:
    code, shown = on_a_terminal("-w", returned, "cycle", "list", TERM="dumb")
    assert code == 0 and b"\x1b" not in shown and CYCLE.encode() in shown


def test_no_color_shows_no_progress_bar_either(returned: Path, tmp_path: Path) -> None:
    """A bar redraws itself with cursor movements (escape sequences): on a terminal it is
    shown, and under NO_COLOR it is not, and the step is done all the same."""
    args = ("-w", returned, "report", "--cycle", CYCLE, "--format", "md")
    code, shown = on_a_terminal(*args, "--out", tmp_path / "coloured")
    assert code == 0 and b"Writing reports" in shown and b"\x1b[?25l" in shown  # cursor hidden
    code, shown = on_a_terminal(*args, "--out", tmp_path / "plain", NO_COLOR="1")
    assert code == 0 and b"\x1b" not in shown, shown[:300]
    assert b"Writing reports" not in shown
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == sorted(
        p.name for p in (tmp_path / "coloured").iterdir())


#: A learning note as a returned moderation workbook can hold it (OOXML escapes, which
#: Excel and qaudit read back as the characters): a terminal reset (ESC c), backspaces that
#: would overprint "Inadequate" with "Good", and a right-to-left override that would show
#: the words after it backwards ("Risk was reweed, No").
HOSTILE_LEARNING = ("_x001B_cPractice was Inadequate" + "_x0008_" * 10
                    + "Good \u202eoN ,deewer saw ksiR")


def test_learning_from_a_returned_workbook_never_drives_the_terminal(
        run: Callable[..., Result], returned: Path, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    copy_workspace(returned, root)
    assert run("-w", root, "moderate", "select", "--cycle", CYCLE, "--seed", "1").code == 0
    book = layout.moderation_workbook(layout.moderation_folder(
        layout.cycle_folder(root, CYCLE)), CYCLE)
    fill_forms.fill_moderation(book, tmp_path / "moderated.xlsx", random.Random(9),
                               {"mod_1_learning": HOSTILE_LEARNING})
    assert run("-w", root, "moderate", "ingest", tmp_path / "moderated.xlsx").code == 0
    result = run("-w", root, "moderate", "learning", "--cycle", CYCLE)
    assert result.code == 0, result.stderr
    assert not {"\x1b", "\b", "\u202e"} & set(result.stdout)
    assert ("\ufffdcPractice was Inadequate" + "\ufffd" * 10 + "Good \ufffdoN ,deewer saw"
            in result.stdout)
    # Otherwise the Markdown as --out writes it, character for character.
    assert run("-w", root, "moderate", "learning", "--cycle", CYCLE, "--out",
               tmp_path / "learning.md").code == 0
    written = (tmp_path / "learning.md").read_text(encoding="utf-8")
    assert result.stdout == HIDDEN_IN_TEXT.sub("\ufffd", written)


# --- shell completion ------------------------------------------------------------------------


def complete(words: str, **env: str) -> subprocess.CompletedProcess[str]:
    """What qaudit answers bash's completion, with the words typed so far."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "qaudit"], capture_output=True, text=True,
        env={**os.environ, "_QAUDIT_COMPLETE": "complete_bash", "COMP_WORDS": words,
             "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
             **env}, timeout=120)


def test_show_completion_prints_a_script_for_each_shell() -> None:
    for shell, marker in (("bash", "complete -o default -F"), ("zsh", "compdef"),
                          ("fish", "complete --command qaudit"), ("powershell", "Register-")):
        done = subprocess.run(
            [sys.executable, "-m", "qaudit", "--show-completion", shell], capture_output=True,
            text=True, env={**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
            timeout=120)
        assert done.returncode == 0, done.stderr
        assert "_QAUDIT_COMPLETE" in done.stdout and marker in done.stdout, shell


def test_completion_lists_commands_and_choices_without_loading_pandas() -> None:
    commands = complete("qaudit st")
    assert commands.returncode == 0
    assert set(commands.stdout.split()) == {"status", "staff"}
    loaded = commands.stderr  # -X importtime: every module imported, one a line
    assert "openpyxl" not in loaded and "pandas" not in loaded and "sqlite3" not in loaded
    assert set(complete("qaudit status --by ").stdout.split()) == {
        "auditor", "service-manager", "practitioner"}
    assert "reaudit" in complete("qaudit ").stdout.split()


def test_completion_is_not_installed_in_powershell_behind_the_users_back(
        tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qaudit", "--install-completion", "pwsh"], capture_output=True,
        text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path),
                                    "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert done.returncode == 1
    assert "Unrestricted" in done.stderr and "--show-completion" in done.stderr
    assert not list(tmp_path.iterdir())
