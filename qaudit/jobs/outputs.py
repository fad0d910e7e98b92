"""Each report in each format asked for, all of a run's files or none.

Markdown and HTML from a report's templates (``qaudit.rendering``), PDF printed from its
HTML by a browser (``qaudit.printing``), Word made from its Markdown (``qaudit.word``). All
of a run's files are made in a scratch folder (at the top of the workspace when they go
inside it, so that long cycle and quadrant names stay inside Windows' 260 characters while a
file is written; else inside the folder they go to) and moved into place together once every
one is made: the files they replace are set aside first and put back if any move fails, so
a failure (a browser that crashes on the third PDF, a report open in Word) leaves the
reports as they were. A scratch folder a killed run left is cleared first, since it may hold
personal data. The cycle's reports, the year's and a deep dive's are all written here.
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

from qaudit.errors import QauditError
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
    scratch_in = ws.root if out.resolve().is_relative_to(ws.root.resolve()) else out
    clean_stale_scratch(scratch_in)  # what a killed run left: it may hold personal data
    try:
        with tempfile.TemporaryDirectory(prefix=f".qaudit-{os.getpid()}-", dir=scratch_in,
                                         ignore_cleanup_errors=True) as folder:
            made: list[Path] = []
            for done, report in enumerate(wanted, start=1):
                made += _formats_of(ws, report, Path(folder), formats, today, browser)
                if on_report is not None:
                    on_report(done, len(wanted))
            _place(made, out, Path(folder) / "replaced")
    except BaseException:
        if fresh:  # a folder made for this run, and empty: not left behind
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    return [out / path.name for path in made]


def _place(made: list[Path], out: Path, aside: Path) -> None:
    """Every made file moved into ``out``: the files they replace set aside first (in the
    scratch folder), and everything put back as it was if one cannot be moved (on Windows,
    a report open in Word), so a run never leaves the reports half new, half old."""
    aside.mkdir()
    replaced: list[Path] = []
    placed: list[Path] = []
    try:
        for path in made:
            target = out / path.name
            if target.is_dir():
                raise QauditError(f"a folder named {path.name!r} is in {out}, where the report"
                                  " goes; move it away and run the command again.")
            if target.exists() or target.is_symlink():
                target.replace(aside / path.name)
                replaced.append(target)
        for path in made:
            path.replace(out / path.name)
            placed.append(out / path.name)
    except OSError as exc:
        _put_back(placed, replaced, aside)
        raise QauditError(
            f"could not put {Path(exc.filename or out).name} in place in {out}"
            f" ({exc.strerror or exc}): is it open in another program, such as Word? Close"
            " it and run the command again; the reports there are as they were.") from exc
    except BaseException:
        _put_back(placed, replaced, aside)
        raise


def _put_back(placed: list[Path], replaced: list[Path], aside: Path) -> None:
    """Undo ``_place``: this run's files removed, the ones they replaced restored."""
    for target in placed:
        with contextlib.suppress(OSError):
            target.unlink()
    for target in replaced:
        with contextlib.suppress(OSError):
            (aside / target.name).replace(target)


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
