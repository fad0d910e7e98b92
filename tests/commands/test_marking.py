"""The protective marking (``[organisation] protective_marking``) is on every file qaudit
writes for a cycle: each workbook's printed pages and the top of its first sheet, each
report's top and bottom. A council's own marking is the one shown, and it breaks no form's
contract."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import fill_forms
import pytest
from openpyxl import load_workbook

from conftest import FIXTURES, Result, edit_settings, init_workspace, qaudit_ok
from qaudit.workspace import open_workspace

CYCLE = "C1"
MARKING = "OFFICIAL-SENSITIVE PERSONAL"


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace marking its files "OFFICIAL-SENSITIVE PERSONAL": a cycle drawn, its forms
    and Service Manager workbooks filled and read back, moderated, reported, exported."""
    root = tmp_path_factory.mktemp("marked") / "ws"
    ws = init_workspace(root)
    with edit_settings(root) as settings:
        settings["organisation"]["protective_marking"] = MARKING

    def qaudit(*args: str | Path) -> None:
        qaudit_ok(root, *args)

    qaudit("allocate", FIXTURES / "formula_like_text.xlsx", "--cycle", CYCLE, "--from",
           "01/09/2026", "--to", "31/10/2026", "--seed", "2", "--due",
           (date.today() + timedelta(days=5)).strftime("%d/%m/%Y"))
    folder = ws.cycle_dir(CYCLE)
    back = root.parent / "back"
    rng = random.Random(3)
    for form in sorted((folder / "audit-forms").glob("*.xlsx")):
        fill_forms.fill_audit(form, back / form.name, rng)
    for form in sorted((folder / "self-reflection").glob("*.xlsx"))[:2]:
        fill_forms.fill_reflection(form, back / form.name, rng)
    fill_forms.fill_managers(folder, back, 5)
    qaudit("ingest", back)
    qaudit("moderate", "select", "--cycle", CYCLE, "--seed", "1")
    fill_forms.fill_moderation(folder / "moderation" / "C1-moderation.xlsx",
                               root.parent / "mod.xlsx", random.Random(1))
    qaudit("moderate", "ingest", root.parent / "mod.xlsx")
    qaudit("report", "--cycle", CYCLE)
    qaudit("export", "--out", root.parent / "data.xlsx")
    qaudit("export", "--anonymise", "--out", root.parent / "anonymised.xlsx")
    return root


def workbook(root: Path, kind: str) -> Path:
    """One workbook of a kind qaudit writes for the cycle."""
    folder = root / "cycles" / CYCLE
    if kind in ("audit-forms", "self-reflection", "service-managers"):
        return min((folder / kind).glob("*.xlsx"))
    return {"register": folder / "register.xlsx",
            "moderation": folder / "moderation" / "C1-moderation.xlsx",
            "export": root.parent / "data.xlsx",
            "anonymised export": root.parent / "anonymised.xlsx"}[kind]


WORKBOOKS = ("audit-forms", "self-reflection", "service-managers", "register", "moderation",
             "export", "anonymised export")


@pytest.mark.parametrize("kind", WORKBOOKS)
def test_every_page_of_every_workbook_is_marked_at_top_and_bottom(cycle: Path,
                                                                   kind: str) -> None:
    wb = load_workbook(workbook(cycle, kind))
    for ws in wb.worksheets:
        assert ws.oddHeader.center.text == MARKING, (kind, ws.title)
        assert ws.oddFooter.center.text == MARKING, (kind, ws.title)
        assert ws.oddFooter.right.text == "Page &P of &N", (kind, ws.title)


@pytest.mark.parametrize("kind", WORKBOOKS)
def test_the_first_sheet_shows_the_marking_in_its_top_row_as_text(cycle: Path,
                                                                 kind: str) -> None:
    first = load_workbook(workbook(cycle, kind)).worksheets[0]
    marked = [c for c in first[1] if c.value == MARKING]
    assert len(marked) == 1, kind
    assert marked[0].data_type == "s" and marked[0].font.b, kind


def test_the_marking_moves_no_cell_a_reader_expects(cycle: Path) -> None:
    """Every form and Service Manager workbook came back and was read (the marking sits
    beside the title or the table's header, never in a row of the contract), and the
    register's table still starts in row 1."""
    with open_workspace(cycle).store() as store:
        audits = store.reporting.graded_audits(CYCLE)
        allocations = store.draws.allocations(CYCLE)
        named = store.assignments.for_cycle(CYCLE)
    assert len(audits) == len(allocations) > 0
    assert named
    register = load_workbook(workbook(cycle, "register"))["Allocations"]
    header = [c.value for c in register[1]]
    assert header[:2] == ["Reference", "Quadrant"] and header[-1] == MARKING
    assert register.auto_filter.ref.startswith("A1:M")


@pytest.mark.parametrize("stem", ["C1-summary", "C1-quadrant-mid", "C1-highlights"])
def test_every_report_is_marked_at_top_and_bottom(cycle: Path, stem: str) -> None:
    reports = cycle / "cycles" / CYCLE / "reports"
    lines = [line for line in (reports / f"{stem}.md").read_text().splitlines() if line]
    assert lines[0] == lines[-1] == MARKING
    html = (reports / f"{stem}.html").read_text()
    shown = f'<p class="marking">{MARKING}</p>'
    assert html.count(shown) == 2
    assert html.index(shown) < html.index("<h1>")
    assert html.rindex(shown) > html.rindex("</h2>")


def test_a_blank_marking_marks_nothing_but_pages_are_still_numbered(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    with edit_settings(root) as settings:
        settings["organisation"]["protective_marking"] = ""
    result = run("-w", root, "allocate", FIXTURES / "formula_like_text.xlsx", "--cycle",
                 CYCLE, "--from", "01/09/2026", "--to", "31/10/2026", "--seed", "2",
                 "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["allocations"]
    form = load_workbook(min((root / "cycles" / CYCLE / "audit-forms").glob("*.xlsx")))
    sheet = form.worksheets[0]
    assert not sheet.oddHeader.center.text
    assert sheet.oddFooter.right.text == "Page &P of &N"
    assert all(c.value is None for c in sheet[1][1:])


def test_the_moderation_learning_is_marked_when_given_the_marking(cycle: Path) -> None:
    from qaudit.jobs.moderate import learning_markdown

    with open_workspace(cycle).store() as store:
        lines = learning_markdown(store, CYCLE, True, marking=MARKING).splitlines()
        unmarked = learning_markdown(store, CYCLE, True).splitlines()
    assert lines[0] == lines[-1] == MARKING
    assert [line for line in lines[1:-1] if line] == [line for line in unmarked if line]
