"""`qaudit allocate` end to end on the example export: files, database, JSON, rules."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path

import fill_forms
import pytest
import tomlkit
from openpyxl import load_workbook

from conftest import EXAMPLES, FIXTURES, REPO, Result, edit_settings, raw_database
from qaudit.workspace import Workspace

WINDOW = ["--from", "01/09/2026", "--to", "31/10/2026"]


def allocate(run: Callable[..., Result], ws: Workspace, export: Path, cycle: str = "2026-27 C3",
             *extra: str) -> Result:
    return run("-w", ws.root, "allocate", export, "--cycle", cycle, *WINDOW, *extra)


def stored_cycles(ws: Workspace) -> list[str]:
    with ws.store() as store:
        return [c.name for c in store.draws.cycles()]


def test_allocate_writes_register_forms_and_manager_workbooks(
    run: Callable[..., Result], full_workspace: Workspace, example_export: Path
) -> None:
    workspace = full_workspace
    result = allocate(run, workspace, example_export, "2026-27 C3", "--seed", "7")
    assert result.code == 0, result.stderr
    out = workspace.cycle_dir("2026-27 C3")
    forms = sorted((out / "audit-forms").iterdir())
    reflections = sorted((out / "self-reflection").iterdir())
    assert len(forms) == len(reflections) == 120
    assert forms[0].name == "2026-27-C3-001-audit.xlsx"
    register = load_workbook(out / "register.xlsx", read_only=True)
    assert register.sheetnames == ["Allocations", "Strata", "Excluded", "Unusable rows",
                                   "Other work types", "Draw"]
    rows = list(register["Allocations"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == 120
    managers = sorted(p.name for p in (out / "service-managers").iterdir())
    assert managers[0] == "service-manager-01.xlsx"
    assert {r[12] for r in rows} == set(managers)
    facts = dict(register["Draw"].iter_rows(min_row=2, values_only=True))
    assert facts["Seed"] == "7"
    assert "Seed 7" in result.stdout and "120" in result.stdout
    unusable = list(register["Unusable rows"].iter_rows(min_row=2, values_only=True))
    assert {r[1] for r in unusable} >= {"missing person id", "duplicate record id",
                                        "completed date not understood"}
    other = {r[0]: r[1] for r in register["Other work types"].iter_rows(min_row=2,
                                                                        values_only=True)}
    assert other["Financial Assessment"] > 100


def test_json_lists_every_allocation_with_iso_dates(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    result = allocate(run, workspace, example_export, "C1", "--seed", "11", "--json")
    data = json.loads(result.stdout)
    assert data["cycle"] == "C1" and data["seed"] == 11
    assert len(data["allocations"]) == 40
    first = data["allocations"][0]
    assert set(first) >= {"record_id", "person_id", "audit_type", "quadrant", "worker_id", "team",
                          "service_manager", "completed_date"}
    assert first["completed_date"][4] == "-"
    assert data["shortfalls"] == []
    assert data["excluded"]["completed before the cycle window"] > 0


def test_dry_run_writes_and_stores_nothing(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    result = allocate(run, workspace, example_export, "C1", "--dry-run")
    assert result.code == 0
    assert "Dry run" in result.stdout
    assert stored_cycles(workspace) == []
    assert not (workspace.root / "cycles").exists()


def test_same_seed_same_allocation_row_for_row(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    a = json.loads(allocate(run, workspace, example_export, "C1", "--seed", "5", "--json",
                            "--dry-run").stdout)
    b = json.loads(allocate(run, workspace, example_export, "C1", "--seed", "5", "--json").stdout)
    c = json.loads(allocate(run, workspace, example_export, "C1", "--seed", "5", "--json",
                            "--redraw", "--dry-run").stdout)
    assert a["allocations"] == b["allocations"] == c["allocations"]


def test_fresh_seed_is_printed_and_stored(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    data = json.loads(allocate(run, workspace, example_export, "C1", "--json").stdout)
    # Raw SQL: no API reads a draw's seed back; the register shows it too.
    with raw_database(workspace) as conn:
        (seed,) = conn.execute("SELECT seed FROM draws").fetchone()
    assert seed == data["seed"]
    register = load_workbook(workspace.cycle_dir("C1") / "register.xlsx", read_only=True)
    assert dict(register["Draw"].iter_rows(min_row=2, values_only=True))["Seed"] == str(seed)


def test_a_cycle_is_drawn_once(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    assert allocate(run, workspace, example_export, "C1", "--seed", "1").code == 0
    again = allocate(run, workspace, example_export, "C1", "--seed", "2")
    assert again.code == 1
    assert "already drawn" in again.stderr and "--redraw" in again.stderr
    assert "Traceback" not in again.stderr


def test_redraw_replaces_keeps_the_old_files_and_is_logged(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    allocate(run, workspace, example_export, "C1", "--seed", "1")
    assert allocate(run, workspace, example_export, "C1", "--seed", "2", "--redraw").code == 0
    # Raw SQL: the replaced draw and the event log are history, which no API reads back.
    with raw_database(workspace) as conn:
        draws = conn.execute("SELECT seed, replaced_at IS NULL FROM draws ORDER BY id").fetchall()
        kinds = [r[0] for r in conn.execute("SELECT kind FROM events ORDER BY id")]
    assert draws == [(1, 0), (2, 1)]
    assert kinds == ["draw", "redraw", "draw"]
    replaced = [p for p in (workspace.root / "cycles").iterdir() if ".replaced-" in p.name]
    assert len(replaced) == 1


def test_persons_and_recent_workers_of_earlier_cycles_are_not_drawn(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    first = json.loads(allocate(run, workspace, example_export, "C1", "--seed", "3",
                                "--json").stdout)
    second = json.loads(
        run("-w", workspace.root, "allocate", example_export, "--cycle", "C2", "--from",
            "01/09/2026", "--to", "20/11/2026", "--seed", "3", "--allow-overlap",
            "--json").stdout
    )
    persons = {a["person_id"] for a in first["allocations"]}
    workers = {a["worker_id"] for a in first["allocations"]}
    assert not persons & {a["person_id"] for a in second["allocations"]}
    assert not workers & {a["worker_id"] for a in second["allocations"]}
    assert second["excluded"]["person audited in an earlier cycle"] > 0
    assert second["excluded"]["worker audited too recently (cool-down)"] > 0


def test_cool_down_of_zero_cycles_lets_workers_be_drawn_again(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    with edit_settings(workspace.root) as settings:
        settings["sampling"]["worker_cooldown_cycles"] = 0
    allocate(run, workspace, example_export, "C1", "--seed", "3")
    second = json.loads(allocate(run, workspace, example_export, "C2", "--seed", "3",
                                 "--allow-overlap",
                                 "--json").stdout)
    assert "worker audited too recently (cool-down)" not in second["excluded"]


def test_shortfall_is_said_plainly_and_topped_up(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    with edit_settings(workspace.root) as settings:
        countywide = tomlkit.inline_table()
        countywide.update({"care_act_assessment": 1, "mca_assessment": 1,
                           "safeguarding_s42": 60})
        settings["quotas"]["Countywide"] = countywide
    result = allocate(run, workspace, example_export, "C1", "--seed", "3")
    assert result.code == 0, result.stderr
    assert "Countywide · Safeguarding: quota 60, only" in result.stdout
    assert "topped up from the quadrant's" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "31/02/2026", "--to", "31/10/2026"], "--from '31/02/2026' is not a date"),
        (["--from", "01/11/2026", "--to", "31/10/2026"], "is after --to"),
        (["--from", "01/09/2026", "--to", "31/10/2026", "--seed", "-4"], "--seed must be"),
    ],
)
def test_bad_window_or_seed_is_refused_before_reading(
    run: Callable[..., Result], workspace: Workspace, example_export: Path, args: list[str],
    message: str,
) -> None:
    result = run("-w", workspace.root, "allocate", example_export, "--cycle", "C1", *args)
    assert result.code == 1
    assert message in result.stderr
    assert stored_cycles(workspace) == []


@pytest.mark.parametrize("name", ["", "C1;drop", "x" * 41, "../up"])
def test_bad_cycle_name_is_refused(
    run: Callable[..., Result], workspace: Workspace, example_export: Path, name: str
) -> None:
    result = allocate(run, workspace, example_export, name)
    assert result.code == 1 and "cycle name" in result.stderr


def test_missing_export_is_one_clear_line(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path
) -> None:
    result = allocate(run, workspace, tmp_path / "nope.xlsx", "C1")
    assert result.code == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_no_workspace_says_how_to_make_one(
    run: Callable[..., Result], tmp_path: Path, example_export: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("allocate", example_export, "--cycle", "C1", *WINDOW)
    assert result.code == 1 and "qaudit init" in result.stderr


def test_workspace_found_from_environment_and_parent_folder(
    run: Callable[..., Result], workspace: Workspace, example_export: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sub = workspace.root / "deeper" / "still"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert run("allocate", example_export, "--cycle", "C1", *WINDOW, "--dry-run").code == 0
    monkeypatch.chdir(example_export.parent)
    monkeypatch.setenv("QAUDIT_WORKSPACE", str(workspace.root))
    assert run("allocate", example_export, "--cycle", "C1", *WINDOW, "--dry-run").code == 0


def test_wrong_setting_stops_the_command_naming_the_key(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    with edit_settings(workspace.root) as settings:
        settings["sampling"]["max_cases_per_worker"] = 0
    result = allocate(run, workspace, example_export, "C1")
    assert result.code == 1
    assert "sampling.max_cases_per_worker" in result.stderr


def test_unknown_option_exits_1_with_usage_help(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    result = allocate(run, workspace, example_export, "C1", "--sede", "4")
    assert result.code == 1
    assert "Usage: qaudit allocate [OPTIONS]" in result.stderr
    assert "No such option: --sede" in result.stderr and "--seed" in result.stderr
    assert "Traceback" not in result.stderr
    assert stored_cycles(workspace) == []


def test_debug_shows_the_traceback(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path
) -> None:
    from qaudit.errors import ExportError

    with pytest.raises(ExportError):
        run("--debug", "-w", workspace.root, "allocate", tmp_path / "nope.xlsx", "--cycle",
            "C1", *WINDOW)


def test_existing_output_folder_is_not_overwritten(
    run: Callable[..., Result], workspace: Workspace, example_export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = allocate(run, workspace, example_export, "C1", "--out", str(out))
    assert result.code == 1 and "already holds files" in result.stderr
    assert stored_cycles(workspace) == []
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_failure_while_writing_leaves_nothing_behind(
    run: Callable[..., Result], workspace: Workspace, example_export: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import qaudit.jobs.allocate as allocation

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(allocation, "write_register", boom)
    result = allocate(run, workspace, example_export, "C1")
    assert result.code == 1
    assert stored_cycles(workspace) == []
    leftovers = list((workspace.root / "cycles").iterdir())
    assert leftovers == []


def test_init_refuses_an_existing_workspace(
    run: Callable[..., Result], workspace: Workspace
) -> None:
    result = run("init", workspace.root)
    assert result.code == 1 and "already a qaudit workspace" in result.stderr


def test_csv_export_is_drawn_like_a_workbook(
    run: Callable[..., Result], workspace: Workspace
) -> None:
    result = allocate(run, workspace, EXAMPLES / "case-export.csv", "C1", "--seed", "4",
                      "--dry-run", "--json")
    data = json.loads(result.stdout)
    assert result.code == 0 and data["export"]["sheet"] is None
    assert len(data["allocations"]) + sum(s["shortfall"] for s in data["strata"]) == 40


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("not_a_workbook.xlsx", "is not an Excel workbook"),
        ("empty.xlsx", "no header row found"),
        ("missing_person_column.xlsx", "columns.person_id"),
    ],
)
def test_wrong_export_is_one_line_exit_1_and_nothing_stored(
    run: Callable[..., Result], workspace: Workspace, fixture: str, message: str
) -> None:
    result = allocate(run, workspace, FIXTURES / fixture, "C1")
    assert result.code == 1
    assert message in result.stderr and result.stderr.startswith("Error:")
    assert "Traceback" not in result.stderr
    assert stored_cycles(workspace) == []
    assert not (workspace.root / "cycles").exists()


def test_names_that_mean_the_same_folder_are_one_cycle(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    """On a Windows share '2026-27 C4' and '2026-27 c4' are one folder: one cycle."""
    assert allocate(run, workspace, example_export, "2026-27 C4", "--seed", "1").code == 0
    for variant in ("2026-27 c4", "2026-27-C4", "2026/27 c4"):
        again = allocate(run, workspace, example_export, variant, "--seed", "2")
        assert again.code == 1 and "cycle '2026-27 C4' is already drawn" in again.stderr
    assert stored_cycles(workspace) == ["2026-27 C4"]
    assert [p.name for p in (workspace.root / "cycles").iterdir()] == ["2026-27-C4"]
    status = run("-w", workspace.root, "status", "--cycle", "2026-27 c4", "--json")
    assert json.loads(status.stdout)["cycle"] == "2026-27 C4"


def test_a_cycle_folder_is_safe_on_windows(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    assert allocate(run, workspace, example_export, "con", "--seed", "1").code == 0
    assert (workspace.root / "cycles" / "cycle-con" / "register.xlsx").is_file()


def test_due_date_within_the_window_is_refused(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    result = allocate(run, workspace, example_export, "C1", "--due", "30/10/2026")
    assert result.code == 1 and "is not after the window's last day 31/10/2026" in result.stderr
    assert stored_cycles(workspace) == []


def test_a_window_overlapping_another_cycle_is_refused_unless_deliberate(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    assert allocate(run, workspace, example_export, "C1", "--seed", "1").code == 0
    overlap = run("-w", workspace.root, "allocate", example_export, "--cycle", "C2",
                  "--from", "15/10/2026", "--to", "20/11/2026", "--due", "30/12/2026")
    assert overlap.code == 1 and "overlaps cycle 'C1'" in overlap.stderr
    assert "--allow-overlap" in overlap.stderr
    assert stored_cycles(workspace) == ["C1"]
    assert run("-w", workspace.root, "allocate", example_export, "--cycle", "C2", "--from",
               "15/10/2026", "--to", "20/11/2026", "--due", "30/12/2026",
               "--allow-overlap").code == 0


def test_a_cancelled_cycle_is_kept_and_frees_its_people(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    first = json.loads(allocate(run, workspace, example_export, "C1", "--seed", "3",
                                "--json").stdout)
    refused = run("-w", workspace.root, "cycle", "cancel", "c1")
    assert refused.code == 1 and "--reason" in refused.stderr
    done = run("-w", workspace.root, "--by", "Ola", "cycle", "cancel", "c1", "--reason",
               "Drawn from the wrong export")
    assert done.code == 0, done.stderr
    listed = json.loads(run("-w", workspace.root, "cycle", "list", "--json").stdout)
    assert [(c["cycle"], c["state"], c["cancel_reason"]) for c in listed] == [
        ("C1", "cancelled", "Drawn from the wrong export")]
    assert "cancelled" in run("-w", workspace.root, "cycle", "list").stdout
    assert any(p.name.startswith("C1.cancelled-") for p in (workspace.root / "cycles").iterdir())
    # Its window no longer blocks, and its people and workers may be drawn again.
    second = json.loads(allocate(run, workspace, example_export, "C2", "--seed", "3",
                                 "--json").stdout)
    assert {a["person_id"] for a in first["allocations"]} & {
        a["person_id"] for a in second["allocations"]}
    log = json.loads(run("-w", workspace.root, "log", "--cycle", "C1", "--json").stdout)
    assert [(e["kind"], e["actor"]) for e in log][-1] == ("cycle_cancelled", "Ola")
    again = run("-w", workspace.root, "cycle", "cancel", "C1", "--reason", "x")
    assert again.code == 1 and "was cancelled on" in again.stderr


def test_a_window_with_nothing_eligible_stores_nothing(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    result = run("-w", workspace.root, "allocate", example_export, "--cycle", "C1", "--from",
                 "01/09/2025", "--to", "31/10/2025")
    assert result.code == 1 and "nothing in the export is eligible" in result.stderr
    assert stored_cycles(workspace) == []


def test_a_recorded_draw_can_be_checked_after_later_cycles(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    first = json.loads(allocate(run, workspace, example_export, "C1", "--seed", "1",
                                "--json").stdout)
    allocate(run, workspace, example_export, "C2", "--seed", "2")
    check = json.loads(allocate(run, workspace, example_export, "C1", "--seed", "1",
                                "--dry-run", "--json").stdout)
    assert check["allocations"] == first["allocations"]


def _export_without_worker_names_and_with_odd_quadrants(source: Path, target: Path) -> Path:
    """The example CSV with its Worker Name column dropped and some quadrants misspelt."""
    import csv

    rows = list(csv.reader(source.read_text(encoding="utf-8-sig").splitlines()))
    header = rows.index(next(r for r in rows if "Worker Name" in r))
    drop = rows[header].index("Worker Name")
    quadrant = rows[header].index("Quadrant")
    for n, row in enumerate(rows[header + 1:]):
        if len(row) > quadrant and n % 10 == 0:
            row[quadrant] = "NE Quad" if n % 20 == 0 else "Mid-Essex Quad"
    with target.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([r[:drop] + r[drop + 1:] if len(r) > drop else r
                                  for r in rows])
    return target


def test_dry_run_names_what_to_fix_in_the_settings(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path
) -> None:
    export = _export_without_worker_names_and_with_odd_quadrants(
        REPO / "examples" / "case-export.csv", tmp_path / "odd.csv")
    result = allocate(run, workspace, export, "C1", "--dry-run", "--json")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    quadrants = data["unrecognised"]["quadrants"]
    assert set(quadrants) >= {"NE Quad", "Mid-Essex Quad"} and all(quadrants.values())
    assert data["missing_optional_columns"] == {"worker_name": "columns.worker_name"}
    text = allocate(run, workspace, export, "C1", "--dry-run").stdout
    assert "Quadrants not recognised: 'NE Quad' (" in text and "'Mid-Essex Quad' (" in text
    assert "[quadrant_labels]" in text
    assert "No column found for worker_name" in text and "columns.worker_name" in text


def test_shortfall_says_how_many_were_eligible_drawn_and_passed_over(
    run: Callable[..., Result], workspace: Workspace, example_export: Path
) -> None:
    with edit_settings(workspace.root) as settings:
        settings["quotas"]["Mid"]["care_act_assessment"] = 400
        settings["sampling"]["top_up_from_other_types"] = False
    result = allocate(run, workspace, example_export, "C1", "--seed", "3")
    assert result.code == 0, result.stderr
    line = next(line for line in result.stdout.splitlines()
                if line.startswith("Mid · CA assessment"))
    assert re.search(r"quota 400, only \d+ eligible, \d+ drawn, \d+ passed over: worker"
                     r" already has a case this cycle", line), line


def test_auditor_roles_are_a_setting(
    run: Callable[..., Result], workspace: Workspace, example_export: Path, tmp_path: Path
) -> None:
    with edit_settings(workspace.root) as settings:
        settings["auditor_roles"].append("Senior Social Worker")
    assert allocate(run, workspace, example_export, "C1", "--seed", "1").code == 0
    book = load_workbook(next((workspace.cycle_dir("C1") / "service-managers").glob("*.xlsx")))
    choices = [dv.formula1 for dv in book["Allocation"].data_validations.dataValidation]
    assert any("Senior Social Worker" in (f or "") for f in choices)
    form = sorted((workspace.cycle_dir("C1") / "audit-forms").glob("*.xlsx"))[0]
    fill_forms.fill_audit(form, tmp_path / "back" / form.name, random.Random(1),
                          overrides={"auditor_role": "senior social worker"})
    assert run("-w", workspace.root, "ingest", tmp_path / "back").code == 0
    with edit_settings(workspace.root) as settings:
        settings["auditor_roles"] = ["Senior Practitioner", "Practice Lead, Team Manager"]
    bad = run("-w", workspace.root, "status")
    assert bad.code == 1 and "auditor_roles" in bad.stderr
