"""`qaudit reaudit`: *further audits will be completed to analyse whether changes have been
implemented and improvements have been made*. Two cycles drawn and returned, one audit
graded Requires improvement, its corrective action recorded, a third cycle drawn; then a
round of re-audits from a new export, its form filled and ingested, the figures and the
RI item's outcome."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import fill_forms
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from conftest import Result, edit_settings, init_workspace, raw_database
from qaudit.disclosure import wilson_interval
from qaudit.reaudits import AuditOnRecord
from qaudit.workspace import Workspace, open_workspace

C1, C2, C3 = "2026-27 C1", "2026-27 C2", "2026-27 C3"
WINDOWS = {C1: ("01/06/2026", "30/06/2026", "31/07/2026"),
           C2: ("01/07/2026", "31/07/2026", "31/08/2026"),
           C3: ("01/08/2026", "31/08/2026", "30/09/2026")}
ROUND = f"{C3} re-audits"
LATER = ("--from", "01/09/2026", "--to", "31/10/2026", "--due", "30/11/2026")


def write_export(path: Path) -> Path:
    """Twelve South practitioners in two teams: odd ones do Care Act reviews, even ones
    MCA assessments, one case every five days from June to October 2026 (invented)."""
    rows = []
    n = 0
    for w in range(1, 13):
        day = date(2026, 6, 1) + timedelta(days=w % 5)
        while day <= date(2026, 10, 31):
            n += 1
            rows.append([f"R{n:05d}", f"P{n:05d}",
                         "Care Act Review" if w % 2 else "MCA Assessment",
                         day.strftime("%d/%m/%Y"), f"W{w:02d}", f"Worker {w:02d}",
                         "Wrenbridge Team" if w <= 6 else "Foxley Team", "Sam Manager",
                         "South"])
            day += timedelta(days=5)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["Workflow Step ID", "Person ID", "Step Type", "Completed Date",
                         "Worker ID", "Worker Name", "Team", "Service Manager", "Quadrant"])
        writer.writerows(rows)
    return path


def workspace(root: Path) -> Workspace:
    """Three cases a cycle (two reviews, one MCA assessment in the South); a worker drawn
    in any of the last three cycles is in cool-down."""
    ws = init_workspace(root)
    with edit_settings(ws.root) as settings:
        for quadrant, per_type in settings["quotas"].items():
            for key in per_type:
                per_type[key] = {"care_act_review": 2, "mca_assessment": 1}.get(
                    key, 0) if quadrant == "South" else 0
        settings["sampling"]["worker_cooldown_cycles"] = 3
    return open_workspace(root)


def questions(form: Path) -> list[str]:
    return sorted(n[4:] for n in load_workbook(form).defined_names if n.startswith("ans_"))


def fill_and_ingest(run: Callable[..., Result], ws: Workspace, cycle_dir: Path,
                    out: Path, grades: dict[str, str],
                    answers: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Fill every audit form of a cycle (the grade given by reference, else Good), ingest
    them; returns what each form meant."""
    rng = random.Random(3)
    meant = {}
    for form in sorted((cycle_dir / "audit-forms").glob("*-audit.xlsx")):
        reference = form.name.removesuffix("-audit.xlsx")
        overrides = {f"ans_{q}": a for q, a in (answers or {}).items()}
        meant[reference] = fill_forms.fill_audit(
            form, out / form.name, rng, grade=grades.get(reference, "Good"),
            when=date(2026, 11, 20), overrides=overrides)
        for q, a in (answers or {}).items():  # the overrides are what the form says
            meant[reference]["answers"][q] = (a, meant[reference]["answers"][q][1])
    result = run("-w", ws.root, "ingest", out)
    assert result.code == 0, result.stdout + result.stderr
    return meant


def test_a_requires_improvement_audit_is_reaudited_and_its_outcome_shown(
        run: Callable[..., Result], tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws")
    export = write_export(tmp_path / "export.csv")

    def qaudit(*args: Any) -> Result:
        return run("-w", ws.root, *map(str, args))

    def allocate(cycle: str) -> list[dict[str, Any]]:
        first, last, due = WINDOWS[cycle]
        result = qaudit("allocate", export, "--cycle", cycle, "--from", first, "--to", last,
                        "--due", due, "--seed", "11", "--json")
        assert result.code == 0, result.stderr
        return list(json.loads(result.stdout)["allocations"])

    # C1: one review graded Requires improvement; C2 returned, all Good.
    c1 = allocate(C1)
    ri = next(a for a in c1 if a["audit_type"] == "care_act_review")
    form = ws.cycle_dir(C1) / "audit-forms" / f"{ri['reference']}-audit.xlsx"
    asked = questions(form)
    no_first = {q: "No" for q in asked[:3]}
    before = fill_and_ingest(run, ws, ws.cycle_dir(C1), tmp_path / "r1",
                             {ri["reference"]: "Requires improvement"}, no_first)
    allocate(C2)
    fill_and_ingest(run, ws, ws.cycle_dir(C2), tmp_path / "r2", {})

    select = ("reaudit", "select", export, "--after", C3, *LATER, "--seed", "7")
    # Not yet: only one regular cycle drawn after C1 up to C2, and no corrective action.
    early = qaudit("reaudit", "select", export, "--after", C2, *LATER)
    assert early.code == 1
    assert "Error: no audit is due a re-audit after '2026-27 C2'" in early.stderr
    assert "1 waiting for the corrective action" in early.stderr
    allocate(C3)
    no_action = qaudit(*select)
    assert no_action.code == 1 and "waiting for the corrective action" in no_action.stderr
    waiting = json.loads(qaudit("reaudit", "list", "--json").stdout)
    assert [(w["reference"], w["state"]) for w in waiting] == [(ri["reference"], "waiting")]
    assert "--step corrective-action" in waiting[0]["detail"]

    # The corrective action happened late: only work completed after it can show a change.
    assert qaudit("ri", "record", ri["reference"], "--step", "corrective-action", "--on",
                  "20/10/2026").code == 0
    listed = json.loads(qaudit("reaudit", "list", "--after", C3, "--json").stdout)
    assert [w["state"] for w in listed] == ["due"]

    # The round: one later review of the same practitioner, though they are in cool-down.
    dry = qaudit(*select, "--dry-run", "--json")
    assert dry.code == 0, dry.stderr
    drawn = qaudit(*select)
    assert drawn.code == 0, drawn.stderr
    assert f"Re-audits for {ROUND}" in drawn.stdout
    with ws.store() as store:
        (reaudit,) = store.draws.allocations(ROUND)
        round_cycle = store.draws.cycle(ROUND)
    assert round_cycle is not None and round_cycle.kind == "reaudit"
    assert reaudit.follows_up == ri["reference"]
    assert reaudit.worker_id == ri["worker_id"] and reaudit.audit_type == "care_act_review"
    assert reaudit.completed_date > ri["completed_date"]
    assert "2026-10-20" < reaudit.completed_date <= "2026-10-31"  # after the action
    assert json.loads(dry.stdout)["excluded"][
        "completed on or before the audited work or its corrective action"] > 0
    assert reaudit.person_id != ri["person_id"]
    assert reaudit.drawn_because == f"cool-down waived: re-audit of {ri['reference']}"
    assert json.loads(dry.stdout)["allocations"][0]["record_id"] == reaudit.record_id
    # The recorded seed re-checks the stored round, row for row.
    again = qaudit(*select, "--cycle", ROUND, "--dry-run", "--json")
    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["allocations"][0]["record_id"] == reaudit.record_id

    # The round is final once drawn: the way to draw it again is to cancel it first.
    again_drawn = qaudit(*select)
    assert again_drawn.code == 1 and "--redraw" not in again_drawn.stderr
    assert (f"Error: the re-audit round '{ROUND}' is already drawn" in again_drawn.stderr
            and f"`qaudit cycle cancel '{ROUND}' --reason ...`" in again_drawn.stderr)
    regular = qaudit(*select, "--cycle", C2)
    assert regular.code == 1 and (
        f"Error: '{C2}' is a regular cycle; give the round a name of its own" in regular.stderr)
    assert qaudit(*select, "--cycle", C2, "--dry-run").stderr.startswith("Error: ")
    # The audit's cycle stays while the round follows it up: cancel the round first.
    kept = qaudit("cycle", "cancel", C1, "--reason", "x", "--force")
    assert kept.code == 1
    assert (f"the re-audit round '{ROUND}' follows up ({ri['reference']})" in kept.stderr
            and f"Cancel the round first (`qaudit cycle cancel '{ROUND}'" in kept.stderr)

    # Followed up once: another round draws nothing for it.
    twice = qaudit("reaudit", "select", export, "--after", C3, *LATER, "--cycle", "Extra")
    assert twice.code == 1 and "1 already followed up" in twice.stderr
    with ws.store() as store:
        assert store.draws.cycle("Extra") is None

    # Drawn, not returned: the RI item says so.
    shown = qaudit("ri", "show", ri["reference"])
    assert f"Re-audit: {reaudit.reference}, drawn, not returned" in shown.stdout

    # The re-audit comes back Good, with the three questions now answered Yes.
    yes_after = {q: "Yes" for q in asked[:3]}
    after = fill_and_ingest(run, ws, ws.cycle_dir(ROUND), tmp_path / "r3", {}, yes_after)
    stats = json.loads(qaudit("reaudit", "stats", "--json").stdout)
    assert (stats["drawn"], stats["returned"], stats["improved"]) == (1, 1, 1)
    assert [(p["first_reference"], p["reference"], p["change"]) for p in stats["pairs"]] == [
        (ri["reference"], reaudit.reference, "improved")]
    assert stats["interval"] == list(wilson_interval(1, 1) or ())
    first_answers = before[ri["reference"]]["answers"]
    then_answers = after[reaudit.reference]["answers"]
    expected = sorted(q for q in first_answers
                      if first_answers[q][0] == "No" and then_answers.get(q, ("",))[0] == "Yes")
    assert set(asked[:3]) <= set(expected)
    assert sorted(q["question_id"] for q in stats["questions"] if q["no_then_yes"]) == expected
    assert stats["grades"] == [{"before": "requires_improvement", "after": "good", "pairs": 1}]
    text = qaudit("reaudit", "stats")
    assert "1 of 1 re-audits returned: 1 improved, 0 the same, 0 worse." in text.stdout
    assert "Share improved: 100% (95% interval 21% to 100%" in text.stdout

    shown = qaudit("ri", "show", ri["reference"], "--json")
    assert json.loads(shown.stdout)["reaudit"]["outcome"] == (
        f"{reaudit.reference}, graded Good")
    assert f"Re-audit: {reaudit.reference}, graded Good" in qaudit(
        "ri", "show", ri["reference"]).stdout
    listing = json.loads(qaudit("ri", "--json").stdout)
    assert listing[0]["reaudit"]["grade"] == "good"
    assert f"{reaudit.reference}, graded Good" in qaudit("ri").stdout
    returned = json.loads(qaudit("reaudit", "list", "--json").stdout)
    assert [w["state"] for w in returned] == ["returned"]

    # A grade corrected since (the audit re-graded Good) does not change the round's
    # re-check: it draws for who was due when the round was drawn.
    form = ws.cycle_dir(C1) / "audit-forms" / f"{ri['reference']}-audit.xlsx"
    (tmp_path / "r4").mkdir()
    fill_forms.fill_audit(form, tmp_path / "r4" / form.name, random.Random(5), grade="Good",
                          when=date(2026, 11, 21))
    assert qaudit("ingest", tmp_path / "r4", "--replace").code == 0
    assert json.loads(qaudit("reaudit", "list", "--json").stdout) == []
    recheck = qaudit(*select, "--cycle", ROUND, "--dry-run", "--json")
    assert recheck.code == 0, recheck.stderr
    assert [a["record_id"] for a in json.loads(recheck.stdout)["allocations"]] == [
        reaudit.record_id]

    # A re-audit is linked to its audit, not to whatever later carries its reference: with
    # C1 cancelled behind the record's back and drawn again, its new audits reuse the
    # references, and none is paired with the re-audit or counted as improved.
    with raw_database(ws) as conn:
        conn.execute("UPDATE draws SET replaced_at = 'x' WHERE cycle_id ="
                     " (SELECT id FROM cycles WHERE name = ?)", (C1,))
        conn.execute("UPDATE cycles SET cancelled_at = 'x' WHERE name = ?", (C1,))
    first, last, due = WINDOWS[C1]
    assert qaudit("allocate", export, "--cycle", C1, "--from", first, "--to", last, "--due",
                  due, "--seed", "99").code == 0
    with ws.store() as store:
        assert store.draws.issued(ri["reference"]) is not None  # the reference, reused
    relinked = json.loads(qaudit("reaudit", "stats", "--json").stdout)
    assert relinked["pairs"] == [] and relinked["improved"] == 0


def test_mistakes_end_in_one_clear_error(run: Callable[..., Result], tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws")
    export = write_export(tmp_path / "export.csv")
    unknown = run("-w", ws.root, "reaudit", "select", export, "--after", "C9", *LATER)
    assert unknown.code == 1 and "Error: no cycle 'C9'" in unknown.stderr
    grades = run("-w", ws.root, "reaudit", "select", export, "--after", C1, *LATER,
                 "--grades", "excellent")
    assert grades.code == 1
    assert "Error: --grades 'excellent': excellent is not a grade" in grades.stderr
    nothing = run("-w", ws.root, "reaudit", "stats")
    assert nothing.code == 0 and "No re-audits drawn yet" in nothing.stdout


# --- the draw itself, as a property ------------------------------------------------------

@st.composite
def rounds_to_draw(draw: st.DrawFn) -> tuple[Any, list[AuditOnRecord], frozenset[str], str]:
    import pandas as pd

    n = draw(st.integers(0, 40))
    rows = [{"record_id": f"R{i:03d}", "person_id": f"P{draw(st.integers(0, 30)):03d}",
             "worker_id": f"W{draw(st.integers(1, 6))}",
             "team": draw(st.sampled_from(("North", "South"))),
             "audit_type": draw(st.sampled_from(("care_act_review", "mca_assessment"))),
             "quadrant": "South",
             "completed_date": pd.Timestamp(date(2026, 9, 1)
                                            + timedelta(days=draw(st.integers(0, 60))))}
            for i in range(n)]
    frame = pd.DataFrame(rows, columns=["record_id", "person_id", "worker_id", "team",
                                        "audit_type", "quadrant", "completed_date"])
    due = [AuditOnRecord(f"C1-{k:03d}", "C1", f"W{k}", draw(st.sampled_from(("North", "South"))),
                         "care_act_review", "South",
                         date(2026, 9, 1) + timedelta(days=draw(st.integers(0, 60))),
                         "requires_improvement", frozenset({"corrective-action"}),
                         steps_on=(("corrective-action", date(2026, 8, 20) + timedelta(
                             days=draw(st.integers(0, 70)))),))
           for k in sorted(draw(st.sets(st.integers(1, 6), max_size=4)))]
    cooldown = frozenset(draw(st.sets(st.sampled_from([f"W{k}" for k in range(1, 7)]))))
    return frame, due, cooldown, draw(st.sampled_from(("practitioner", "team")))


@settings(max_examples=60, deadline=None)
@given(rounds_to_draw(), st.integers(0, 2**32 - 1))
def test_each_reaudit_is_later_work_of_whom_it_follows_up_drawn_reproducibly(
        case: tuple[Any, list[AuditOnRecord], frozenset[str], str], seed: int) -> None:
    from qaudit.jobs.reaudit import ReauditSelection
    from qaudit.randomness import generator
    from qaudit.sampling import DrawRules, History

    frame, due, cooldown, by = case
    if by == "team":  # one audit per team a round, as due_for_reaudit gives them
        due = list({a.team: a for a in due}.values())

    def draw_with(rows: Any) -> tuple[Any, Any]:
        selection = ReauditSelection(due, by, "C1")  # type: ignore[arg-type]
        assert selection.history(History(cooldown_workers=cooldown)).cooldown_workers == (
            frozenset())
        drawn = selection.draw(rows, {}, DrawRules(quotas={}), generator(seed)).allocations
        return selection, drawn

    selection, drawn = draw_with(frame)
    assert list(drawn["record_id"]) == list(
        draw_with(frame.sample(frac=1, random_state=1))[1]["record_id"])  # row order aside
    for audit in due:  # each audit not drawn for says why, with the day work had to follow
        result = selection.results[audit.reference]
        assert (result.record_id is None) == bool(result.reason)
        if result.reason.startswith("no later work"):
            assert f"corrective action ({audit.work_after():%d/%m/%Y})" in result.reason or (
                f"({audit.work_after():%d/%m/%Y})" in result.reason)
    audits = {a.reference: a for a in due}
    assert len(set(drawn["follows_up"])) == len(drawn) <= len(due)
    assert drawn["person_id"].is_unique and drawn["record_id"].is_unique
    for row in drawn.to_dict("records"):
        audit = audits[row["follows_up"]]
        assert row["completed_date"].date() > audit.completed_date
        assert row["completed_date"].date() > audit.work_after()  # and the action
        if by == "practitioner":
            assert row["worker_id"] == audit.worker_id
        else:
            assert row["team"] == audit.team
        waived = row["worker_id"] in cooldown
        assert (row["drawn_because"] == f"cool-down waived: re-audit of {audit.reference}"
                ) == waived
