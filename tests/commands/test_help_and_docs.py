"""Docs stay true: every command explains itself with an example; the README's commands work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
import typer

from conftest import REPO, Result
from qaudit import cli

_GROUP = typer.main.get_command(cli.app)
COMMANDS = sorted(_GROUP.commands)  # type: ignore[attr-defined]
SUBCOMMANDS = sorted(
    f"{name} {sub}"
    for name, command in _GROUP.commands.items()  # type: ignore[attr-defined]
    for sub in getattr(command, "commands", {})
)


def test_the_app_has_the_commands_of_this_release() -> None:
    """Exactly these: a command added or removed must come with its docs and this list."""
    assert set(COMMANDS) == {"init", "allocate", "ingest", "ri", "escalations", "moderate",
                             "status", "export", "report", "log", "cycle", "staff", "feedback",
                             "send", "plan", "deep-dive", "reaudit", "workshop",
                             "purge", "backup", "restore", "db"}
    assert set(SUBCOMMANDS) == {"ri show", "ri record", "ri close", "ri reopen",
                                "cycle list", "cycle cancel",
                                "escalations close", "moderate select", "moderate ingest",
                                "moderate stats", "moderate learning",
                                "staff import", "staff list", "feedback record",
                                "feedback year", "deep-dive new", "deep-dive list",
                                "deep-dive show", "reaudit select", "reaudit list",
                                "reaudit stats", "workshop make", "workshop ingest",
                                "workshop stats", "workshop list", "db move-to"}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(run: Callable[..., Result], command: str) -> None:
    result = run(command, "--help")
    assert result.code == 0
    assert "Example" in result.stdout
    assert f"qaudit {command}" in result.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help_with_an_example(
    run: Callable[..., Result], command: str
) -> None:
    result = run(*command.split(), "--help")
    assert result.code == 0
    assert "Example" in result.stdout and f"qaudit {command}" in result.stdout


def test_top_level_help_and_version(run: Callable[..., Result]) -> None:
    assert "allocate" in run("--help").stdout
    assert run("--version").stdout.startswith("qaudit ")


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "qaudit", "--version"], capture_output=True,
                          text=True, check=True)
    assert done.stdout.startswith("qaudit ")


def test_readme_leads_with_make_demo_and_make_test() -> None:
    readme = (REPO / "README.md").read_text()
    first_commands = re.findall(r"^(make \w+)$", readme, flags=re.M)[:2]
    assert first_commands == ["make demo", "make test"]
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, flags=re.M) and re.search(r"^test:", makefile, flags=re.M)


def test_readme_qaudit_commands_are_real_commands() -> None:
    readme = (REPO / "README.md").read_text()
    used = set(re.findall(r"^\s*qaudit (?:-w \S+ )?([a-z]+)", readme, flags=re.M))
    assert used and used <= set(COMMANDS)


@pytest.mark.slow
def test_make_demo_script_runs_the_example_cycle(tmp_path: Path) -> None:
    """`make demo` is `examples/demo.sh` with the venv on PATH; run it as the README says."""
    env = dict(os.environ, DEMO_DIR=str(tmp_path),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(["bash", str(REPO / "examples" / "demo.sh")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "identical to the register, row for row" in done.stdout
    cycle = tmp_path / "workspace" / "cycles" / "2026-27-C3"
    assert (cycle / "register.xlsx").is_file()
    # The people loop: every kind drafted into the outbox, each a draft a mail client opens.
    for kind in ("allocations", "forms", "feedback", "reports"):
        drafts = sorted((cycle / "outbox" / kind).glob("*.eml"))
        assert drafts, kind
        message = BytesParser(policy=policy.default).parsebytes(drafts[0].read_bytes())
        assert message["X-Unsent"] == "1"
        assert "OFFICIAL-SENSITIVE" in message["Subject"]
        assert any(part.get_filename() for part in message.iter_attachments()), kind
    assert "Forms of 2026-27 C3: nothing new to send." in done.stdout  # the second run
    # The small year: a plan, two cycles, a deep dive, a re-audit round, a workshop, and
    # the year report.
    root = tmp_path / "workspace"
    assert "Audit workshops (the framework: at least quarterly)" in done.stdout
    assert "Krippendorff's alpha" in done.stdout
    year = (root / "reports" / "2026-27-year.md").read_text()
    assert "2026-27 C2, 2026-27 C3" in year and "Re-audits" in year
    assert (root / "cycles" / "2026-27-C3-re-audits" / "register.xlsx").is_file()
    deep = next((root / "cycles" / "2026-27-Safeguarding-voice" / "reports").glob(
        "*-deep-dive.md")).read_text()
    # Compared with the regular cycles only as their own summary published them.
    assert "as the 2026-27 C3 summary published them" in deep


@pytest.mark.parametrize(("command", "setting"), [
    ("allocate", "[cycle] return_days"), ("moderate select", "[moderation] rate"),
    ("send", "[mail] password_env"),
])
def test_a_settings_section_named_in_help_is_shown_not_taken_for_markup(
    run: Callable[..., Result], command: str, setting: str
) -> None:
    result = run(*command.split(), "--help")
    assert setting in " ".join(result.stdout.replace("│", " ").split())
