"""`qaudit moderate`: the session workbook, outcomes as grades of record, stats, learning.

End to end through the CLI; the sample's and agreement's rules themselves are tested pure in
tests/core/test_moderation.py.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import fill_forms
import numpy as np
import pytest
from openpyxl import load_workbook
from sklearn.metrics import cohen_kappa_score

from conftest import (
    EXAMPLES,
    Result,
    copy_workspace,
    init_workspace,
    qaudit_ok,
    raw_database,
    small_workspace,
)
from qaudit.db import ModeratedPair
from qaudit.jobs.people import known_identifiers
from qaudit.workspace import Workspace, open_workspace

CYCLE = "2026-27 C3"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with 40 allocations drawn (2 per quadrant x type) and nothing back, once."""
    root = tmp_path_factory.mktemp("drawn") / "ws"
    small_workspace(root, 2)
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due",
              (date.today() + timedelta(days=10)).strftime("%d/%m/%Y"))
    return root


@pytest.fixture(scope="module")
def returned(drawn: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The drawn workspace with all 40 audits back, every grade among them, once."""
    root = tmp_path_factory.mktemp("returned") / "ws"
    copy_workspace(drawn, root)
    ws = open_workspace(root)
    rng = random.Random(5)
    returns = root.parent / "returns"
    for i, form in enumerate(audit_forms(ws)):
        grade = fill_forms.GRADES[i % 4] if i < 8 else None
        fill_forms.fill_audit(form, returns / form.name, rng, grade=grade)
    qaudit_ok(root, "ingest", returns)
    return root


@pytest.fixture
def ws(returned: Path, tmp_path: Path) -> Workspace:
    copy_workspace(returned, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def select(run: Callable[..., Result], ws: Workspace, *extra: str) -> Result:
    return run("-w", ws.root, "moderate", "select", "--cycle", CYCLE, "--seed", "4", *extra)


def workbook(ws: Workspace) -> Path:
    return ws.cycle_dir(CYCLE) / "moderation" / "2026-27-C3-moderation.xlsx"


def audit_forms(ws: Workspace) -> list[Path]:
    return sorted((ws.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx"))


def moderated_pairs(ws: Workspace) -> list[ModeratedPair]:
    """The cycle's current moderation outcomes, each beside the auditor's grade."""
    with ws.store() as store:
        return store.moderation.moderated_pairs(CYCLE)


def outcome_rows(ws: Workspace, replaced_only: bool = False) -> int:
    """Rows of the moderation outcomes table, replaced ones included. Raw SQL on purpose:
    the store shows only current outcomes, and these tests check the history too."""
    where = " WHERE replaced_at IS NOT NULL" if replaced_only else ""
    with raw_database(ws) as conn:
        return int(conn.execute(f"SELECT count(*) FROM moderation_outcomes{where}")
                   .fetchone()[0])


def test_select_writes_the_session_workbook(run: Callable[..., Result], ws: Workspace) -> None:
    result = select(run, ws, "--json")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["references"]) == 8  # ceil(0.2 x 40)
    assert data["grades_covered"] == data["grades"] == 4
    wb = load_workbook(workbook(ws))
    assert wb.sheetnames == ["Moderation", "Audits", "_qaudit"]
    assert wb["_qaudit"].sheet_state == "veryHidden"
    assert {f"mod_{n}_grade" for n in range(1, 9)} <= set(wb.defined_names)
    shown = [wb["Moderation"][f"E{r}"].value for r in range(5, 13)]
    assert all(g in fill_forms.GRADES for g in shown)
    text = " ".join(str(c.value) for ws_ in wb.worksheets for row in ws_.iter_rows()
                    for c in row if c.value is not None)
    with ws.store() as store:
        allocations = store.draws.allocations(CYCLE)
    assert len(allocations) == 40
    for allocation in allocations:
        assert allocation.person_id not in text.split()
        assert not allocation.worker_name or allocation.worker_name not in text


def test_blind_workbook_hides_the_auditors_grade(run: Callable[..., Result],
                                                 ws: Workspace) -> None:
    assert select(run, ws, "--blind").code == 0
    wb = load_workbook(workbook(ws))
    assert {wb["Moderation"][f"E{r}"].value for r in range(5, 13)} == {"(blind)"}
    audits = " ".join(str(c.value) for row in wb["Audits"].iter_rows() for c in row if c.value)
    assert "auditor's grade" not in audits


def test_sample_is_drawn_once_redrawn_before_outcomes_only(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    assert select(run, ws).code == 0
    again = select(run, ws)  # every audit is back: the sample is already at 20%
    assert again.code == 0 and "already holds 8 of 40 returned audits" in again.stdout
    assert len(moderated_items(ws)) == 8
    assert select(run, ws, "--redraw").code == 0
    fill_forms.fill_moderation(workbook(ws), tmp_path / "m.xlsx", random.Random(1))
    assert run("-w", ws.root, "moderate", "ingest", tmp_path / "m.xlsx").code == 0
    late = select(run, ws, "--redraw")
    assert late.code == 1 and "can no longer be redrawn" in late.stderr


def moderated_items(ws: Workspace) -> list[str]:
    with ws.store() as store:
        sample = store.moderation.current_sample(CYCLE)
        return [] if sample is None else [i.audit.reference for i in sample.items]


def test_a_sample_selected_early_is_topped_up_to_twenty_percent_of_all_returns(
    run: Callable[..., Result], drawn: Path, tmp_path: Path
) -> None:
    """10 of 40 audits back when the sample is drawn: 2 are picked (and warned about);
    once all 40 are back the same command adds a second round to reach 8, keeping the
    first picks and their recorded outcomes."""
    copy_workspace(drawn, tmp_path / "ws")
    ws = open_workspace(tmp_path / "ws")
    rng = random.Random(5)
    forms = audit_forms(ws)
    first, rest = tmp_path / "first", tmp_path / "rest"
    for i, form in enumerate(forms):
        fill_forms.fill_audit(form, (first if i < 10 else rest) / form.name, rng,
                              grade=fill_forms.GRADES[i % 4])
    assert run("-w", ws.root, "ingest", first).code == 0
    early = select(run, ws, "--json")
    assert early.code == 0, early.stderr
    assert "may still be coming in" in early.stderr  # due in 10 days
    assert json.loads(early.stdout)["references"] == moderated_items(ws)
    assert len(moderated_items(ws)) == 2  # ceil(0.2 x 10)
    picked = moderated_items(ws)
    fill_forms.fill_moderation(workbook(ws), tmp_path / "m1.xlsx", random.Random(1))
    assert run("-w", ws.root, "moderate", "ingest", tmp_path / "m1.xlsx").code == 0

    assert run("-w", ws.root, "ingest", rest).code == 0
    status = json.loads(run("-w", ws.root, "status", "--json").stdout)["moderation"]
    assert status == {"returned": 40, "selected": 2, "moderated": 2, "target": 8,
                      "rate": 0.2, "met": False}
    topped = select(run, ws, "--json")
    assert topped.code == 0, topped.stderr
    data = json.loads(topped.stdout)
    assert data["round"] == 2 and data["in_sample"] == 8 and len(data["references"]) == 6
    assert moderated_items(ws)[:2] == picked  # earlier picks kept, in order
    second = ws.cycle_dir(CYCLE) / "moderation" / "2026-27-C3-moderation-round-2.xlsx"
    assert second.is_file()
    assert len(moderated_pairs(ws)) == 2  # the first round's outcomes stay recorded
    fill_forms.fill_moderation(second, tmp_path / "m2.xlsx", random.Random(2))
    assert run("-w", ws.root, "moderate", "ingest", tmp_path / "m2.xlsx").code == 0
    assert len(moderated_pairs(ws)) == 8
    status = json.loads(run("-w", ws.root, "status", "--json").stdout)["moderation"]
    assert status["moderated"] == 8 and status["met"] is True
    assert "8 of 40" in run("-w", ws.root, "status").stdout
    # Nothing more to add, and the first round's workbook still ingests as unchanged.
    assert "nothing to add" in select(run, ws).stdout
    again = run("-w", ws.root, "moderate", "ingest", tmp_path / "m1.xlsx", "--json")
    assert json.loads(again.stdout)["status"] == "unchanged"


def test_same_seed_same_sample(run: Callable[..., Result], ws: Workspace) -> None:
    first = json.loads(select(run, ws, "--dry-run", "--json").stdout)["references"]
    second = json.loads(select(run, ws, "--dry-run", "--json").stdout)["references"]
    assert first == second


def test_outcomes_become_the_grade_of_record_and_auditors_grade_is_kept(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    select(run, ws)
    path = tmp_path / "filled.xlsx"
    agreed = fill_forms.fill_moderation(workbook(ws), path, random.Random(3),
                                        overrides={"mod_1_grade": "Requires improvement"})
    result = run("-w", ws.root, "moderate", "ingest", path, "--json")
    assert result.code == 0, result.stdout
    references = dict(load_workbook(path)["_qaudit"].iter_rows(values_only=True))
    with ws.store() as store:
        grades = store.moderation.grades_of_record(CYCLE)
    first = references["item_1"]
    auditor, moderated, of_record = grades[first]
    assert moderated == of_record == "requires_improvement"
    assert auditor != "" and auditor is not None
    for n in range(2, 9):
        ref = references[f"item_{n}"]
        assert grades[ref][2] == agreed[n].lower().replace(" ", "_")
    ri = json.loads(run("-w", ws.root, "ri", "--json").stdout)
    assert first in {i["reference"] for i in ri if i["status"] == "open"}
    again = run("-w", ws.root, "moderate", "ingest", path, "--json")
    assert json.loads(again.stdout)["status"] == "unchanged"
    assert len(moderated_pairs(ws)) == 8
    assert outcome_rows(ws) == 8  # the unchanged workbook added no row, not even as history


def test_changed_outcomes_need_replace(run: Callable[..., Result], ws: Workspace,
                                       tmp_path: Path) -> None:
    select(run, ws)
    fill_forms.fill_moderation(workbook(ws), tmp_path / "a.xlsx", random.Random(1),
                               overrides={"mod_2_grade": "Good"})
    fill_forms.fill_moderation(workbook(ws), tmp_path / "b.xlsx", random.Random(1),
                               overrides={"mod_2_grade": "Adequate"})
    assert run("-w", ws.root, "moderate", "ingest", tmp_path / "a.xlsx").code == 0
    refused = run("-w", ws.root, "moderate", "ingest", tmp_path / "b.xlsx")
    assert refused.code == 1 and "--replace" in refused.stdout
    assert run("-w", ws.root, "moderate", "ingest", tmp_path / "b.xlsx", "--replace").code == 0
    reference = dict(load_workbook(tmp_path / "b.xlsx")["_qaudit"].iter_rows(
        values_only=True))["item_2"]
    with ws.store() as store:
        assert store.moderation.grades_of_record(CYCLE)[reference][1] == "adequate"
    assert len(moderated_pairs(ws)) == 8
    assert outcome_rows(ws, replaced_only=True) >= 1  # the replaced outcomes are kept


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mod_3_grade": None}, "is required"),
        ({"mod_3_grade": "Superb"}, "is not allowed"),
        ({"mod_1_constructive": "Maybe"}, "is not allowed"),
        ({"mod_2_theme": "Weather"}, "is not allowed"),
        ({"mod_4_learning": fill_forms.Typed("=1+1")}, "holds a formula"),
    ],
)
def test_wrong_moderation_workbook_is_refused_and_nothing_stored(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path, overrides: dict[str, Any],
    message: str,
) -> None:
    select(run, ws)
    path = tmp_path / "filled.xlsx"
    fill_forms.fill_moderation(workbook(ws), path, random.Random(2), overrides=overrides)
    result = run("-w", ws.root, "moderate", "ingest", path, "--json")
    assert result.code == 1
    findings = json.loads(result.stdout)["findings"]
    assert any(message in f["message"] and next(iter(overrides)) in f["cell"]
               for f in findings), findings
    assert moderated_pairs(ws) == [] and outcome_rows(ws) == 0


def test_workbook_of_a_redrawn_sample_is_refused(run: Callable[..., Result], ws: Workspace,
                                                  tmp_path: Path) -> None:
    select(run, ws)
    fill_forms.fill_moderation(workbook(ws), tmp_path / "old.xlsx", random.Random(2))
    select(run, ws, "--redraw")
    result = run("-w", ws.root, "moderate", "ingest", tmp_path / "old.xlsx")
    assert result.code == 1 and "earlier moderation sample" in result.stdout
    assert moderated_pairs(ws) == [] and outcome_rows(ws) == 0


def test_stats_match_the_outcomes(run: Callable[..., Result], ws: Workspace,
                                  tmp_path: Path) -> None:
    select(run, ws)
    fill_forms.fill_moderation(workbook(ws), tmp_path / "m.xlsx", random.Random(7))
    run("-w", ws.root, "moderate", "ingest", tmp_path / "m.xlsx")
    figures = json.loads(run("-w", ws.root, "moderate", "stats", "--cycle", CYCLE,
                             "--json").stdout)
    pairs = moderated_pairs(ws)
    rank = {"requires_improvement": 1, "adequate": 2, "good": 3, "outstanding": 4}
    a = [rank[p.auditor_grade] for p in pairs]
    m = [rank[p.moderated_grade] for p in pairs]
    assert figures["moderated"] == len(pairs) == 8
    assert figures["exact_agreement"] == pytest.approx(np.mean(np.array(a) == np.array(m)))
    # The sample spreads over every grade, so the auditors' grades vary and kappa is defined.
    assert len(set(a)) == 4
    assert figures["weighted_kappa"] is not None
    assert figures["weighted_kappa"] == pytest.approx(
        cohen_kappa_score(a, m, weights="quadratic", labels=[1, 2, 3, 4]))
    assert sum(x["n"] for x in figures["leniency"]) == 8
    text = run("-w", ws.root, "moderate", "stats", "--all").stdout
    assert "exact agreement" in text and "Audit the auditor" in text
    assert run("-w", ws.root, "moderate", "stats").code == 1


def test_learning_is_anonymised_for_workshops(run: Callable[..., Result], ws: Workspace,
                                              tmp_path: Path) -> None:
    select(run, ws)
    with ws.store() as store:
        victim = store.draws.allocations(CYCLE)[0]
        identifiers = known_identifiers(store)
    secret = f"Spoke to {victim.worker_name or victim.worker_id} about {victim.person_id}."
    fill_forms.fill_moderation(workbook(ws), tmp_path / "m.xlsx", random.Random(7),
                               overrides={"mod_1_learning": secret})
    run("-w", ws.root, "moderate", "ingest", tmp_path / "m.xlsx")
    internal = run("-w", ws.root, "moderate", "learning", "--cycle", CYCLE).stdout
    public = tmp_path / "workshop.md"
    assert run("-w", ws.root, "moderate", "learning", "--cycle", CYCLE, "--anonymise",
               "--out", public).code == 0
    text = public.read_text()
    auditors = {p.auditor for p in moderated_pairs(ws)}
    assert auditors and any(name in internal for name in auditors)
    for name in auditors:
        assert name not in text
    assert identifiers
    for identifier in identifiers:
        assert not re.search(rf"(?<!\w){re.escape(identifier)}(?!\w)", text, re.I), identifier
    assert "Auditor A" in text and "(removed)" in text
    assert "2026-27-C3-0" not in text


def test_no_returns_yet_is_a_clear_error(run: Callable[..., Result], drawn: Path,
                                        tmp_path: Path) -> None:
    ws = open_workspace(copy_workspace(drawn, tmp_path / "ws"))
    result = run("-w", ws.root, "moderate", "select", "--cycle", CYCLE)
    assert result.code == 1
    assert f"cycle '{CYCLE}' has no returned audits yet; run `qaudit ingest`" in result.stderr
    assert not workbook(ws).exists()
    with ws.store() as store:
        assert store.moderation.current_sample(CYCLE) is None


def test_selecting_a_cycle_never_drawn_lists_the_cycles(run: Callable[..., Result],
                                                         tmp_path: Path) -> None:
    empty = init_workspace(tmp_path / "empty")
    result = run("-w", empty.root, "moderate", "select", "--cycle", CYCLE)
    assert result.code == 1 and "no cycle '2026-27 C3' (cycles: none yet)" in result.stderr


def test_unknown_cycle_is_an_error_everywhere(run: Callable[..., Result], ws: Workspace) -> None:
    for args in (["moderate", "stats", "--cycle", "C9"], ["moderate", "select", "--cycle",
                 "C9"], ["ri", "--cycle", "C9"], ["escalations", "--cycle", "C9"],
                 ["moderate", "learning", "--cycle", "C9"], ["status", "--cycle", "C9"],
                 ["report", "--cycle", "C9"], ["log", "--cycle", "C9"],
                 ["cycle", "cancel", "C9", "--reason", "x"]):
        result = run("-w", ws.root, *args)
        assert result.code == 1 and "no cycle 'C9'" in result.stderr, args
        assert "'2026-27 C3'" in result.stderr, args  # the cycles there are


def test_every_command_resolves_a_cycle_name_the_same_way(
    run: Callable[..., Result], ws: Workspace
) -> None:
    for args in (["moderate", "select", "--dry-run"], ["moderate", "stats"], ["ri"],
                 ["escalations"], ["status"], ["moderate", "learning"], ["log"]):
        result = run("-w", ws.root, *args, "--cycle", "2026-27 c3")
        assert result.code == 0, (args, result.stderr)
    data = json.loads(select(run, ws, "--dry-run", "--json").stdout)
    assert data["cycle"] == "2026-27 C3"


def test_missing_moderation_workbook_is_one_clear_line(run: Callable[..., Result],
                                                       ws: Workspace, tmp_path: Path) -> None:
    for path in (tmp_path / "nope.xlsx", tmp_path):
        result = run("-w", ws.root, "moderate", "ingest", path)
        assert result.code == 1 and "unexpected" not in result.stderr + result.stdout


def test_replacing_a_moderated_audit_keeps_its_moderation(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    select(run, ws)
    path = tmp_path / "m.xlsx"
    fill_forms.fill_moderation(workbook(ws), path, random.Random(3),
                               overrides={"mod_1_grade": "Requires improvement"})
    assert run("-w", ws.root, "moderate", "ingest", path).code == 0
    reference = dict(load_workbook(path)["_qaudit"].iter_rows(values_only=True))["item_1"]
    form = ws.cycle_dir(CYCLE) / "audit-forms" / f"{reference}-audit.xlsx"
    fill_forms.fill_audit(form, tmp_path / "again" / form.name, random.Random(11), grade="Good")
    assert run("-w", ws.root, "ingest", tmp_path / "again", "--replace").code == 0
    with ws.store() as store:
        assert store.moderation.grades_of_record(CYCLE)[reference][1:] == (
            "requires_improvement", "requires_improvement")
        assert len(store.moderation.moderated_pairs(CYCLE)) == 8
        ri = {i.reference: i.status for i in store.returns.ri_items(CYCLE)}
    assert ri[reference] == "open"
    again = run("-w", ws.root, "moderate", "ingest", path, "--json")
    assert json.loads(again.stdout)["status"] == "unchanged"


def test_auditor_typed_two_ways_is_one_auditor(run: Callable[..., Result], ws: Workspace,
                                               tmp_path: Path) -> None:
    # Every audit sent back again, its auditor's name typed one of two ways.
    again = tmp_path / "again"
    for n, form in enumerate(audit_forms(ws)):
        fill_forms.fill_audit(form, again / form.name, random.Random(n),
                              grade=fill_forms.GRADES[n % 4],
                              overrides={"auditor_name": "Jo Smith" if n % 2 else " jo  SMITH "})
    assert run("-w", ws.root, "ingest", again, "--replace").code == 0
    with ws.store() as store:
        typed = {a.auditor for a in store.moderation.returned_audits(CYCLE)}
    assert len(typed) == 2, typed  # stored as typed, two ways
    select(run, ws)
    fill_forms.fill_moderation(workbook(ws), tmp_path / "m.xlsx", random.Random(3))
    run("-w", ws.root, "moderate", "ingest", tmp_path / "m.xlsx")
    figures = json.loads(run("-w", ws.root, "moderate", "stats", "--all", "--json").stdout)
    assert [x["n"] for x in figures["leniency"]] == [8]


def test_stats_before_any_moderation_are_null_with_n_zero(
    run: Callable[..., Result], ws: Workspace
) -> None:
    figures = json.loads(run("-w", ws.root, "moderate", "stats", "--cycle", CYCLE,
                             "--json").stdout)
    assert figures["n"] == figures["moderated"] == 0
    for key in ("exact_agreement", "within_one_grade", "weighted_kappa", "gwet_ac2",
                "weighted_kappa_95ci"):
        assert figures[key] is None, key
