"""Moderation: the spread sample, the session workbook, outcomes, and honest agreement."""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import sqlite3
import sys
import warnings
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sklearn.metrics import cohen_kappa_score

from conftest import EXAMPLES, Result, qaudit_ok, small_workspace
from qaudit.jobs.people import known_identifiers
from qaudit.moderation import (
    Candidate,
    agreement,
    cross_table,
    gwet_ac2,
    leniency,
    moderation_sample,
    sample_size,
    weighted_kappa,
)
from qaudit.workspace import Workspace, init_workspace, open_workspace

sys.path.insert(0, str(EXAMPLES))
import fill_forms

CYCLE = "2026-27 C3"


# --- the sample ------------------------------------------------------------------------


@st.composite
def candidates(draw: st.DrawFn) -> list[Candidate]:
    n = draw(st.integers(1, 60))
    auditors = draw(st.integers(1, 15))
    return [Candidate(i, f"R-{i:03d}", f"a{draw(st.integers(0, auditors - 1))}",
                      draw(st.integers(1, 4))) for i in range(n)]


@settings(max_examples=200, deadline=None)
@given(candidates(), st.sampled_from([0.05, 0.1, 0.2, 0.25, 0.5, 1.0]), st.integers(0, 2**32 - 1))
def test_sample_is_the_right_size_spread_and_reproducible(
    pool: list[Candidate], rate: float, seed: int
) -> None:
    chosen = moderation_sample(pool, rate, np.random.default_rng(seed))
    assert len(chosen) == math.ceil(round(rate * len(pool), 9)) == sample_size(len(pool), rate)
    assert len({c.return_id for c in chosen}) == len(chosen)
    assert set(chosen) <= set(pool)
    auditors = {c.auditor for c in pool}
    grades = {c.grade for c in pool}
    if len(chosen) >= len(auditors) + len(grades):
        assert {c.auditor for c in chosen} == auditors
        assert {c.grade for c in chosen} == grades
    again = moderation_sample(list(reversed(pool)), rate, np.random.default_rng(seed))
    assert again == chosen


def test_twenty_percent_of_eleven_is_three() -> None:
    pool = [Candidate(i, f"R{i}", "a", 3) for i in range(11)]
    assert len(moderation_sample(pool, 0.2, np.random.default_rng(1))) == 3


def test_rare_grade_and_lone_auditor_are_included() -> None:
    pool = [Candidate(i, f"R{i:02d}", f"a{i % 3}", 3) for i in range(40)]
    pool.append(Candidate(98, "R98", "a0", 1))  # the only Requires improvement
    pool.append(Candidate(99, "R99", "solo", 3))  # an auditor with one audit
    for seed in range(20):
        chosen = moderation_sample(pool, 0.2, np.random.default_rng(seed))
        assert {c.return_id for c in chosen} >= {98, 99}


# --- agreement --------------------------------------------------------------------------


grades = st.integers(1, 4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(grades, grades), min_size=2, max_size=80))
def test_kappa_equals_scikit_learn(pairs: list[tuple[int, int]]) -> None:
    a, m = zip(*pairs, strict=True)
    ours = weighted_kappa(cross_table(pairs))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns where kappa is undefined
        reference = cohen_kappa_score(a, m, weights="quadratic", labels=[1, 2, 3, 4])
    if ours is None:
        assert not np.isfinite(reference) or math.isclose(reference, 0.0, abs_tol=1e-9)
    else:
        assert math.isclose(ours, reference, abs_tol=1e-9)


def test_gwet_ac2_by_hand() -> None:
    """A worked example: 10 audits, quadratic weights, computed step by step."""
    pairs = [(3, 3)] * 6 + [(2, 2), (4, 3), (3, 2), (1, 1)]
    k = 4
    w = [[1 - (i - j) ** 2 / 9 for j in range(k)] for i in range(k)]
    p = [[0.0] * k for _ in range(k)]
    for a, m in pairs:
        p[a - 1][m - 1] += 1 / len(pairs)
    pa = sum(w[i][j] * p[i][j] for i in range(k) for j in range(k))
    pi = [(sum(p[i]) + sum(row[i] for row in p)) / 2 for i in range(k)]
    tw = sum(map(sum, w))
    pe = tw / (k * (k - 1)) * sum(x * (1 - x) for x in pi)
    expected = (pa - pe) / (1 - pe)
    assert gwet_ac2(cross_table(pairs)) == pytest.approx(expected, abs=1e-12)
    assert pa == pytest.approx(1 - (1 / 9 + 1 / 9) / 10)


def test_ac2_stays_stable_when_everyone_gives_one_grade() -> None:
    pairs = [(3, 3)] * 20
    assert weighted_kappa(cross_table(pairs)) is None  # kappa's paradox: undefined
    assert gwet_ac2(cross_table(pairs)) == pytest.approx(1.0)
    mostly = [(3, 3)] * 19 + [(3, 2)]
    kappa = weighted_kappa(cross_table(mostly))
    ac2 = gwet_ac2(cross_table(mostly))
    assert kappa is not None and ac2 is not None and ac2 > 0.9 > kappa


def test_agreement_figures_and_interval() -> None:
    pairs = [(3, 3)] * 10 + [(2, 3), (4, 3), (1, 1), (2, 2), (3, 4), (1, 3)]
    result = agreement(pairs)
    assert result.n == 16
    assert result.exact == pytest.approx(12 / 16)
    assert result.within_one == pytest.approx(15 / 16)
    assert result.kappa_ci is not None
    assert result.kappa is not None and result.kappa_ci.low <= result.kappa <= result.kappa_ci.high
    assert agreement(pairs).kappa_ci == result.kappa_ci  # a fixed seed: the same interval
    assert sum(map(sum, result.table)) == 16 and result.table[0][2] == 1


def test_leniency_is_moderated_minus_auditor_per_auditor() -> None:
    rows = [("a", 4, 3), ("a", 3, 3), ("b", 2, 3)]
    result = {x.auditor: (x.n, x.mean_difference) for x in leniency(rows)}
    assert result == {"a": (2, -0.5), "b": (1, 1.0)}


# --- the commands ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def returned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose 40 allocations came back (2 per quadrant x type), once."""
    root = tmp_path_factory.mktemp("returned") / "ws"
    ws = small_workspace(root, 2)

    def qaudit(*args: str) -> None:
        qaudit_ok(root, *args)

    qaudit("allocate", str(EXAMPLES / "case-export.xlsx"), "--cycle", CYCLE, "--from",
           "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due",
           (date.today() + timedelta(days=10)).strftime("%d/%m/%Y"))
    rng = random.Random(5)
    returns = root.parent / "returns"
    for i, form in enumerate(sorted((ws.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx"))):
        grade = fill_forms.GRADES[i % 4] if i < 8 else None
        fill_forms.fill_audit(form, returns / form.name, rng, grade=grade)
    qaudit("ingest", str(returns))
    return root


@pytest.fixture
def ws(returned: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(returned, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def select(run: Callable[..., Result], ws: Workspace, *extra: str) -> Result:
    return run("-w", ws.root, "moderate", "select", "--cycle", CYCLE, "--seed", "4", *extra)


def workbook(ws: Workspace) -> Path:
    return ws.cycle_dir(CYCLE) / "moderation" / "2026-27-C3-moderation.xlsx"


def outcomes(ws: Workspace) -> int:
    with sqlite3.connect(ws.db_path) as conn:
        return int(conn.execute("SELECT count(*) FROM moderation_outcomes").fetchone()[0])


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
    store = ws.store()
    for allocation in store.draws.allocations(CYCLE):
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
    again = select(run, ws)
    assert again.code == 1 and "already drawn" in again.stderr
    assert select(run, ws, "--redraw").code == 0
    fill_forms.fill_moderation(workbook(ws), tmp_path / "m.xlsx", random.Random(1))
    assert run("-w", ws.root, "moderate", "ingest", tmp_path / "m.xlsx").code == 0
    late = select(run, ws, "--redraw")
    assert late.code == 1 and "can no longer be redrawn" in late.stderr


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
    store = ws.store()
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
    assert outcomes(ws) == 8


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
    with sqlite3.connect(ws.db_path) as conn:
        kept = conn.execute("SELECT count(*) FROM moderation_outcomes WHERE replaced_at IS NOT"
                            " NULL").fetchone()[0]
    assert kept >= 1


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
    assert outcomes(ws) == 0


def test_workbook_of_a_redrawn_sample_is_refused(run: Callable[..., Result], ws: Workspace,
                                                  tmp_path: Path) -> None:
    select(run, ws)
    fill_forms.fill_moderation(workbook(ws), tmp_path / "old.xlsx", random.Random(2))
    select(run, ws, "--redraw")
    result = run("-w", ws.root, "moderate", "ingest", tmp_path / "old.xlsx")
    assert result.code == 1 and "earlier moderation sample" in result.stdout
    assert outcomes(ws) == 0


def test_stats_match_the_outcomes(run: Callable[..., Result], ws: Workspace,
                                  tmp_path: Path) -> None:
    select(run, ws)
    fill_forms.fill_moderation(workbook(ws), tmp_path / "m.xlsx", random.Random(7))
    run("-w", ws.root, "moderate", "ingest", tmp_path / "m.xlsx")
    figures = json.loads(run("-w", ws.root, "moderate", "stats", "--cycle", CYCLE,
                             "--json").stdout)
    pairs = ws.store().moderation.moderated_pairs(CYCLE)
    rank = {"requires_improvement": 1, "adequate": 2, "good": 3, "outstanding": 4}
    a = [rank[p.auditor_grade] for p in pairs]
    m = [rank[p.moderated_grade] for p in pairs]
    assert figures["moderated"] == 8
    assert figures["exact_agreement"] == pytest.approx(np.mean(np.array(a) == np.array(m)))
    if figures["weighted_kappa"] is not None:
        assert figures["weighted_kappa"] == pytest.approx(
            cohen_kappa_score(a, m, weights="quadratic", labels=[1, 2, 3, 4]))
    assert sum(x["n"] for x in figures["leniency"]) == 8
    text = run("-w", ws.root, "moderate", "stats", "--all").stdout
    assert "exact agreement" in text and "Audit the auditor" in text
    assert run("-w", ws.root, "moderate", "stats").code == 1


def test_learning_is_anonymised_for_workshops(run: Callable[..., Result], ws: Workspace,
                                              tmp_path: Path) -> None:
    select(run, ws)
    store = ws.store()
    victim = store.draws.allocations(CYCLE)[0]
    secret = f"Spoke to {victim.worker_name or victim.worker_id} about {victim.person_id}."
    fill_forms.fill_moderation(workbook(ws), tmp_path / "m.xlsx", random.Random(7),
                               overrides={"mod_1_learning": secret})
    run("-w", ws.root, "moderate", "ingest", tmp_path / "m.xlsx")
    internal = run("-w", ws.root, "moderate", "learning", "--cycle", CYCLE).stdout
    public = tmp_path / "workshop.md"
    assert run("-w", ws.root, "moderate", "learning", "--cycle", CYCLE, "--anonymise",
               "--out", public).code == 0
    text = public.read_text()
    auditors = {p.auditor for p in store.moderation.moderated_pairs(CYCLE)}
    assert any(name in internal for name in auditors)
    for name in auditors:
        assert name not in text
    for identifier in known_identifiers(store):
        assert not re.search(rf"(?<!\w){re.escape(identifier)}(?!\w)", text, re.I), identifier
    assert "Auditor A" in text and "(removed)" in text
    assert "2026-27-C3-0" not in text


def test_no_returns_yet_is_a_clear_error(run: Callable[..., Result], tmp_path: Path) -> None:
    empty = init_workspace(tmp_path / "empty")
    result = run("-w", empty.root, "moderate", "select", "--cycle", CYCLE)
    assert result.code == 1 and "no cycle '2026-27 C3' (cycles: none yet)" in result.stderr


def test_unknown_cycle_is_an_error_everywhere(run: Callable[..., Result], ws: Workspace) -> None:
    for args in (["moderate", "stats", "--cycle", "C9"], ["moderate", "select", "--cycle",
                 "2026-27 c3"], ["ri", "--cycle", "C9"], ["escalations", "--cycle", "C9"],
                 ["moderate", "learning", "--cycle", "C9"]):
        result = run("-w", ws.root, *args)
        assert result.code == 1 and "no cycle" in result.stderr, args


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
    store = ws.store()
    assert store.moderation.grades_of_record(CYCLE)[reference][1:] == ("requires_improvement",
                                                            "requires_improvement")
    assert len(store.moderation.moderated_pairs(CYCLE)) == 8
    ri = {i.reference: i.status for i in store.returns.ri_items(CYCLE)}
    assert ri[reference] == "open"
    again = run("-w", ws.root, "moderate", "ingest", path, "--json")
    assert json.loads(again.stdout)["status"] == "unchanged"


def test_auditor_typed_two_ways_is_one_auditor(run: Callable[..., Result], ws: Workspace,
                                               tmp_path: Path) -> None:
    with sqlite3.connect(ws.db_path) as conn:
        rows = conn.execute("SELECT id, fields_json FROM returns WHERE kind = 'audit'").fetchall()
        for n, (rid, fields) in enumerate(rows):
            data = json.loads(fields)
            data["auditor_name"] = "Jo Smith" if n % 2 else " jo  SMITH "
            conn.execute("UPDATE returns SET fields_json = ? WHERE id = ?",
                         (json.dumps(data), rid))
    select(run, ws)
    fill_forms.fill_moderation(workbook(ws), tmp_path / "m.xlsx", random.Random(3))
    run("-w", ws.root, "moderate", "ingest", tmp_path / "m.xlsx")
    figures = json.loads(run("-w", ws.root, "moderate", "stats", "--all", "--json").stdout)
    assert [x["n"] for x in figures["leniency"]] == [8]
