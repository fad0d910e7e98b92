"""The command line: the root app, its global options, and the one place errors end.

Each module of ``qaudit.commands`` is registered here explicitly. A ``QauditError``
becomes one ``Error: ...`` line and exit status 1; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

import qaudit
from qaudit.commands import (
    allocate,
    common,
    cycles,
    deepdive,
    export,
    moderate,
    people,
    plan,
    purge,
    reaudit,
    report,
    returns,
    send,
    status,
    workshop,
)
from qaudit.commands.common import err, escape, out
from qaudit.errors import QauditError
from qaudit.workspace import ENV_VAR

app = typer.Typer(
    name="qaudit",
    help="Run the case audit cycle of an Adult Social Care Quality Assurance Framework.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    workspace: Annotated[Path | None, typer.Option(
        "--workspace", "-w", envvar=ENV_VAR, file_okay=False,
        help="Workspace folder (default: the current folder or the nearest parent with"
        " qaudit.toml).")] = None,
    by: Annotated[str | None, typer.Option(
        "--by", envvar="QAUDIT_BY", help="Who is doing this, for the history (default: the"
        " user logged in).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and stop.", is_eager=True)
    ] = False,
) -> None:
    """Run the case audit cycle of an Adult Social Care Quality Assurance Framework.

    Start with [bold]qaudit init[/bold], then [bold]qaudit allocate[/bold] each cycle.
    """
    if version:
        out.print(f"qaudit {qaudit.__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help())
        raise typer.Exit()
    common.state.workspace = workspace
    common.state.by = by.strip() if by else None


allocate.register(app)
cycles.register(app)
plan.register(app)
returns.register(app)
moderate.register(app)
status.register(app)
export.register(app)
purge.register(app)
report.register(app)
people.register(app)
send.register(app)
deepdive.register(app)
reaudit.register(app)
workshop.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every user error into one line and exit 1."""
    args = sys.argv[1:] if argv is None else argv
    # Everything qaudit writes holds personal data: readable by its owner only.
    os.umask(0o077)
    debug = "--debug" in args
    command = typer.main.get_command(app)
    try:
        command.main(args=args, prog_name="qaudit", standalone_mode=True)
    except SystemExit as exc:
        # Typer has already explained a usage error (its exit status 2); ours is 1.
        sys.exit(1 if exc.code == 2 else exc.code)
    except QauditError as exc:
        if debug:
            raise
        err.print(f"[bold red]Error:[/bold red] {escape(str(exc))}", soft_wrap=True)
        sys.exit(1)
    except OSError as exc:
        if debug:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        err.print(f"[bold red]Error:[/bold red] {escape(exc.strerror or str(exc))}"
                  f"{escape(where)}. What the command reported as done is stored; the rest"
                  " is not. Free some disk space or check the folder, then run it again.",
                  soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("Interrupted: what the command reported as done is stored, the rest is not.")
        sys.exit(1)
    except Exception as exc:
        if debug:
            raise
        err.print(
            f"[bold red]Error:[/bold red] unexpected failure ({type(exc).__name__}:"
            f" {escape(str(exc))})."
            " What the command reported as done is stored; the rest is not. Run again with"
            " --debug and report the output.",
            soft_wrap=True,
        )
        sys.exit(1)
