"""The command line: parse, call the library, print, set the exit status.

Library errors (``QauditError``) become one ``Error: ...`` line and exit status 1.
Tracebacks only with ``--debug``. The commands live in ``cli_*`` modules; importing them
registers them on the shared ``app``.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from qaudit.commands import allocate, moderate, report, returns, status
from qaudit.commands.common import app, err, out
from qaudit.errors import QauditError

__all__ = ["allocate", "app", "err", "main", "moderate", "out", "report", "returns", "status"]


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every user error into one line and exit 1."""
    args = sys.argv[1:] if argv is None else argv
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
    except KeyboardInterrupt:
        err.print("Interrupted; nothing was stored.")
        sys.exit(1)
    except Exception as exc:
        if debug:
            raise
        err.print(
            f"[bold red]Error:[/bold red] unexpected failure ({type(exc).__name__}:"
            f" {escape(str(exc))})."
            " Nothing was stored. Run again with --debug and report the output.",
            soft_wrap=True,
        )
        sys.exit(1)
