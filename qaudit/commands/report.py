"""`qaudit report`: the cycle's reports for the Board, the network and the quadrants."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qaudit.commands.common import current_workspace, escape, out, progress_bar, today
from qaudit.errors import QauditError
from qaudit.reports import ReportFormat, ReportKind

REPORT_EXAMPLE = (
    "Example: [bold]qaudit report --cycle '2026-27 C3' --message psw-message.txt[/bold]"
    "\n\nThe QA team's identifiable version: [bold]qaudit report --cycle '2026-27 C3'"
    " --internal[/bold]"
    "\n\nThe year for the Board: [bold]qaudit report --kind year --year 2026-27[/bold]"
    "\n\nA deep dive for the Board: [bold]qaudit report --deep-dive 'Carers 2026'[/bold]"
    "\n\nBoard papers as PDF and Word: [bold]qaudit report --cycle '2026-27 C3' --kind summary"
    " --format pdf --format docx[/bold]"
)


def register(app: typer.Typer) -> None:
    app.command(epilog=REPORT_EXAMPLE)(report)


def report(
    cycle: Annotated[str | None, typer.Option(
        "--cycle", "-c", help="Cycle to report (every kind but year).")] = None,
    kind: Annotated[ReportKind, typer.Option(
        "--kind", help="summary (Board), highlights (Senior Practitioners' Network),"
        " quadrant (one per quadrant beside the county), all (those three), or year (the"
        " year's figures for the Board, with --year).")] = ReportKind.ALL,
    year: Annotated[str | None, typer.Option(
        "--year", help="The year of --kind year, as its cycles are named: 2026-27.")] = None,
    deep_dive: Annotated[str | None, typer.Option(
        "--deep-dive", help="A deep dive's report for the Board (instead of a cycle's).")
    ] = None,
    fmts: Annotated[list[ReportFormat] | None, typer.Option(
        "--format", help="md (Markdown), html (a self-contained page), both (md and html: the"
        " default), pdf (printed from the HTML by Chromium, Chrome or Edge; set"
        " QAUDIT_BROWSER to choose one) or docx (Word, for Board papers). Give it more than"
        " once for several: --format html --format pdf.")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Folder (default: <workspace>/cycles/<cycle>/reports;"
        " <workspace>/reports for the year).",
        file_okay=False)] = None,
    internal: Annotated[bool, typer.Option(
        "--internal", help="The QA team's identifiable version, marked on every page.")
    ] = False,
    message: Annotated[Path | None, typer.Option(
        "--message", help="Text file with the PSW/POT practice message.", dir_okay=False)
    ] = None,
) -> None:
    """Render the cycle's reports (or the year's, or a deep dive's) as Markdown and
    self-contained HTML pages, or as PDF and Word documents.

    Published reports (the default) show no person id or name, suppress small counts
    (with secondary suppression so totals cannot reveal them) and scrub free text.
    """
    from qaudit.jobs.report import render_all, render_year
    from qaudit.printing import find_browser

    if deep_dive is not None and (cycle is not None or year is not None):
        raise QauditError("--deep-dive reports one deep dive: leave out --cycle and --year.")
    if deep_dive is None and kind is ReportKind.YEAR:
        if year is None:
            raise QauditError("--kind year needs --year YEAR (e.g. --year 2026-27).")
        if cycle is not None:
            raise QauditError("--kind year reports the whole year: leave out --cycle.")
    elif deep_dive is None:
        if year is not None:
            raise QauditError("--year goes with --kind year; a cycle's reports need --cycle.")
        if cycle is None:
            raise QauditError(f"--kind {kind} needs --cycle CYCLE (e.g. --cycle '2026-27 C3');"
                              " the year's report is --kind year --year YEAR.")
    if message is not None and (deep_dive is not None or kind is ReportKind.YEAR):
        raise QauditError("--message goes in a cycle's reports only.")
    text = ""
    if message is not None:
        try:
            text = message.read_text(encoding="utf-8-sig").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise QauditError(f"cannot read --message {message}: {exc}") from exc
    formats = set().union(*(f.formats() for f in fmts or [ReportFormat.BOTH]))
    # Looked for first: without a browser, nothing is worked out or written.
    browser = find_browser() if "pdf" in formats else None
    ws = current_workspace()
    with ws.store() as store, progress_bar(quiet=False) as progress:
        task = progress.add_task("Writing reports", total=None)

        def on_report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        if deep_dive is not None:
            from qaudit.jobs.deepdive import render_report  # type: ignore[import-not-found,unused-ignore]

            written = render_report(ws, store, deep_dive, out_dir, formats, internal=internal,
                                    today=today(), browser=browser, on_report=on_report)
        elif kind is ReportKind.YEAR:
            assert year is not None
            written = render_year(ws, store, year, out_dir, formats, internal=internal,
                                  today=today(), browser=browser, on_report=on_report)
        else:
            assert cycle is not None
            written = render_all(ws, store, cycle, kind.kinds(), out_dir, formats,
                                 internal=internal, message=text, today=today(),
                                 browser=browser, on_report=on_report)
    for path in written:
        if path.suffix != ".svg":
            out.print(escape(f"Wrote {path}"))
