"""What every command shares: the consoles, the workspace, dates, progress, JSON, findings.

Commands parse options, call one job, and print; they hold no rules, no SQL and no
pandas. Jobs are imported inside each command, so ``qaudit --help`` loads none of them.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape as escape_markup
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from qaudit.errors import Finding, QauditError
from qaudit.values import HIDDEN_IN_TEXT, parse_date
from qaudit.workspace import Workspace, open_workspace


def escape(text: str) -> str:
    """Text from a file or a person, safe to print: every hidden character
    (``values.HIDDEN_IN_TEXT``: controls, so no terminal escape sequence; zero-width, bidi
    and tag characters, so nothing hidden or reordered) shown as U+FFFD, tab and line feed
    kept; and rich markup shown as typed."""
    return escape_markup(HIDDEN_IN_TEXT.sub("\ufffd", text))


out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


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
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err, transient=True,
        disable=quiet or not err.is_terminal,
    )


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def findings_table(title: str, findings: Sequence[Finding], with_file: bool = True) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    columns = ("File", "Sheet", "Cell", "Value found", "Problem")[0 if with_file else 1:]
    for col in columns:
        table.add_column(col, overflow="fold")
    for f in findings:
        values = (f.file, f.sheet, f.cell, f.value, f.message)[0 if with_file else 1:]
        table.add_row(*(escape(v) for v in values))
    return table
