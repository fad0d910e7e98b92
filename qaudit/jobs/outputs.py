"""Each report in each format asked for, all of a run's files or none.

Markdown and HTML from a report's templates (``qaudit.rendering``), PDF printed from its
HTML by a browser (``qaudit.printing``), Word made from its Markdown (``qaudit.word``). All
of a run's files are made in a scratch folder inside the folder they go to, and moved into
place together once every one is made, so a failure (a browser that crashes on the third
PDF) leaves none of them; a scratch folder a killed run left is cleared first, since it may
hold personal data. The cycle's reports, the year's and a deep dive's are all written here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from qaudit.files import clean_stale_scratch, write_bytes
from qaudit.rendering import render
from qaudit.workspace import Workspace

#: Told after each report is written in every format: how many are done, of how many.
OnReport = Callable[[int, int], None]


@dataclass(frozen=True)
class Report:
    """One report to write: its template's name (``summary``: ``summary.md.j2`` and
    ``summary.html.j2``), its files' name without extension, its data, and whether it has
    the two charts."""

    template: str
    stem: str
    data: dict[str, Any]
    with_charts: bool = True


def write_reports(ws: Workspace, wanted: Sequence[Report], out: Path, formats: set[str], *,
                  today: date, browser: Path | None = None,
                  on_report: OnReport | None = None) -> list[Path]:
    """Each report in every format of ``formats`` (md, html, pdf, docx), made in a
    scratch folder inside ``out`` and moved into place once all are made: a browser that
    fails on the third PDF leaves none of them. A PDF is printed from the report's HTML,
    which is left beside it only when html is asked for too; without ``browser`` one is
    looked for (``qaudit.printing.find_browser``) before anything is made."""
    from qaudit.printing import find_browser

    browser = (browser or find_browser()) if "pdf" in formats else None
    fresh = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    clean_stale_scratch(out)  # what a killed run left: it may hold personal data
    try:
        with tempfile.TemporaryDirectory(prefix=f".qaudit-{os.getpid()}-", dir=out,
                                         ignore_cleanup_errors=True) as folder:
            made: list[Path] = []
            for done, report in enumerate(wanted, start=1):
                made += _formats_of(ws, report, Path(folder), formats, today, browser)
                if on_report is not None:
                    on_report(done, len(wanted))
            for path in made:
                path.replace(out / path.name)
    except BaseException:
        if fresh:  # a folder made for this run, and empty: not left behind
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    return [out / path.name for path in made]


def _formats_of(ws: Workspace, report: Report, scratch: Path, formats: set[str],
                today: date, browser: Path | None) -> list[Path]:
    """One report's files in ``scratch``, in every format asked for."""
    from qaudit.printing import print_pdf

    pages = formats & {"md", "html"} | ({"html"} if browser is not None else set())
    made = [path for path in render(ws.templates, report.template, report.stem, report.data,
                                    scratch, pages, with_charts=report.with_charts)
            if path.suffix != ".html" or "html" in formats]
    if browser is not None:
        made.append(print_pdf(browser, scratch / f"{report.stem}.html",
                              scratch / f"{report.stem}.pdf", report.stem))
    if "docx" in formats:
        made.append(_word(ws, report, scratch / f"{report.stem}.docx", today))
    return made


def _word(ws: Workspace, report: Report, target: Path, today: date) -> Path:
    """The report as a Word document, made from its Markdown with the charts as PNG
    pictures described as the HTML describes them (``qaudit.word``)."""
    from qaudit.rendering import chart_pngs, chart_texts, render_template
    from qaudit.word import Chart, Page, document

    pngs = chart_pngs(report.data) if report.with_charts else {}
    texts = chart_texts(report.data) if report.with_charts else {}
    markdown = render_template(ws.templates, "reports", f"{report.template}.md.j2",
                               {**report.data, "charts": {name: name for name in pngs}})
    page = Page(marking=report.data["marking"], internal=report.data["internal"],
                team=ws.settings.organisation.team, generated=today)
    charts = {name: Chart(png, texts[name].title, texts[name].description)
              for name, png in pngs.items()}
    write_bytes(target, document(markdown, charts, page))
    return target
