"""`qaudit status` and `qaudit export`: progress that adds up, data that leaks nothing."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import fill_forms
import pytest
from openpyxl import load_workbook

from conftest import FIXTURES, Result, copy_workspace, init_workspace, qaudit_ok, raw_database
from qaudit.jobs.people import known_identifiers
from qaudit.workbooks.moderation import THEMES
from qaudit.workspace import Workspace, open_workspace

CYCLE = "C1"


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Formula-like names drawn, most forms back (one RI with an escalation), moderated."""
    root = tmp_path_factory.mktemp("cycle") / "ws"
    ws = init_workspace(root)

    def qaudit(*args: str) -> None:
        qaudit_ok(root, *args)

    qaudit("allocate", str(FIXTURES / "formula_like_text.xlsx"), "--cycle", CYCLE, "--from",
           "01/09/2026", "--to", "31/10/2026", "--seed", "2", "--due",
           (date.today() + timedelta(days=5)).strftime("%d/%m/%Y"))
    rng = random.Random(3)
    back = root.parent / "back"
    forms = sorted((ws.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx"))
    for i, form in enumerate(forms[:-1]):
        fill_forms.fill_audit(form, back / form.name, rng,
                              grade="Requires improvement" if i == 0 else None, escalate=i == 0)
    for form in sorted((ws.cycle_dir(CYCLE) / "self-reflection").glob("*.xlsx"))[:2]:
        fill_forms.fill_reflection(form, back / form.name, rng)
    qaudit("ingest", str(back))
    qaudit("moderate", "select", "--cycle", CYCLE, "--seed", "1")
    book = ws.cycle_dir(CYCLE) / "moderation" / "C1-moderation.xlsx"
    fill_forms.fill_moderation(book, root.parent / "mod.xlsx", random.Random(1))
    qaudit("moderate", "ingest", str(root.parent / "mod.xlsx"))
    return root


@pytest.fixture
def ws(cycle: Path, tmp_path: Path) -> Workspace:
    copy_workspace(cycle, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def test_status_adds_up_per_quadrant_and_manager(run: Callable[..., Result],
                                                 ws: Workspace) -> None:
    data = json.loads(run("-w", ws.root, "status", "--json").stdout)
    assert data["cycle"] == CYCLE
    with ws.store() as store:
        allocated = len(store.draws.allocations(CYCLE))
        moderated = len(store.moderation.moderated_pairs(CYCLE))
        open_ri = [i for i in store.returns.ri_items(CYCLE) if i.status == "open"]
    assert allocated > 0 and moderated > 0 and open_ri
    for key in ("by_quadrant", "by_service_manager"):
        *groups, total = data[key]
        assert total["allocated"] == allocated == sum(g["allocated"] for g in groups)
        assert total["audits"] == allocated - 1
        assert total["self_reflections"] == 2
        assert total["overdue"] == 0
        assert total["moderated"] == moderated
        assert total["ri_open"] == len(open_ri)


def test_missing_audit_is_overdue_after_the_due_date(run: Callable[..., Result],
                                                     ws: Workspace) -> None:
    # Tampered on purpose, as if the weeks had passed: no command moves a drawn cycle's due
    # date, and this cycle's returns (ingested) stop it being redrawn with an earlier one.
    with raw_database(ws) as conn:
        conn.execute("UPDATE cycles SET due_date = '2020-01-01'")
    data = json.loads(run("-w", ws.root, "status", "--cycle", CYCLE, "--json").stdout)
    assert data["by_quadrant"][-1]["overdue"] == 1
    assert "returns due 01/01/2020 (past)" in run("-w", ws.root, "status").stdout


def test_status_of_unknown_cycle_lists_the_cycles(run: Callable[..., Result],
                                                  ws: Workspace, tmp_path: Path) -> None:
    result = run("-w", ws.root, "status", "--cycle", "C9")
    assert result.code == 1 and "cycles: 'C1'" in result.stderr
    empty = init_workspace(tmp_path / "empty")
    assert "no cycle is drawn yet" in run("-w", empty.root, "status").stderr


def _cells(path: Path) -> list[tuple[str, object, str]]:
    wb = load_workbook(path)
    return [(ws.title, c.value, c.data_type) for ws in wb.worksheets for row in ws.iter_rows()
            for c in row if c.value is not None]


def test_export_has_every_table_and_no_formula(run: Callable[..., Result], ws: Workspace,
                                               tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    assert run("-w", ws.root, "export", "--out", path).code == 0
    wb = load_workbook(path)
    assert wb.sheetnames == ["Allocations", "Audits", "Answers", "Self-reflections",
                             "Moderation", "RI follow-up", "RI steps", "Escalations",
                             "Data dictionary"]
    cells = _cells(path)
    assert all(kind != "f" for _, _, kind in cells)
    values = {v for _, v, _ in cells}
    assert {"=Smith, Jo", "+Priya Shah"} & values
    # the moderation and the self-reflections in the framework's words too (issue 14)
    grades = {"Requires improvement", "Adequate", "Good", "Outstanding"}
    moderation = [row for row in wb["Moderation"].iter_rows(min_row=2, values_only=True)]
    assert moderation and {r[1] for r in moderation} <= grades
    assert {r[2] for r in moderation} <= {"Yes", "No"}
    assert {r[5] for r in moderation} <= set(THEMES)
    reflections = [row for row in wb["Self-reflections"].iter_rows(min_row=2, values_only=True)]
    assert reflections and {r[4] for r in reflections} - {None} <= grades
    assert all(isinstance(r[5], datetime) for r in reflections)


def test_anonymised_export_shows_no_identifier_and_keeps_pseudonyms_stable(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    assert run("-w", ws.root, "export", "--anonymise", "--out", first).code == 0
    assert run("-w", ws.root, "export", "--anonymise", "--out", second).code == 0
    text = " ".join(str(v) for _, v, _ in _cells(first))
    with ws.store() as store:
        identifiers = known_identifiers(store)
        allocations = store.draws.allocations(CYCLE)
    assert identifiers and allocations
    for identifier in identifiers:
        assert not re.search(rf"(?<!\w){re.escape(identifier)}(?!\w)", text, re.I), identifier
    for allocation in allocations:
        assert allocation.reference not in text
        assert allocation.team not in text
    assert [v for _, v, _ in _cells(first)] == [v for _, v, _ in _cells(second)]
    key = (ws.root / "pseudonym.key").read_text().strip()
    assert key not in text and len(key) == 64


def test_export_needs_an_xlsx_name(run: Callable[..., Result], ws: Workspace,
                                   tmp_path: Path) -> None:
    result = run("-w", ws.root, "export", "--out", tmp_path / "data.csv")
    assert result.code == 1 and "must end in .xlsx" in result.stderr
