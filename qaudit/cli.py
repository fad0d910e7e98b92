"""The command line: the root app, its global options, and the one place errors end.

Each module of ``qaudit.commands`` is registered here explicitly. A ``QauditError``
becomes one ``Error: ...`` line and exit status 1; tracebacks only with ``--debug``.

Shell completion is Typer's (``--install-completion``, ``--show-completion``: bash, zsh,
fish, PowerShell): it completes commands, options and their choices from this module's
imports alone, so a Tab press loads no job, pandas nor openpyxl, and opens no database.
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
    backup,
    common,
    cycles,
    database,
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
from qaudit.commands.common import err, escape, out, plain_output
from qaudit.errors import QauditError
from qaudit.workspace import ENV_VAR

app = typer.Typer(
    name="qaudit",
    help="Run the case audit cycle of an Adult Social Care Quality Assurance Framework.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=True,
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
backup.register(app)
database.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every user error into one line and exit 1."""
    args = sys.argv[1:] if argv is None else argv
    # Everything qaudit writes holds personal data: readable by its owner only.
    os.umask(0o077)
    debug = "--debug" in args
    if plain_output():
        # Typer's help and usage errors have a console of their own; NO_COLOR means no
        # escape sequence there either (Rich alone would still print bold).
        from typer import rich_utils

        rich_utils.COLOR_SYSTEM = None
    command = typer.main.get_command(app)
    try:
        _refuse_powershell_install(args)
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


#: The shells Typer completes; it installs PowerShell's by changing the user's execution
#: policy to Unrestricted.
_SHELLS = {"bash", "zsh", "fish", "powershell", "pwsh"}
_POWERSHELLS = {"powershell", "pwsh"}


def _refuse_powershell_install(args: list[str]) -> None:
    """``--install-completion`` in PowerShell would set the user's execution policy to
    Unrestricted (Typer's installer does): not something a council laptop's user should
    find done behind their back. Point to ``--show-completion`` instead."""
    for n, arg in enumerate(args):
        option, _, value = arg.partition("=")
        if option != "--install-completion":
            continue
        named = (value or " ".join(args[n + 1:n + 2])).lower()
        if (named if named in _SHELLS else _detected_shell()) in _POWERSHELLS:
            raise QauditError(
                "qaudit does not install completion in PowerShell itself: Typer's installer"
                " would set your execution policy to Unrestricted. If your IT allows profile"
                " scripts, add it yourself: qaudit --show-completion | Out-File -Append"
                " $PROFILE (docs/terminal.md).")


def _detected_shell() -> str | None:
    import shellingham  # type: ignore[import-untyped]

    try:
        return str(shellingham.detect_shell()[0])
    except shellingham.ShellDetectionFailure:
        return None
