"""The command-line shell every command shares: the app, the consoles, common helpers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from qaudit import __version__
from qaudit.errors import QauditError
from qaudit.workbooks.case_export import parse_date
from qaudit.workspace import ENV_VAR, Workspace, open_workspace

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)

app = typer.Typer(
    name="qaudit",
    help="Run the case audit cycle of an Adult Social Care Quality Assurance Framework.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _State:
    workspace: Path | None = None


state = _State()

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace", "-w", envvar=ENV_VAR, file_okay=False,
        help="Workspace folder (default: the current folder or the nearest parent with"
        " qaudit.toml).",
    ),
]


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    workspace: WorkspaceOption = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and stop.", is_eager=True)
    ] = False,
) -> None:
    """Run the case audit cycle of an Adult Social Care Quality Assurance Framework.

    Start with [bold]qaudit init[/bold], then [bold]qaudit allocate[/bold] each cycle.
    """
    if version:
        out.print(f"qaudit {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help())
        raise typer.Exit()
    state.workspace = workspace


def current_workspace() -> Workspace:
    # Environment variable handled by typer's envvar; explicit=None searches upwards.
    return open_workspace(state.workspace)


def date_option(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    parsed = parse_date(value.strip())
    if parsed is None or (isinstance(value, str) and value.strip().isdigit()):
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



def uk_date(iso: str | None) -> str:
    """An ISO date as people here write it."""
    return date.fromisoformat(iso).strftime("%d/%m/%Y") if iso else ""


