"""`qaudit report --kind year`: the year's figures for the Board, across its cycles."""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

import fill_forms
import pytest

from conftest import FIXTURES, GOLDEN, Result, copy_workspace, qaudit_ok, small_workspace
from qaudit.jobs.people import known_identifiers
from qaudit.jobs.report import render_year
from qaudit.workspace import Workspace, open_workspace

EXPORT = FIXTURES / "formula_like_text.xlsx"  # 16 cases completed 01/09/2026 to 29/10/2026
YEAR = "2026-27"
FIXED_DAY = date(2026, 12, 20)


@pytest.fixture(scope="module")
def year_done(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2026-27 planned as three 4-week cycles; C1 and C2 drawn and every audit back."""
    root = tmp_path_factory.mktemp("year") / "ws"
    ws = small_workspace(root, 1)
    qaudit_ok(root, "plan", YEAR, "--start", "01/09/2026", "--cycles", "3", "--weeks", "4")
    rng = random.Random(7)
    for cycle in ("2026-27 C1", "2026-27 C2"):
        qaudit_ok(root, "allocate", str(EXPORT), "--cycle", cycle, "--seed", "5")
        back = root.parent / f"back-{cycle[-2:]}"
        for form in sorted((ws.cycle_dir(cycle) / "audit-forms").glob("*.xlsx")):
            fill_forms.fill_audit(form, back / form.name, rng)
        qaudit_ok(root, "ingest", str(back))
    return root


@pytest.fixture
def ws(year_done: Path, tmp_path: Path) -> Workspace:
    copy_workspace(year_done, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def test_the_year_report_is_written_for_the_board(run: Callable[..., Result],
                                                  ws: Workspace, tmp_path: Path) -> None:
    result = run("-w", ws.root, "report", "--kind", "year", "--year", YEAR, "--out",
                 tmp_path / "out")
    assert result.code == 0, result.stderr
    md = (tmp_path / "out" / "2026-27-year.md").read_text()
    assert (tmp_path / "out" / "2026-27-year.html").exists()
    assert "# Case audit year: 2026-27" in md
    assert "Cycles: 2026-27 C1, 2026-27 C2." in md
    assert "## Month by month" in md and "## Cycle by cycle" in md
    with ws.store() as store:
        secrets = known_identifiers(store)
    assert not [s for s in secrets if len(s) > 3 and s in md]


def test_the_internal_year_report_shows_every_figure(run: Callable[..., Result],
                                                     ws: Workspace, tmp_path: Path) -> None:
    result = run("-w", ws.root, "report", "--kind", "year", "--year", YEAR, "--internal",
                 "--format", "md", "--out", tmp_path)
    assert result.code == 0, result.stderr
    md = (tmp_path / "2026-27-year-internal.md").read_text()
    assert "INTERNAL: identifiable" in md
    table = md.split("## Grades of record")[1].split("###")[0]
    assert "*" not in table


@pytest.mark.parametrize(("args", "error"), [
    (("--kind", "year"), "--kind year needs --year YEAR"),
    (("--kind", "year", "--year", YEAR, "--cycle", "2026-27 C1"), "leave out --cycle"),
    (("--kind", "summary"), "--kind summary needs --cycle CYCLE"),
    (("--year", YEAR), "--year goes with --kind year"),
    (("--kind", "year", "--year", "2019-21"), "is not a year"),
    (("--deep-dive", "X", "--year", YEAR), "leave out --cycle and --year"),
])
def test_a_report_asked_for_wrongly_is_one_clear_error(
        run: Callable[..., Result], ws: Workspace, args: tuple[str, ...], error: str) -> None:
    result = run("-w", ws.root, "report", *args)
    assert result.code == 1
    assert result.stderr.startswith("Error:") and error in result.stderr


def test_a_year_with_nothing_drawn_is_refused(run: Callable[..., Result],
                                              ws: Workspace) -> None:
    result = run("-w", ws.root, "report", "--kind", "year", "--year", "2030-31")
    assert result.code == 1 and "no drawn regular cycle" in result.stderr


def test_year_markdown_matches_golden(ws: Workspace, tmp_path: Path,
                                      request: pytest.FixtureRequest) -> None:
    with ws.store() as store:
        render_year(ws, store, YEAR, tmp_path, {"md"}, internal=False, today=FIXED_DAY)
    text = (tmp_path / "2026-27-year.md").read_text()
    golden = GOLDEN / "year.md"
    if request.config.getoption("--regen-golden"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_a_deep_dive_or_workshop_named_after_a_team_is_listed_without_it_when_published(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from qaudit.db import reporting

    with ws.store() as store:
        team = store.draws.allocations("2026-27 C1")[0].team
    held = reporting.DeepDiveHeld(f"{team} deep dive", f"Recording in {team}", 6,
                                  "2026-09-01 to 2026-10-29")
    monkeypatch.setattr(reporting.Reporting, "deep_dives_between",
                        lambda self, first, last: [held])
    # A workshop named after the team too.
    from types import SimpleNamespace

    from qaudit.db.workshops import Workshops
    from qaudit.jobs import report

    monkeypatch.setattr(Workshops, "summaries", lambda self: [
        SimpleNamespace(name=f"{team} workshop", held_on=date(2026, 10, 1))])
    monkeypatch.setattr(report, "held", lambda ws, store, name: report.Held(
        name, "01/10/2026", 6, 5, "Krippendorff's alpha 0.50"))
    published = run("-w", ws.root, "report", "--kind", "year", "--year", YEAR, "--out",
                    tmp_path / "out")
    internal = run("-w", ws.root, "report", "--kind", "year", "--year", YEAR, "--internal",
                   "--out", tmp_path / "internal")
    assert published.code == 0 and internal.code == 0, published.stderr + internal.stderr
    assert team not in (tmp_path / "out" / "2026-27-year.md").read_text()
    assert "01/09/2026 to 29/10/2026" in (tmp_path / "out" / "2026-27-year.md").read_text()
    internal_md = (tmp_path / "internal" / "2026-27-year-internal.md").read_text()
    assert f"Recording in {team}" in internal_md and f"{team} workshop" in internal_md


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed; .ci/run installs"
                    " Debian's chromium")
def test_the_year_html_renders_and_prints_in_headless_chromium(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    assert run("-w", ws.root, "report", "--kind", "year", "--year", YEAR, "--out",
               tmp_path / "out").code == 0
    html = tmp_path / "out" / "2026-27-year.html"
    pdf = tmp_path / "print.pdf"
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--print-to-pdf={pdf}", html.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    dom = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile2'}",
         "--dump-dom", html.as_uri()],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    assert "Case audit year: 2026-27" in dom and "Month by month" in dom
    assert "<script" not in dom
