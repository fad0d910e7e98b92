"""`qaudit report`: the Board summary, anonymised, suppressed, escaped, and rendered."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import fill_forms
import pytest
from core.test_reports import as_shown, pinned_in_published

from conftest import (
    EXAMPLES,
    GOLDEN,
    Result,
    copy_workspace,
    qaudit_ok,
    raw_database,
    small_workspace,
)
from qaudit import reports
from qaudit.errors import BrokenTemplateError
from qaudit.jobs.people import known_identifiers
from qaudit.jobs.report import render_all
from qaudit.rendering import Folder, render_template
from qaudit.values import cycle_slug
from qaudit.workspace import Workspace, open_workspace

CYCLE = "2026-27 C3"
FIXED_DAY = date(2026, 12, 20)
HOSTILE = "<script>alert('x')</script> | **bold** [link](http://x) & more"


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cycle drawn, returned (one RI with an escalation) and moderated, once."""
    root = tmp_path_factory.mktemp("reported") / "ws"
    ws = small_workspace(root, 2)
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due", "11/12/2026")
    rng = random.Random(4)
    back = root.parent / "back"
    for i, form in enumerate(audit_forms(ws)):
        fill_forms.fill_audit(form, back / form.name, rng, escalate=i == 0,
                              grade="Requires improvement" if i == 0 else None,
                              when=date(2026, 11, 20))
    qaudit_ok(root, "ingest", back)
    qaudit_ok(root, "moderate", "select", "--cycle", CYCLE, "--seed", "1")
    book = ws.cycle_dir(CYCLE) / "moderation" / "2026-27-C3-moderation.xlsx"
    fill_forms.fill_moderation(book, root.parent / "mod.xlsx", random.Random(1))
    qaudit_ok(root, "moderate", "ingest", root.parent / "mod.xlsx")
    return root


_DISCLOSED: dict[str, reports.Disclosure] = {}
_SOLVE = reports.cycle_disclosure


@pytest.fixture(autouse=True)
def _disclosure_once_per_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the published reports hide depends on the record alone, and this module
    renders the same record again and again: work it out once per record (a pure
    function, so the same answer; only quicker)."""
    solve = getattr(reports, "cycle_disclosure", None)
    if solve is None:
        return

    def remembered(rows: reports.CycleRows, threshold: int, today: date,
                   cache: object = None) -> reports.Disclosure:
        key = repr((rows, threshold, today))
        if key not in _DISCLOSED:
            _DISCLOSED[key] = solve(rows, threshold, today)
        return _DISCLOSED[key]

    monkeypatch.setattr(reports, "cycle_disclosure", remembered)


@pytest.fixture
def ws(reported: Path, tmp_path: Path) -> Workspace:
    copy_workspace(reported, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def audit_forms(ws: Workspace) -> list[Path]:
    return sorted((ws.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx"))


def render(ws: Workspace, out: Path, internal: bool = False, message: str = "",
           kinds: frozenset[str] = frozenset({"summary"})) -> list[Path]:
    with ws.store() as store:
        return render_all(ws, store, CYCLE, set(kinds), out, {"md", "html"},
                          internal=internal, message=message, today=FIXED_DAY)


def _without_charts(text: str) -> str:
    """The HTML with each inline SVG replaced by a marker: chart geometry depends on the
    fonts a machine has, so charts are checked by rendering, not byte for byte."""
    return re.sub(r"<svg.*?</svg>", "<svg>chart</svg>", text, flags=re.S)


@pytest.mark.parametrize(
    ("kind", "name", "golden_name"),
    [
        ("summary", "2026-27-C3-summary.md", "summary.md"),
        ("summary", "2026-27-C3-summary.html", "summary.html"),
        ("highlights", "2026-27-C3-highlights.md", "highlights.md"),
        ("quadrant", "2026-27-C3-quadrant-mid.md", "quadrant-mid.md"),
    ],
)
def test_rendered_reports_match_their_golden_files(
    ws: Workspace, tmp_path: Path, request: pytest.FixtureRequest, kind: str, name: str,
    golden_name: str,
) -> None:
    render(ws, tmp_path, kinds=frozenset({kind}))
    text = _without_charts((tmp_path / name).read_text())
    golden = GOLDEN / golden_name
    if request.config.getoption("--regen-golden"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), "run pytest --regen-golden and review the diff"


def test_published_report_names_nobody_and_shows_no_small_count(
    ws: Workspace, tmp_path: Path
) -> None:
    with ws.store() as store:
        allocations = store.draws.allocations(CYCLE)
        identifiers = [*known_identifiers(store), *(a.reference for a in allocations)]
    victim = allocations[0]
    message = f"Thanks to {victim.worker_name} for case {victim.person_id}."
    paths = render(ws, tmp_path, message=message,
                   kinds=frozenset({"summary", "highlights", "quadrant"}))
    assert len([p for p in paths if p.suffix == ".html"]) == 2 + len(ws.settings.quadrants)
    assert victim.worker_name in identifiers and victim.person_id in identifiers
    for path in paths:
        text = path.read_text()
        for identifier in identifiers:
            assert not re.search(rf"(?<![\w-]){re.escape(identifier)}(?![\w-])", text), (
                path.name, identifier)
    md = "\n".join(p.read_text() for p in paths if p.suffix == ".md")
    counts = [(int(value), row) for row in re.findall(r"^\|.*\|$", md, flags=re.M)
              for cell in row.strip("|").split("|")[1:]
              if (value := cell.strip()).isdigit()]
    assert counts, "the reports' tables show counts"
    small = [(count, row) for count, row in counts if 0 < count < 5]
    assert small == []


def cycle_markdown(ws: Workspace, out: Path, internal: bool) -> dict[str, str]:
    """Every report of the cycle in Markdown, as a viewer shows it (``as_shown``): 'summary',
    'highlights', each quadrant."""
    render(ws, out, internal=internal, kinds=frozenset({"summary", "highlights", "quadrant"}))
    tail = "-internal.md" if internal else ".md"
    found = {"summary": out / f"2026-27-C3-summary{tail}",
             "highlights": out / f"2026-27-C3-highlights{tail}"}
    for q in ws.settings.quadrants:
        found[q] = out / f"2026-27-C3-quadrant-{cycle_slug(q).lower()}{tail}"
    return {name: as_shown(path.read_text()) for name, path in found.items()}


def test_no_hidden_figure_can_be_worked_out_from_all_the_reports_of_the_cycle(
    ws: Workspace, tmp_path: Path
) -> None:
    """The county summary, every quadrant's report and the highlights, read together by
    the independent check of tests/core/test_reports.py: every '*' count (grades at every
    level, totals, RI, escalations, moderation, themes, answers) could be two values."""
    published = cycle_markdown(ws, tmp_path / "published", internal=False)
    internal = cycle_markdown(ws, tmp_path / "internal", internal=True)
    assert "*" in published["summary"] and "*" not in internal["summary"].split("## The cycle")[1]
    assert pinned_in_published(published, internal) == []


def test_good_or_better_cannot_undo_the_grade_table(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    """Issue 10, on the record: regrade five unmoderated audits (two Requires improvement
    and three Outstanding to Good) so the county has 3 / 12 / 22 / 3 of 40. Suppressing the
    grade table alone left 'Good or better: 62% of 40' beside 'All | * | 12 | 22 | * | 40':
    62% of 40 can only be 25, so Outstanding is 3 and Requires improvement 3."""
    with ws.store() as store:
        record = store.moderation.grades_of_record(CYCLE)
    unmoderated = {ref: grade for ref, (_, moderated, grade) in record.items()
                   if moderated is None}
    regrade = ([r for r, g in sorted(unmoderated.items()) if g == "requires_improvement"][:2]
               + [r for r, g in sorted(unmoderated.items()) if g == "outstanding"][:3])
    assert len(regrade) == 5
    again = tmp_path / "again"
    for form in audit_forms(ws):
        if any(form.name.startswith(ref) for ref in regrade):
            fill_forms.fill_audit(form, again / form.name, random.Random(7), grade="Good",
                                  when=date(2026, 11, 20))
    assert run("-w", ws.root, "ingest", again, "--replace").code == 0
    internal = cycle_markdown(ws, tmp_path / "internal", internal=True)
    assert "| All | 3 (8%) | 12 (30%) | 22 (55%) | 3 (8%) | 40 |" in internal["summary"]
    published = cycle_markdown(ws, tmp_path / "published", internal=False)
    all_row = next(line for line in published["summary"].splitlines()
                   if line.startswith("| All |"))
    assert all_row.startswith("| All | * |") and "| * | 40 |" in all_row
    assert pinned_in_published(published, internal,
                               lambda where: " grade " in where or "RI" in where) == []


def test_internal_report_is_marked_as_such(ws: Workspace, tmp_path: Path) -> None:
    with ws.store() as store:
        ri = [i.reference for i in store.returns.ri_items(CYCLE)]
    assert ri, "the fixture has Requires improvement audits to list"
    paths = render(ws, tmp_path, internal=True)
    pages = [p for p in paths if p.suffix in (".md", ".html")]
    assert {p.suffix for p in pages} == {".md", ".html"}
    for path in pages:
        text = path.read_text()
        assert "INTERNAL: identifiable" in text
        assert "-internal" in path.name
        assert all(r in text for r in ri)


def test_hostile_text_is_escaped(ws: Workspace, tmp_path: Path) -> None:
    paths = render(ws, tmp_path, message=HOSTILE)
    html = next(p for p in paths if p.suffix == ".html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    md = next(p for p in paths if p.suffix == ".md").read_text()
    assert r"\<script\>" in md and r"\|" in md and "<script>" not in md


def test_html_is_one_file_that_asks_no_other_host(ws: Workspace, tmp_path: Path) -> None:
    html = next(p for p in render(ws, tmp_path) if p.suffix == ".html").read_text()
    assert html.count("<svg") == 2
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@media print" in html


def test_workspace_template_overrides_the_bundled_one(ws: Workspace, tmp_path: Path) -> None:
    own = ws.templates / "reports"
    own.mkdir(parents=True)
    (own / "summary.md.j2").write_text("Our own summary of {{ cycle }}\n")
    md = next(p for p in render(ws, tmp_path) if p.suffix == ".md")
    assert md.read_text() == "Our own summary of 2026-27 C3\n"


def test_report_command_writes_both_formats(run: Callable[..., Result], ws: Workspace,
                                            tmp_path: Path) -> None:
    result = run("-w", ws.root, "report", "--cycle", CYCLE, "--out", tmp_path / "r")
    assert result.code == 0, result.stderr
    assert {p.suffix for p in (tmp_path / "r").iterdir()} == {".md", ".html", ".svg"}
    bad = run("-w", ws.root, "report", "--cycle", "C9")
    assert bad.code == 1 and "no cycle 'C9'" in bad.stderr


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed; .ci/run installs"
                    " Debian's chromium")
def test_html_renders_in_headless_chromium(ws: Workspace, tmp_path: Path) -> None:
    html = next(p for p in render(ws, tmp_path) if p.suffix == ".html")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600",
         f"--screenshot={shot}", html.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    pdf = tmp_path / "print.pdf"
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile2'}",
         f"--print-to-pdf={pdf}", html.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert pdf.read_bytes()[:5] == b"%PDF-"




def test_highlights_quote_only_shareable_audits(run: Callable[..., Result], ws: Workspace,
                                               tmp_path: Path) -> None:
    # Two audits sent back again: the first to be shared, the second not; both with
    # strengths written in hostile text.
    again = tmp_path / "again"
    for n, form in enumerate(audit_forms(ws)[:2]):
        fill_forms.fill_audit(form, again / form.name, random.Random(n), grade="Good",
                              when=date(2026, 11, 20), overrides={
                                  "share_good_practice": "Yes" if n == 0 else "No",
                                  "strengths": f"Strength number {n} {HOSTILE}"})
    assert run("-w", ws.root, "ingest", again, "--replace").code == 0
    paths = render(ws, tmp_path, kinds=frozenset({"highlights"}))
    md = next(p for p in paths if p.suffix == ".md").read_text()
    assert "Strength number 0" in md and "Strength number 1" not in md
    with ws.store() as store:
        assert store.draws.allocations(CYCLE)[0].reference not in md
    assert "<script>" not in md and r"\<script\>" in md
    html = next(p for p in paths if p.suffix == ".html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_one_outcome_report_per_quadrant_beside_the_county(ws: Workspace,
                                                           tmp_path: Path) -> None:
    paths = render(ws, tmp_path, kinds=frozenset({"quadrant"}))
    reports = sorted(p.name for p in paths if p.suffix == ".md")
    assert reports == sorted(f"2026-27-C3-quadrant-{q.lower().replace(' ', '-')}.md"
                             for q in ws.settings.quadrants)
    mid = (tmp_path / "2026-27-C3-quadrant-mid.md").read_text()
    assert "Mid ·" in mid and "The county as a whole:" in mid


def test_a_quadrant_figure_cannot_be_worked_out_from_the_county_and_the_others(
    ws: Workspace, tmp_path: Path
) -> None:
    render(ws, tmp_path, kinds=frozenset({"summary", "quadrant"}))
    county = as_shown((tmp_path / "2026-27-C3-summary.md").read_text())
    total_ri = re.search(r"Requires improvement: (\S+) \(", county)
    assert total_ri is not None
    by_quadrant = []
    for q in ws.settings.quadrants:
        text = as_shown((tmp_path / f"2026-27-C3-quadrant-{q.lower().replace(' ', '-')}.md"
                         ).read_text())
        found = re.search(r"- Requires improvement: (\S+) \(", text)
        assert found is not None
        by_quadrant.append(found[1])
    # The county's figure is shown (five Requires improvement in the fixture), so a single
    # hidden quadrant could be worked out from it and the others: never one alone.
    assert total_ri[1] == "5"
    assert by_quadrant.count("*") >= 2, by_quadrant


def summary_md(paths: list[Path]) -> str:
    return next(p for p in paths if p.name.endswith("summary.md")
                or p.name.endswith("summary-internal.md")).read_text()


def test_every_ri_figure_is_the_grade_of_record_count(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    """An RI audit regraded by a replacement return leaves a withdrawn RI item behind; the
    summary counts grades of record, so it says 4 where the grade table says 4."""
    with ws.store() as store:
        before = [i for i in store.returns.ri_items(CYCLE) if i.status == "open"]
        unmoderated = [i.reference for i in before
                       if store.moderation.grades_of_record(CYCLE)[i.reference][1] is None]
    assert len(before) == 5 and unmoderated
    form = next(f for f in audit_forms(ws) if f.name.startswith(unmoderated[0]))
    fill_forms.fill_audit(form, tmp_path / "again" / form.name, random.Random(1),
                          grade="Good", when=date(2026, 11, 20))
    assert run("-w", ws.root, "ingest", tmp_path / "again", "--replace").code == 0
    with ws.store() as store:
        statuses = sorted(i.status for i in store.returns.ri_items(CYCLE))
    assert statuses.count("withdrawn") == 1
    md = summary_md(render(ws, tmp_path / "out", internal=True))
    assert "- Requires improvement: 4 (4 open, 0 closed)" in md
    all_row = next(line for line in md.splitlines() if line.startswith("| All |"))
    assert all_row.split("|")[2].strip().startswith("4 ")


def test_internal_report_shows_exact_figures(ws: Workspace, tmp_path: Path) -> None:
    md = summary_md(render(ws, tmp_path, internal=True))
    assert "nothing is suppressed" in md and "are shown as" not in md
    cells = [c.strip() for line in md.splitlines() if line.startswith("|")
             for c in line.strip("|").split("|")]
    assert cells and "*" not in cells
    assert "(* open" not in md


def test_message_keeps_its_paragraphs_and_names_only_internally(
    ws: Workspace, tmp_path: Path
) -> None:
    with ws.store() as store:
        auditor = store.moderation.returned_audits(CYCLE)[0].auditor
    message = f"Thank you to {auditor} for the audits.\n\nRecord the person's own words."
    published = render(ws, tmp_path / "pub", message=message)
    md = summary_md(published)
    assert "for the audits.\n\nRecord the person" in md
    assert auditor not in md and "Names in the message are removed" in md
    html = next(p for p in published if p.suffix == ".html").read_text()
    assert html.count("<p>Thank you to (removed) for the audits.</p>") == 1
    assert "<p>Record the person&#39;s own words.</p>" in html
    internal = summary_md(render(ws, tmp_path / "int", message=message, internal=True))
    assert f"Thank you to {auditor}" in internal and "Names in the message" not in internal


def test_quadrant_reports_say_who_they_are_for(ws: Workspace, tmp_path: Path) -> None:
    render(ws, tmp_path, kinds=frozenset({"summary", "quadrant"}))
    assert "for the Practice Governance Board" in (tmp_path / "2026-27-C3-summary.md").read_text()
    mid = (tmp_path / "2026-27-C3-quadrant-mid.md").read_text()
    assert "for quadrant and Countywide Directors and Service Managers" in mid
    assert "Practice Governance Board" not in mid


def test_aspects_follow_the_framework_and_hidden_questions_their_order(
    ws: Workspace, tmp_path: Path
) -> None:
    md = summary_md(render(ws, tmp_path))
    aspects = md.split("## The four quality aspects")[1].split("##")[0]
    order = [line.split("|")[1].strip() for line in aspects.splitlines()
             if line.startswith("| ") and not line.startswith("| Aspect")]
    assert order == ["The person's participation and voice", "Quality of practice",
                     "Impact of practice", "Quality of recording"]


def test_a_trend_with_every_point_hidden_says_so() -> None:
    from qaudit.rendering import charts

    data = {"grades": [{"label": g} for g in fill_forms.GRADES],
            "overall": [{"percents": ["*", "*", "*", "*"]}],
            "trend": [{"cycle": "C1", "percent": "*"}]}
    svg = charts(data)["trend_svg"]
    assert "Too few audits in any cycle to show a trend" in svg
    assert "0.04" not in svg


def test_charts_leave_matplotlib_as_they_found_it() -> None:
    """The charts are drawn on matplotlib's own Figure in their own settings: no pyplot
    (its backend and global figures) is loaded and no setting is left changed for whatever
    else the process draws."""
    script = (
        "import sys, matplotlib\n"
        "from qaudit.rendering import CHART_STYLE, charts\n"
        "before = {k: matplotlib.rcParams[k] for k in CHART_STYLE}\n"
        "data = {'grades': [{'label': 'Good'}], 'overall': [{'percents': ['50%']}],\n"
        "        'trend': [{'cycle': 'C1', 'percent': '50%'}]}\n"
        "svg = charts(data)\n"
        "assert 'font-family:' in svg['grades_svg'] and 'DejaVu Sans' in svg['grades_svg']\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot loaded'\n"
        "assert {k: matplotlib.rcParams[k] for k in CHART_STYLE} == before, 'changed'\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_a_template_edited_since_it_was_last_rendered_is_rendered_as_it_now_is(
    tmp_path: Path
) -> None:
    """Templates are compiled once a process and kept by their text: a workspace's own
    template changed between two reports is never rendered as it was."""
    own = tmp_path / "templates" / "reports"
    own.mkdir(parents=True)
    for said in ("First", "Second"):
        (own / "summary.md.j2").write_text(said + " summary of {{ cycle }}\n")
        text = render_template(tmp_path / "templates", "reports", "summary.md.j2",
                               {"cycle": "C3"})
        assert text == f"{said} summary of C3\n"


def test_each_template_is_compiled_once_however_many_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cycle's seven reports come from four templates, each report rendered in an
    environment of its own (its own bounds): Jinja compiles a template only the first
    time."""
    import jinja2

    compiled: list[str | None] = []
    compile_source = jinja2.Environment.compile

    def counted(self: jinja2.Environment, source: str, name: str | None = None,
                *args: Any, **kwargs: Any) -> Any:
        compiled.append(name)
        return compile_source(self, source, name, *args, **kwargs)

    own = tmp_path / "templates" / "reports"
    own.mkdir(parents=True)
    (own / "summary.md.j2").write_text("Summary of {{ cycle }}\n")
    render_template(tmp_path / "templates", "reports", "summary.md.j2", {"cycle": "C3"})
    monkeypatch.setattr(jinja2.Environment, "compile", counted)
    texts = {render_template(tmp_path / "templates", "reports", "summary.md.j2",
                             {"cycle": "C3"}) for _ in range(3)}
    assert compiled == [] and texts == {"Summary of C3\n"}


@pytest.mark.parametrize(("folder", "name", "noun"), [
    ("reports", "summary.md.j2", "report template"),
    ("messages", "forms.txt.j2", "message template"),
    ("messages", "feedback-pack.html.j2", "message template"),
])
@pytest.mark.parametrize("text", ["Dear {{ auditor }}\n{% if %}\n",
                                  "Dear {{ auditor }}\n{{ auditor.__class__.__mro__ }}\n"])
def test_a_broken_workspace_template_is_named_by_its_file_and_line(
    tmp_path: Path, folder: Folder, name: str, noun: str, text: str
) -> None:
    """Reports and messages are rendered by one sandbox: a broken or unsafe template of the
    workspace's own is one clear error saying which kind of template, which file, which
    line, and what to do."""
    own = tmp_path / "templates" / folder
    own.mkdir(parents=True)
    (own / name).write_text(text)
    with pytest.raises(BrokenTemplateError) as refused:
        render_template(tmp_path / "templates", folder, name, {"auditor": "Ann Auditor"})
    said = str(refused.value)
    assert said.startswith(f"{noun} {own / name}, line 2: ")
    assert said.endswith("remove it to use qaudit's own.")


def test_a_workspace_message_template_linked_outside_its_folder_is_refused(
    tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the relay password")
    own = tmp_path / "templates" / "messages"
    own.mkdir(parents=True)
    (own / "forms.txt.j2").symlink_to(secret)
    with pytest.raises(BrokenTemplateError) as refused:
        render_template(tmp_path / "templates", "messages", "forms.txt.j2", {})
    said = str(refused.value)
    assert said.startswith("message template forms.txt.j2: ") and "links outside" in said
    assert "a message template must be a file in the templates folder" in said
    assert "the relay password" not in said


@pytest.mark.parametrize(("kind", "points_to"), [
    ("deep_dive", "qaudit report --deep-dive '2026-27 C3'"),
    ("reaudit", "qaudit reaudit stats"),
])
def test_a_deep_dive_or_a_round_of_re_audits_has_no_cycle_summary(
        run: Callable[..., Result], ws: Workspace, tmp_path: Path, kind: str,
        points_to: str) -> None:
    """A deep dive or a round of re-audits is stored as a cycle of its kind: a regular
    cycle's summary ('Target 120', a trend) would be wrong for it."""
    with raw_database(ws) as conn:
        conn.execute("UPDATE cycles SET kind = ? WHERE name = ?", (kind, CYCLE))
    result = run("-w", ws.root, "report", "--cycle", CYCLE, "--out", tmp_path / "out")
    assert result.code == 1
    assert result.stderr.startswith("Error:") and "not a regular cycle" in result.stderr
    assert points_to in result.stderr
    assert not (tmp_path / "out").exists()


def test_each_decision_is_kept_in_the_workspace_and_used_again(
        ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first published run keeps its decision under .cache/disclosure (figure keys
    only, nobody's name or id); the second finds it and works nothing out again."""
    monkeypatch.setattr(reports, "cycle_disclosure", _SOLVE)
    first = render(ws, tmp_path / "a")
    kept = sorted((ws.root / ".cache" / "disclosure").glob("*.json"))
    assert len(kept) == 1
    with ws.store() as store:
        secrets = known_identifiers(store)
    text = kept[0].read_text()
    assert not [s for s in secrets if len(s) > 3 and s in text]

    def no_solving(*args: object, **kwargs: object) -> frozenset[tuple[str, ...]]:
        raise AssertionError("decided again")

    monkeypatch.setattr("qaudit.disclosure.decide", no_solving)
    second = render(ws, tmp_path / "b")
    assert [p.read_bytes() for p in first if p.suffix == ".md"] == [
        p.read_bytes() for p in second if p.suffix == ".md"]


@pytest.mark.parametrize("content", [b"[1]", b'"hidden"', b"{}", b"\xff\xfe", b'{"key": 1}'])
def test_a_damaged_saved_decision_is_as_none_never_a_crash(tmp_path: Path,
                                                           content: bytes) -> None:
    from qaudit.jobs.report import DecisionFiles

    key = "a" * 64
    (tmp_path / f"{key}.json").write_bytes(content)
    assert DecisionFiles(tmp_path).get(key) is None


def test_no_report_is_written_when_its_decision_cannot_be_kept(tmp_path: Path) -> None:
    """The kept decision is the record of what was published: a later report must hide the
    same, so a decision that cannot be kept stops the report with what to do."""
    from qaudit.errors import QauditError
    from qaudit.jobs.report import DecisionFiles

    folder = tmp_path / "disclosure"
    folder.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(QauditError, match=r"could not be kept .* no report is written"):
        DecisionFiles(folder).put("a" * 64, frozenset({("grades", "Mid")}))

