"""What every command shares: the consoles, the workspace, dates, progress, JSON.

Commands parse options, call one job, and print; they hold no rules, no SQL and no
pandas. Jobs are imported inside each command, so ``qaudit --help`` loads none of them.

How qaudit behaves on a terminal (``docs/terminal.md``) is decided here: no colour nor
style at all under ``NO_COLOR``; a progress bar only on an interactive terminal (never
piped, never with ``--json``, never on ``TERM=dumb``, never under ``NO_COLOR``). Tables are
``commands.tables``.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape as escape_markup
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from qaudit.errors import QauditError
from qaudit.values import HIDDEN_IN_TEXT, parse_date
from qaudit.workspace import Workspace, open_workspace


def visible(text: str) -> str:
    """Text from a file or a person with every hidden character (``values.HIDDEN_IN_TEXT``:
    controls, so no terminal escape sequence; zero-width, bidi and tag characters, so
    nothing hidden or reordered) shown as U+FFFD, tab and line feed kept."""
    return HIDDEN_IN_TEXT.sub("\ufffd", text)


def escape(text: str) -> str:
    """Text from a file or a person, safe to print as markup: ``visible``, and rich markup
    shown as typed."""
    return escape_markup(visible(text))


def plain_output() -> bool:
    """``NO_COLOR`` set to anything (https://no-color.org): no colour, and no bold or
    underline either (Rich's own ``no_color`` keeps those), so no escape sequence at all."""
    return os.environ.get("NO_COLOR", "") != ""


def _console(stderr: bool) -> Console:
    # FORCE_COLOR and TTY_COMPATIBLE=1 make a pipe a terminal, TERM=dumb a terminal without
    # colour, TTY_INTERACTIVE=0 one without live display: Rich reads them all.
    return Console(stderr=stderr, highlight=False,
                   color_system=None if plain_output() else "auto")


out = _console(stderr=False)
err = _console(stderr=True)


class _State:
    workspace: Path | None = None
    by: str | None = None


state = _State()

CycleOption = Annotated[str | None, typer.Option("--cycle", "-c", help="Only this cycle.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def current_workspace() -> Workspace:
    """The workspace from --workspace (or QAUDIT_WORKSPACE), else the nearest parent; what
    is done in it is recorded as done by --by, else the user logged in."""
    return open_workspace(state.workspace, actor=actor())


def actor() -> str:
    if state.by:
        return state.by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        return "unknown"


def today() -> date:
    """The one place a command asks the clock for the date; jobs are given it."""
    return date.today()


def date_option(value: str, option: str) -> date:
    parsed = parse_date(value.strip())
    if parsed is None or value.strip().isdigit():
        raise QauditError(
            f"{option} {value!r} is not a date; write it as dd/mm/yyyy or yyyy-mm-dd."
        )
    return parsed


def progress_bar(quiet: bool) -> Progress:
    """A bar on stderr for a long step (reading an export, writing a cycle's workbooks,
    checking returns), gone when the step ends. Only where it can redraw itself: an
    interactive terminal (Rich's ``is_interactive``: not piped, not ``TERM=dumb``, not
    ``TTY_INTERACTIVE=0``); never when ``quiet`` (``--json``), so output that is read by
    a program or a log holds nothing extra; and never under ``NO_COLOR``, whose promise of
    no escape sequence at all a bar cannot keep (it redraws itself by moving the cursor).
    What is printed meanwhile stays on stdout (Rich would move it to the bar's stderr)."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err, transient=True, redirect_stdout=False,
        disable=quiet or plain_output() or not err.is_interactive,
    )


def print_path(sentence: str, path: Path | str) -> None:
    """A sentence (markup, escaped), then a path on a line of its own, never broken by
    qaudit (the terminal wraps it if it must), so it can be copied whole."""
    out.print(sentence)
    out.print(f"  {escape(str(path))}", soft_wrap=True)


def print_document(text: str) -> None:
    """A document (a Markdown report) printed whole to stdout, as ``visible`` shows it:
    its own markup (Markdown's brackets, a ``:name:``) left to it, not read by Rich as
    markup or emoji, and its lines not wrapped by Rich."""
    out.print(visible(text), markup=False, emoji=False, highlight=False, soft_wrap=True)


def step(progress: Progress, description: str) -> Callable[[int, int | None], None]:
    """A new bar of ``progress`` and the callback a job reports to (done, total) as it
    goes: each file written, each row read (the total None while it is not known)."""
    task = progress.add_task(description, total=None)
    return lambda done, total: progress.update(task, completed=done, total=total)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def on_terminal() -> bool:
    """Whether a person is there to answer: standard input is a terminal."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed, or no standard input at all
        return False


def confirm(question: str, *, no_terminal: str, declined: str) -> None:
    """Ask ``question`` (y/N) before what cannot be undone; without a terminal to ask on,
    refuse with ``no_terminal`` (a script says --yes), and on any answer but yes with
    ``declined``."""
    if not on_terminal():
        raise QauditError(no_terminal)
    try:
        answer = err.input(escape(question))
    except EOFError:  # Ctrl-D, or input closed: no answer is no
        answer = ""
    if answer.strip().casefold() not in ("y", "yes"):
        raise QauditError(declined)
