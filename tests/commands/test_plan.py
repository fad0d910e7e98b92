"""`qaudit plan`, a planned cycle's draw, and `status --year`: the year's cycles, their
windows kept apart, and the year to date against its target."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import fill_forms
import pytest

from conftest import FIXTURES, Result, copy_workspace, init_workspace, qaudit_ok, small_workspace
from qaudit.errors import CycleError
from qaudit.workspace import Workspace, open_workspace

EXPORT = FIXTURES / "formula_like_text.xlsx"  # 16 cases completed 01/09/2026 to 29/10/2026
YEAR = "2026-27"
# Three 4-week cycles: C1 01/09-28/09/2026 (due 26/10), C2 29/09-26/10 (due 23/11), C3
# 27/10-23/11.
SHORT_PLAN = ("--start", "01/09/2026", "--cycles", "3", "--weeks", "4")


def uk(day: date) -> str:
    return day.strftime("%d/%m/%Y")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A workspace drawing 1 case per quadrant x type (20 a cycle)."""
    return small_workspace(tmp_path / "ws", 1)


def plan(run: Callable[..., Result], ws: Workspace, *args: str) -> Result:
    return run("-w", ws.root, "plan", *args)


def allocate(run: Callable[..., Result], ws: Workspace, cycle: str, *args: str) -> Result:
    return run("-w", ws.root, "allocate", EXPORT, "--cycle", cycle, "--seed", "5", *args)


def shown(run: Callable[..., Result], ws: Workspace, year: str = YEAR) -> dict[str, dict]:
    result = plan(run, ws, "show", year, "--json")
    assert result.code == 0, result.stderr
    return {c["cycle"]: c for c in json.loads(result.stdout)}


def test_the_year_is_planned_as_eight_six_week_cycles(run: Callable[..., Result],
                                                     ws: Workspace) -> None:
    result = plan(run, ws, YEAR, "--start", "06/04/2026")
    assert result.code == 0, result.stderr
    assert "2026-27 C1  06/04/2026 to 17/05/2026  14/06/2026" in result.stdout
    assert "2026-27 C8  25/01/2027 to 07/03/2027  04/04/2027" in result.stdout
    assert "8 cycles of 6 weeks" in result.stdout
    cycles = shown(run, ws)
    assert list(cycles) == [f"2026-27 C{n}" for n in range(1, 9)]
    assert {c["state"] for c in cycles.values()} == {"planned"}
    table = plan(run, ws, "show").stdout
    line = next(t for t in table.splitlines() if t.startswith("2026-27 C3 "))
    assert "29/06/2026 to 09/08/2026" in line and line.split()[-1] == "planned"
    assert "due 06/09/2026" in table


def test_options_and_settings_shape_the_plan(run: Callable[..., Result], ws: Workspace) -> None:
    from conftest import edit_settings

    with edit_settings(ws.root) as settings:
        settings["plan"]["weeks"] = 4
    result = plan(run, ws, "2026", "--start", "01/05/2026", "--cycles", "12",
                  "--return-days", "14", "--json")
    data = json.loads(result.stdout)
    assert data["year"] == YEAR and len(data["cycles"]) == 12
    first = data["cycles"][0]
    assert (first["from"], first["to"], first["due"]) == ("2026-05-01", "2026-05-28",
                                                          "2026-06-11")


def test_a_year_is_planned_once_unless_replaced(run: Callable[..., Result],
                                               ws: Workspace) -> None:
    assert plan(run, ws, YEAR, "--start", "06/04/2026").code == 0
    again = plan(run, ws, YEAR, "--start", "13/04/2026")
    assert again.code == 1
    assert "2026-27 is already planned" in again.stderr and "--replace" in again.stderr
    assert shown(run, ws)["2026-27 C1"]["from"] == "2026-04-06"
    replaced = plan(run, ws, YEAR, "--start", "13/04/2026", "--replace")
    assert replaced.code == 0 and "Replaced the plan" in replaced.stdout
    assert shown(run, ws)["2026-27 C1"]["from"] == "2026-04-13"


def test_replacing_is_refused_once_a_cycle_it_would_move_is_drawn(
    run: Callable[..., Result], ws: Workspace
) -> None:
    assert plan(run, ws, YEAR, *SHORT_PLAN).code == 0
    assert allocate(run, ws, "2026-27 C1").code == 0
    moved = plan(run, ws, YEAR, "--start", "08/09/2026", "--cycles", "3", "--weeks", "4",
                 "--replace")
    assert moved.code == 1
    assert "cycle '2026-27 C1' is already drawn" in moved.stderr
    assert "moves it to 08/09/2026 to 05/10/2026" in moved.stderr
    assert shown(run, ws)["2026-27 C1"]["from"] == "2026-09-01"  # nothing stored
    # Replanning the rest of the year keeps the drawn cycle as it was: allowed.
    kept = plan(run, ws, YEAR, "--start", "01/09/2026", "--cycles", "5", "--weeks", "4",
                "--replace")
    assert kept.code == 0, kept.stderr
    assert len(shown(run, ws)) == 5


@pytest.mark.parametrize(("args", "message"), [
    ((YEAR,), "--start DATE is required"),
    ((YEAR, "--start", "06/04/2025"), "--start 06/04/2025 is not in 2026"),
    ((YEAR, "--start", "06/04/2026", "--cycles", "9", "--weeks", "6"),
     "9 cycles of 6 weeks is 54 weeks, more than a year"),
    ((YEAR, "--start", "06/04/2026", "--cycles", "0"), "--cycles 0 is not allowed"),
    ((YEAR, "--start", "06/04/2026", "--weeks", "0"), "--weeks 0 is not allowed"),
    ((YEAR, "--start", "06/04/2026", "--return-days", "0"), "--return-days 0 is not allowed"),
    ((YEAR, "--start", "someday"), "--start 'someday' is not a date"),
    (("=HYPERLINK(\"http://x\")", "--start", "06/04/2026"), "is not a year"),
    (("show", "--start", "06/04/2026"), "takes no --start"),
    (("show", "2027-28"), "2027-28 has no plan (planned years: none yet)"),
    ((YEAR, "2027-28", "--start", "06/04/2026"), "plan one year at a time"),
])
def test_a_plan_that_cannot_be_right_is_refused(
    run: Callable[..., Result], ws: Workspace, args: tuple[str, ...], message: str
) -> None:
    result = plan(run, ws, *args)
    assert result.code == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert "Traceback" not in result.stderr
    with ws.store() as store:
        assert store.plan.all() == []


def test_a_plan_overlapping_another_years_or_a_drawn_cycle_is_refused(
    run: Callable[..., Result], ws: Workspace
) -> None:
    assert allocate(run, ws, "Pilot", "--from", "01/09/2026", "--to", "15/09/2026").code == 0
    over_drawn = plan(run, ws, YEAR, "--start", "08/09/2026")
    assert over_drawn.code == 1
    assert "overlaps the drawn cycle 'Pilot' (01/09/2026 to 15/09/2026)" in over_drawn.stderr
    assert plan(run, ws, YEAR, "--start", "16/09/2026", "--cycles", "4").code == 0
    over_year = plan(run, ws, "2027-28", "--start", "01/01/2027")
    assert over_year.code == 1
    assert "overlaps 2026-27's cycle '2026-27 C3'" in over_year.stderr


def test_a_planned_cycle_is_drawn_with_the_plans_window_and_due_date(
    run: Callable[..., Result], ws: Workspace
) -> None:
    assert plan(run, ws, YEAR, *SHORT_PLAN).code == 0
    result = allocate(run, ws, "2026-27 c1", "--json")  # case aside, as cycle names compare
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cycle"] == "2026-27 C1"
    assert data["window"] == {"from": "2026-09-01", "to": "2026-09-28"}
    assert data["due"] == "2026-10-26"
    assert {a["completed_date"] for a in data["allocations"]} <= {
        f"2026-09-{d:02d}" for d in range(1, 29)}
    assert "override the plan" not in result.stderr and "weeks" not in result.stderr
    assert shown(run, ws)["2026-27 C1"]["state"] != "planned"


def test_overriding_the_plan_is_warned_with_the_planned_values(
    run: Callable[..., Result], ws: Workspace
) -> None:
    assert plan(run, ws, YEAR, *SHORT_PLAN).code == 0
    result = allocate(run, ws, "2026-27 C1", "--to", "21/09/2026", "--due", "30/10/2026",
                      "--json")
    assert result.code == 0, result.stderr
    assert ("Warning: --to 21/09/2026, --due 30/10/2026 override the plan for 2026-27 C1:"
            " window 01/09/2026 to 28/09/2026, returns due 26/10/2026.") in result.stderr
    assert "is 21 days, shorter than the plan's 4 weeks (28 days)" in result.stderr
    data = json.loads(result.stdout)
    assert data["window"] == {"from": "2026-09-01", "to": "2026-09-21"}
    assert data["due"] == "2026-10-30"
    c1 = shown(run, ws)["2026-27 C1"]
    assert c1["to"] == "2026-09-28"  # the plan is unchanged; the draw says what it used
    assert c1["drawn_window"] == {"from": "2026-09-01", "to": "2026-09-21", "due": "2026-10-30"}


def test_a_window_is_needed_where_no_plan_gives_one(run: Callable[..., Result],
                                                    ws: Workspace) -> None:
    bare = allocate(run, ws, "C1")
    assert bare.code == 1
    assert ("cycle 'C1' is not in a plan, so its window needs --from and --to" in bare.stderr
            and "qaudit plan YEAR --start DATE" in bare.stderr)
    half = allocate(run, ws, "C1", "--from", "01/09/2026")
    assert half.code == 1 and "needs --to (dd/mm/yyyy)" in half.stderr
    assert plan(run, ws, YEAR, *SHORT_PLAN).code == 0
    unplanned = allocate(run, ws, "Spot check", "--from", "01/12/2025", "--to", "31/12/2025",
                         "--dry-run")
    assert "Warning: cycle 'Spot check' is not in any plan" in unplanned.stderr


def test_a_window_that_has_not_ended_is_refused(run: Callable[..., Result],
                                               ws: Workspace) -> None:
    later = date.today() + timedelta(days=10)
    result = allocate(run, ws, "C9", "--from", uk(date.today() - timedelta(days=30)),
                      "--to", uk(later), "--dry-run")
    assert result.code == 1
    assert f"ends after today ({uk(date.today())})" in result.stderr
    start = date.today() - timedelta(days=7)
    year = f"{start.year}-{(start.year + 1) % 100:02d}"
    assert plan(run, ws, year, "--start", uk(start), "--cycles", "1").code == 0
    planned = allocate(run, ws, f"{year} C1")
    assert planned.code == 1 and "ends after today" in planned.stderr
    with ws.store() as store:
        assert store.draws.cycles() == []


def test_a_window_reaching_into_a_planned_cycle_is_refused(
    run: Callable[..., Result], ws: Workspace
) -> None:
    assert plan(run, ws, YEAR, *SHORT_PLAN).code == 0
    result = allocate(run, ws, "2026-27 C1", "--to", "05/10/2026")
    assert result.code == 1
    assert ("the window 01/09/2026 to 05/10/2026 overlaps the planned cycle '2026-27 C2'"
            " (29/09/2026 to 26/10/2026)") in result.stderr
    assert "is 35 days, longer than the plan's 4 weeks" not in result.stdout
    assert allocate(run, ws, "2026-27 C1", "--to", "05/10/2026", "--due", "30/10/2026",
                    "--allow-overlap").code == 0


def test_the_planned_window_is_held_inside_the_draws_transaction_too(
    run: Callable[..., Result], ws: Workspace
) -> None:
    """A plan written by another officer between allocate's early check and the draw's
    transaction: the store refuses the draw there too (one rule, applied twice)."""
    assert plan(run, ws, YEAR, *SHORT_PLAN).code == 0
    with ws.store() as store, pytest.raises(CycleError, match="overlaps the planned cycle"):
        store.draws.check_window("2026-27 C1", date(2026, 9, 1), date(2026, 10, 5),
                                 date(2026, 10, 30), allow_overlap=False)


def test_returns_due_before_the_window_ends_are_refused(run: Callable[..., Result],
                                                       ws: Workspace) -> None:
    assert plan(run, ws, YEAR, *SHORT_PLAN).code == 0
    result = allocate(run, ws, "2026-27 C1", "--due", "20/09/2026")
    assert result.code == 1
    assert "returns due 20/09/2026 is not after the window's last day 28/09/2026" in result.stderr


def test_a_drawn_cycle_overlapping_a_new_one_is_refused(run: Callable[..., Result],
                                                       ws: Workspace) -> None:
    assert plan(run, ws, YEAR, *SHORT_PLAN).code == 0
    assert allocate(run, ws, "2026-27 C1").code == 0
    result = allocate(run, ws, "Extra", "--from", "20/09/2026", "--to", "01/10/2026")
    assert result.code == 1
    assert "overlaps cycle '2026-27 C1'" in result.stderr


@pytest.fixture(scope="module")
def year_done(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2026-27 planned (three 4-week cycles); C1 drawn, three audits back, moderated."""
    root = tmp_path_factory.mktemp("year") / "ws"
    ws = small_workspace(root, 1)

    def qaudit(*args: str) -> None:
        qaudit_ok(root, *args)

    qaudit("plan", YEAR, *SHORT_PLAN)
    qaudit("allocate", str(EXPORT), "--cycle", "2026-27 C1", "--seed", "5")
    back = root.parent / "back"
    rng = random.Random(3)
    for form in sorted((ws.cycle_dir("2026-27 C1") / "audit-forms").glob("*.xlsx"))[:3]:
        fill_forms.fill_audit(form, back / form.name, rng)
    qaudit("ingest", str(back))
    qaudit("moderate", "select", "--cycle", "2026-27 C1", "--seed", "1")
    book = next((ws.cycle_dir("2026-27 C1") / "moderation").glob("*-moderation.xlsx"))
    fill_forms.fill_moderation(book, root.parent / "mod.xlsx", random.Random(1))
    qaudit("moderate", "ingest", str(root.parent / "mod.xlsx"))
    return root


@pytest.fixture
def year_ws(year_done: Path, tmp_path: Path) -> Workspace:
    copy_workspace(year_done, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def test_plan_show_gives_each_cycle_its_state(run: Callable[..., Result],
                                             year_ws: Workspace) -> None:
    cycles = shown(run, year_ws)
    c1 = cycles["2026-27 C1"]
    assert c1["allocated"] > 3 and c1["returned"] == 3 and c1["moderated"] == 1
    assert c1["state"] in {"returns coming in", "returns in", "moderated"}
    assert cycles["2026-27 C2"]["state"] == cycles["2026-27 C3"]["state"] == "planned"
    table = plan(run, year_ws, "show", YEAR).stdout
    line = next(t for t in table.splitlines() if t.startswith("2026-27 C2 "))
    assert "29/09/2026 to 26/10/2026" in line and line.split()[-1] == "planned"
    assert "due 23/11/2026" in table


def test_status_year_counts_the_year_against_its_target(run: Callable[..., Result],
                                                       year_ws: Workspace) -> None:
    result = run("-w", year_ws.root, "status", "--year", YEAR, "--json")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cycles"] == ["2026-27 C1"] and data["planned_cycles"] == 3
    assert data["target"] == 3 * 20  # three planned cycles x 20 a cycle
    assert data["returned"] == 3 and data["moderated"] == 1
    with year_ws.store() as store:
        assert data["drawn"] == len(store.draws.allocations("2026-27 C1"))
    for key in ("by_quadrant", "by_audit_type"):
        rows = data[key]
        assert sum(r["drawn"] for r in rows) == data["drawn"]
        assert sum(r["returned"] for r in rows) == 3
        assert sum(r["moderated"] for r in rows) == 1
        assert sum(r["target"] for r in rows) == data["target"]
    assert {r["quadrant"]: r["target"] for r in data["by_quadrant"]}["North East"] == 12
    table = run("-w", year_ws.root, "status", "--year", "2026").stdout
    assert f"2026-27: {data['drawn']} of 60 drawn, 3 returned, 1 moderated" in table
    assert "Care Act assessment" in table or "Care Act Assessment" in table


def test_status_year_without_a_plan_counts_against_the_configured_total(
    run: Callable[..., Result], tmp_path: Path
) -> None:

    ws = init_workspace(tmp_path / "full")
    data = json.loads(run("-w", ws.root, "status", "--year", YEAR, "--json").stdout)
    assert (data["target"], data["drawn"], data["cycles"]) == (960, 0, [])
    mixed = run("-w", ws.root, "status", "--year", YEAR, "--cycle", "C1")
    assert mixed.code == 1 and "--year shows the whole year" in mixed.stderr
