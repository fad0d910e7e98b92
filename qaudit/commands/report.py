"""`qaudit report`: the cycle's reports for the Board, the network and the quadrants."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qaudit.commands.common import current_workspace, escape, out, today
from qaudit.errors import QauditError
from qaudit.reports import ReportFormat, ReportKind

REPORT_EXAMPLE = (
    "Example: [bold]qaudit report --cycle '2026-27 C3' --message psw-message.txt[/bold]"
    "\n\nThe QA team's identifiable version: [bold]qaudit report --cycle '2026-27 C3'"
    " --internal[/bold]"
)


def register(app: typer.Typer) -> None:
    app.command(epilog=REPORT_EXAMPLE)(report)


def report(
    cycle: Annotated[str, typer.Option("--cycle", "-c", help="Cycle to report.")],
    kind: Annotated[ReportKind, typer.Option(
        "--kind", help="summary (Board), highlights (Senior Practitioners' Network),"
        " quadrant (one per quadrant beside the county) or all.")] = ReportKind.ALL,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Markdown, HTML or both.")
                   ] = ReportFormat.BOTH,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Folder (default: <workspace>/cycles/<cycle>/reports).",
        file_okay=False)] = None,
    internal: Annotated[bool, typer.Option(
        "--internal", help="The QA team's identifiable version, marked on every page.")
    ] = False,
    message: Annotated[Path | None, typer.Option(
        "--message", help="Text file with the PSW/POT practice message.", dir_okay=False)
    ] = None,
) -> None:
    """Render the cycle's reports as Markdown and self-contained HTML pages.

    Published reports (the default) show no person id or name, suppress small counts
    (with secondary suppression so totals cannot reveal them) and scrub free text.
    """
    from qaudit.jobs.report import render_all

    text = ""
    if message is not None:
        try:
            text = message.read_text(encoding="utf-8-sig").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise QauditError(f"cannot read --message {message}: {exc}") from exc
    ws = current_workspace()
    with ws.store() as store:
        written = render_all(ws, store, cycle, kind.kinds(), out_dir, fmt.formats(),
                             internal=internal, message=text, today=today())
    for path in written:
        if path.suffix != ".svg":
            out.print(escape(f"Wrote {path}"))
