"""`qaudit staff import` and `qaudit staff list`: the staff list is added to, updated by
worker id and never loses anyone; a list with one bad address is refused whole."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import generate_staff
import pytest

from conftest import EXAMPLE_EXPORT, EXAMPLES, Result, edit_settings
from qaudit.db.people import StaffMember
from qaudit.workbooks.case_export import read_export
from qaudit.workspace import Workspace

HEADERS = ["Worker ID", "Name", "Email", "Team", "Role", "Line Manager", "Line Manager Email"]
JO = ["W1", "Jo Lane", "jo.lane@example.org", "Mid Team", "Social Worker", "Ann Reid",
      "ann.reid@example.org"]
SAM = ["W2", "Sam Okafor", "", "Mid Team", "Senior Practitioner", "Ann Reid",
       "ann.reid@example.org"]
ANN = ["W3", "Ann Reid", "ann.reid@example.org", "Mid Team", "Team Manager", "", ""]


def staff_csv(path: Path, *rows: list[str], headers: list[str] = HEADERS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([headers, *rows])
    return path


def staff(ws: Workspace) -> dict[str, StaffMember]:
    with ws.store() as store:
        return {r.member.worker_id: r.member for r in store.people.staff()}


def imported(run: Callable[..., Result], ws: Workspace, path: Path, *extra: str
             ) -> dict[str, object]:
    result = run("-w", ws.root, "staff", "import", path, "--json", *extra)
    assert result.code == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def events(ws: Workspace, kind: str) -> list[dict[str, object]]:
    with ws.store() as store:
        return [e.detail for e in store.events(None, None) if e.kind == kind]


def test_the_example_list_is_imported_and_those_without_email_are_listed(
    run: Callable[..., Result], workspace: Workspace,
) -> None:
    result = run("-w", workspace.root, "staff", "import", EXAMPLES / "staff.csv")
    assert result.code == 0, result.stderr
    assert "Added 373, updated 0, 0 unchanged" in result.stdout
    assert "Without an email (4)" in result.stdout and "Noah Nwosu" in result.stdout
    known = staff(workspace)
    assert len(known) == 373
    assert known["W68130"].name == "=Smith, Jo"  # a formula-like name, kept as text
    assert known["W68130"].service_manager_email == "aaliyah.pemberton@example.org"
    assert events(workspace, "staff_import") == [
        {"file": "staff.csv", "sha256": events(workspace, "staff_import")[0]["sha256"],
         "rows": 373, "skipped": 0, "added": 373, "updated": 0, "unchanged": 0, "kept": 0}]
    listed = json.loads(run("-w", workspace.root, "staff", "list", "--json").stdout)
    assert len(listed) == 373 and sum(1 for p in listed if not p["email"]) == 4
    assert "4 without an email" in run("-w", workspace.root, "staff", "list").stdout


def test_reimport_updates_by_worker_id_keeps_who_is_missing_and_loses_nothing(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path,
) -> None:
    first = imported(run, workspace, staff_csv(tmp_path / "a.csv", JO, SAM, ANN))
    assert (first["added"], first["without_email"]) == (3, [
        {"row": 3, "worker_id": "W2", "name": "Sam Okafor", "team": "Mid Team"}])
    jo_moved = ["W1", "Jo Lane", "joanne.lane@example.org", "", "Social Worker", "Ann Reid",
                "ann.reid@example.org"]
    sam_email = [*SAM[:2], "sam.okafor@example.org", *SAM[3:]]
    new = ["W4", "Kai Osei", "kai.osei@example.org", "South Team", "Social Worker", "", ""]
    second = imported(run, workspace, staff_csv(tmp_path / "b.csv", jo_moved, sam_email, new))
    assert (second["added"], second["updated"], second["unchanged"],
            second["kept_not_in_file"]) == (1, 2, 0, 1)
    assert second["updates"] == [{"worker_id": "W1", "changed": ["email"]},
                                 {"worker_id": "W2", "changed": ["email"]}]
    assert second["without_email"] == []
    known = staff(workspace)
    assert set(known) == {"W1", "W2", "W3", "W4"}  # Ann, not in the new list, is kept
    assert known["W1"].team == "Mid Team"  # a blank cell keeps what was known
    assert known["W1"].email == "joanne.lane@example.org"
    again = imported(run, workspace, tmp_path / "b.csv")
    assert (again["added"], again["updated"], again["unchanged"],
            again["kept_not_in_file"]) == (0, 0, 3, 1)


def test_a_column_the_new_list_lacks_keeps_what_is_known(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path,
) -> None:
    imported(run, workspace, staff_csv(tmp_path / "a.csv", JO, SAM))
    lean = staff_csv(tmp_path / "lean.csv", ["W1", "Jo Lane"], headers=["Worker ID", "Name"])
    result = run("-w", workspace.root, "staff", "import", lean)
    assert "No column for email, team, role" in result.stdout
    assert "updated 0, 1 unchanged; 1 known before and not in this file are kept" in \
        result.stdout
    assert staff(workspace)["W1"] == StaffMember(*JO)


def test_a_list_with_a_bad_email_is_refused_and_nothing_is_stored(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path,
) -> None:
    imported(run, workspace, staff_csv(tmp_path / "a.csv", JO))
    bad = [*ANN[:6], "ann.reid at example.org"]
    path = staff_csv(tmp_path / "b.csv", [*JO[:2], "joanne@example.org", *JO[3:]], SAM, bad)
    result = run("-w", workspace.root, "staff", "import", path)
    assert result.code == 1 and result.stderr.startswith("Error:")
    assert "row 4, column 7 \"Line Manager Email\": 'ann.reid at example.org' is not an" \
        " email address" in " ".join(result.stderr.split())
    assert "nothing of it is stored" in result.stderr
    assert staff(workspace) == {"W1": StaffMember(*JO)}
    assert len(events(workspace, "staff_import")) == 1


def test_dry_run_says_what_would_change_and_stores_nothing(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path,
) -> None:
    path = staff_csv(tmp_path / "a.csv", JO, SAM)
    result = run("-w", workspace.root, "staff", "import", path, "--dry-run")
    assert result.code == 0
    assert "Would add 2" in result.stdout and "Dry run: nothing was stored." in result.stdout
    assert imported(run, workspace, path, "--dry-run")["dry_run"] is True
    assert staff(workspace) == {} and events(workspace, "staff_import") == []


def test_columns_are_found_by_the_staff_columns_setting(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path,
) -> None:
    path = staff_csv(tmp_path / "hr.csv", ["88001", "Jo Lane", "jo.lane@example.org"],
                     headers=["Payroll No", "Known As", "Mail"])
    result = run("-w", workspace.root, "staff", "import", path)
    assert result.code == 1 and "[staff.columns]" in result.stderr
    with edit_settings(workspace.root) as settings:
        settings["staff"]["columns"]["worker_id"] = ["Payroll No"]
        settings["staff"]["columns"]["name"] = ["Known As"]
        settings["staff"]["columns"]["email"] = ["Mail"]
    assert imported(run, workspace, path)["added"] == 1
    assert staff(workspace)["88001"].email == "jo.lane@example.org"


def test_names_are_printed_as_typed_never_as_markup_or_escape_codes(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path,
) -> None:
    odd = ["W9", "[bold red]Jo[/bold red]", "", "[link=http://x]Team[/link]", "", "", ""]
    assert run("-w", workspace.root, "staff", "import",
               staff_csv(tmp_path / "a.csv", odd)).code == 0
    listed = run("-w", workspace.root, "staff", "list").stdout
    assert "[bold red]Jo[/bold red]" in listed and "[link=http://x]Team[/link]" in listed


def test_a_missing_file_is_one_clear_error(run: Callable[..., Result], workspace: Workspace,
                                           tmp_path: Path) -> None:
    result = run("-w", workspace.root, "staff", "import", tmp_path / "nope.csv")
    assert result.code == 1
    assert result.stderr.startswith("Error:") and "does not exist" in result.stderr


@pytest.mark.parametrize("command", [("staff", "import"), ("staff", "list"),
                                     ("feedback", "record"), ("feedback", "year")])
def test_each_people_command_explains_itself_with_an_example(
    run: Callable[..., Result], command: tuple[str, str],
) -> None:
    result = run(*command, "--help")
    assert result.code == 0 and "Example" in result.stdout
    assert f"qaudit {' '.join(command)}" in result.stdout


def test_the_example_staff_list_is_what_its_generator_makes_and_matches_the_export(
    tmp_path: Path,
) -> None:
    """examples/staff.csv: regenerated byte for byte, and every worker of the example export
    on it with the export's name, team and Service Manager."""
    out = tmp_path / "staff.csv"
    generate_staff.main(["--out", str(out)])
    assert out.read_bytes() == (EXAMPLES / "staff.csv").read_bytes()
    from qaudit.config import Settings

    cases = read_export(EXAMPLE_EXPORT, Settings()).cases
    rows = {r["Worker ID"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    for worker in cases.drop_duplicates("worker_id").itertuples():
        row = rows[worker.worker_id]
        assert (row["Name"], row["Team"], row["Service Manager"]) == (
            worker.worker_name, worker.team, worker.service_manager)
    roles = {r["Role"] for r in rows.values()}
    assert {"Senior Practitioner", "Team Manager", "Service Manager"} <= roles


def test_a_line_break_in_a_name_refuses_the_list_naming_row_and_column(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path,
) -> None:
    jude = ["W5", "Jude\r\nBcc: attacker@example.com", "jude@example.org", "", "", "", ""]
    result = run("-w", workspace.root, "staff", "import",
                 staff_csv(tmp_path / "a.csv", JO, jude))
    assert result.code == 1 and result.stderr.startswith("Error:")
    said = " ".join(result.stderr.split())
    assert "row 3, column 2 \"Name\": 'Jude\\r\\nBcc: attacker@example.com' holds a line" \
        " break" in said
    assert "\r" not in result.stderr and staff(workspace) == {}


def test_every_row_not_stored_is_listed_and_only_a_totals_row_is_called_one(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path,
) -> None:
    path = staff_csv(tmp_path / "a.csv", JO, ["Count-42", "", "c42@example.org"],
                     ["Totally Real"], ["Total", "", "", "", "2"])
    result = run("-w", workspace.root, "staff", "import", path)
    assert result.code == 0, result.stderr
    assert "Not stored (3)" in result.stdout
    lines = result.stdout.splitlines()
    assert any("Count-42" in line and "no name" in line for line in lines)
    assert any("Totally Real" in line and "no name" in line for line in lines)
    assert any(" 5 " in line and "a totals row" in line for line in lines)
    assert set(staff(workspace)) == {"W1"}


def two_sheets(path: Path) -> Path:
    """A workbook with the staff list, its leavers, and a hidden sheet of other addresses."""
    from openpyxl import Workbook

    wb = Workbook()
    current = wb.active
    assert current is not None
    current.title = "Staff"
    for row in (HEADERS, JO, ANN):
        current.append(row)
    leavers = wb.create_sheet("Leavers")
    for row in (["Leavers, 2026"], HEADERS, SAM):
        leavers.append(row)
    shadow = wb.create_sheet("Shadow")
    shadow.sheet_state = "veryHidden"
    shadow.append([*HEADERS, "Service Manager", "Service Manager Email"])
    shadow.append(["W1", "Jo Lane", "attacker@example.com", "Mid Team", "Social Worker",
                   "Ann Reid", "attacker@example.com", "Hana Cole", "attacker@example.com"])
    wb.save(path)
    return path


def test_two_sheets_with_a_staff_list_are_imported_only_once_one_is_named(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path,
) -> None:
    path = two_sheets(tmp_path / "staff.xlsx")
    result = run("-w", workspace.root, "staff", "import", path)
    assert result.code == 1
    said = " ".join(result.stderr.split())
    assert "sheets 'Staff' (header on row 1) and 'Leavers' (header on row 2)" in said
    assert "--sheet 'Staff'" in said and "Shadow" not in said
    assert staff(workspace) == {}
    data = imported(run, workspace, path, "--sheet", "Staff")
    assert (data["sheet"], data["added"]) == ("Staff", 2)
    assert staff(workspace)["W1"] == StaffMember(*JO)  # never the hidden sheet's addresses
    assert imported(run, workspace, path, "--sheet", "leavers")["added"] == 1
    hidden = run("-w", workspace.root, "staff", "import", path, "--sheet", "Shadow")
    assert hidden.code == 1 and "is hidden" in hidden.stderr
    assert "attacker" not in json.dumps(run("-w", workspace.root, "staff", "list",
                                            "--json").stdout)
