"""`qaudit report`: the cycle's summary for the Practice Governance Board."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from qaudit.commands.common import app, current_workspace, out
from qaudit.errors import QauditError
from qaudit.jobs.report import render_all
from qaudit.workspace import cycle_slug


@app.command(
    epilog="Example: [bold]qaudit report --cycle '2026-27 C3' --message psw-message.txt[/bold]"
    "\n\nThe QA team's identifiable version: [bold]qaudit report --cycle '2026-27 C3'"
    " --internal[/bold]"
)
def report(
    cycle: Annotated[str, typer.Option("--cycle", "-c", help="Cycle to report.")],
    kind: Annotated[str, typer.Option(
        "--kind", help="summary (Board), highlights (Senior Practitioners' Network),"
        " quadrant (one per quadrant beside the county) or all.")] = "all",
    fmt: Annotated[str, typer.Option("--format", help="md, html or both.")] = "both",
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
    formats = {"md": {"md"}, "html": {"html"}, "both": {"md", "html"}}.get(fmt)
    if formats is None:
        raise QauditError(f"--format {fmt!r} is not known; use md, html or both.")
    kinds = {"summary": {"summary"}, "highlights": {"highlights"}, "quadrant": {"quadrant"},
             "all": {"summary", "highlights", "quadrant"}}.get(kind)
    if kinds is None:
        raise QauditError(f"--kind {kind!r} is not known; use summary, highlights, quadrant"
                          " or all.")
    text = ""
    if message is not None:
        try:
            text = message.read_text(encoding="utf-8-sig").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise QauditError(f"cannot read --message {message}: {exc}") from exc
    ws = current_workspace()
    target = out_dir or ws.root / "cycles" / cycle_slug(cycle) / "reports"
    with ws.store() as store:
        written = render_all(ws, store, cycle, kinds, target, formats, internal=internal,
                             message=text, today=date.today())
    for path in written:
        if path.suffix != ".svg":
            out.print(escape(f"Wrote {path}"))
