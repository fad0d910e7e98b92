"""The Service Manager's allocation workbook carries the same contract as the forms: named
input cells per case, a signed hidden identification sheet, text kept as text, and the
look it always had (title, instructions, protection, drop-downs, A4 landscape)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

import fill_forms
import pytest
from openpyxl import load_workbook

from conftest import EXAMPLES, Result
from qaudit.db import AllocationRow
from qaudit.privacy import signature_matches
from qaudit.workbooks.cells import read_text
from qaudit.workbooks.manager import (
    MANAGER_SIGNED_KEYS,
    ManagerBook,
    manager_layout,
    write_manager_workbook,
)
from qaudit.workspace import Workspace

KEY = b"k" * 32
HOSTILE = ['=HYPERLINK("http://x","y")', "+44 1245", "-Ann Lee", "@home", "bell\x07",
           "line\r\nbreak", "_x000D_ literal"]


def allocation(n: int, **kw: str) -> AllocationRow:
    values = dict(
        reference=f"2026-27-C3-{n:03d}", record_id=f"WS-{7000 + n}", person_id=f"{100000 + n}",
        audit_type="care_act_assessment", stratum_type="care_act_assessment", quadrant="Mid",
        worker_id=f"W{n}", worker_name=f"Worker {n}", team="Elmsworth Team",
        service_manager="Imran Shaw", completed_date="2026-09-05", question_set="ca",
        question_set_version="1", question_set_hash="h",
    )
    values.update(kw)
    return AllocationRow(**values)


def book(count: int = 3, **kw: object) -> ManagerBook:
    values: dict[str, object] = dict(
        workspace_id="ws1", signing_key=KEY, cycle="2026-27 C3", manager="Imran Shaw",
        due=date(2026, 12, 11), allocations=[allocation(n) for n in range(1, count + 1)],
        type_names={"care_act_assessment": "Care Act assessment"},
        return_to="Practice Quality Team (pqt@example.org)",
    )
    values.update(kw)
    return ManagerBook(**values)  # type: ignore[arg-type]


def written(tmp_path: Path, spec: ManagerBook) -> Path:
    path = tmp_path / "service-manager-01.xlsx"
    write_manager_workbook(path, spec)
    return path


def test_every_case_has_named_cells_for_the_auditor_and_only_they_are_unlocked(
    tmp_path: Path
) -> None:
    wb = load_workbook(written(tmp_path, book(4)))
    ws = wb["Allocation"]
    layout = manager_layout(4)
    assert set(wb.defined_names) == set(layout)
    for name, (sheet, column, row) in layout.items():
        ((found_sheet, ref),) = wb.defined_names[name].destinations
        assert (found_sheet, ref) == (sheet, f"${column}${row}")
        locked = ws[f"{column}{row}"].protection.locked
        assert locked is name.endswith("_reference"), name
    assert ws["A6"].value == "2026-27-C3-001" and ws["A9"].value == "2026-27-C3-004"
    assert [ws.cell(5, c).value for c in range(9, 13)] == [
        "Auditor", "Auditor email", "Auditor role", "Date allocated"]
    unlocked = {c.coordinate for row in ws.iter_rows() for c in row
                if c.protection.locked is False}
    assert unlocked == {f"{col}{row}" for col in "IJKL" for row in range(6, 10)}


def test_the_workbook_keeps_its_look(tmp_path: Path) -> None:
    ws = load_workbook(written(tmp_path, book(2)))["Allocation"]
    assert ws["A1"].value == "Case audit allocation: 2026-27 C3"
    assert ws["A2"].value == "Service Manager: Imran Shaw"
    assert "Senior Practitioner level or above" in ws["A3"].value
    assert "11/12/2026" in ws["A3"].value and "pqt@example.org" in ws["A3"].value
    assert ws.protection.sheet is True and not ws.protection.password
    assert ws.page_setup.orientation == "landscape"
    assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4
    assert ws.freeze_panes == "A6"
    lists = {dv.formula1: str(dv.sqref) for dv in ws.data_validations.dataValidation}
    roles = '"Senior Practitioner,Advanced Practitioner,Practice Lead,Team Manager,' \
            'Service Manager,Principal Social Worker"'
    assert lists[roles].split() == ["K6", "K7"]
    dates = next(dv for dv in ws.data_validations.dataValidation if dv.type == "date")
    assert str(dates.sqref).split() == ["L6", "L7"]


def test_the_roles_drop_down_is_the_workspaces_list(tmp_path: Path) -> None:
    ws = load_workbook(written(tmp_path, book(1, auditor_roles=(
        "Senior Practitioner", "Senior Social Worker"))))["Allocation"]
    assert any(dv.formula1 == '"Senior Practitioner,Senior Social Worker"'
               for dv in ws.data_validations.dataValidation)


def test_the_hidden_sheet_identifies_and_signs_the_workbook(tmp_path: Path) -> None:
    wb = load_workbook(written(tmp_path, book(3)))
    meta_sheet = wb["_qaudit"]
    assert meta_sheet.sheet_state == "veryHidden"
    meta = {k: read_text(v) for k, v in meta_sheet.iter_rows(values_only=True)}
    assert meta["form_kind"] == "service_manager"
    assert (meta["workspace"], meta["cycle"], meta["manager"]) == ("ws1", "2026-27 C3",
                                                                   "Imran Shaw")
    assert json.loads(meta["references"]) == [f"2026-27-C3-00{n}" for n in (1, 2, 3)]
    assert json.loads(meta["record_ids"]) == ["WS-7001", "WS-7002", "WS-7003"]
    signed = [meta[k] for k in MANAGER_SIGNED_KEYS]
    assert signature_matches(signed, KEY, meta["signature"])
    assert not signature_matches(signed, b"x" * 32, meta["signature"])  # another workspace
    signed[MANAGER_SIGNED_KEYS.index("references")] = '["2026-27-C3-009"]'
    assert not signature_matches(signed, KEY, meta["signature"])


@pytest.mark.parametrize("text", HOSTILE)
def test_names_from_the_export_stay_text(tmp_path: Path, text: str) -> None:
    spec = book(1, manager=text, allocations=[allocation(1, worker_name=text, team=text)])
    wb = load_workbook(written(tmp_path, spec))
    ws = wb["Allocation"]
    cells = [c for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and read_text(c.value) == text]
    assert len(cells) == 2  # practitioner and team
    assert all(c.data_type == "s" for row in ws.iter_rows() for c in row
               if isinstance(c.value, str))
    meta = {k: read_text(v) for k, v in wb["_qaudit"].iter_rows(values_only=True)}
    assert meta["manager"] == text
    assert read_text(ws["A2"].value) == f"Service Manager: {text}"


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed;"
                    " .ci/run installs it with apt-get")
def test_a_workbook_filled_and_saved_in_libreoffice_reads_back_the_same(
    run: Callable[..., Result], workspace: Workspace, tmp_path: Path
) -> None:
    result = run("-w", workspace.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle",
                 "C1", "--from", "01/09/2026", "--to", "31/10/2026", "--seed", "1")
    assert result.code == 0, result.stderr
    source = max((workspace.cycle_dir("C1") / "service-managers").glob("*.xlsx"),
                 key=lambda p: len(fill_forms.manager_cases(load_workbook(p))))
    filled = tmp_path / "filled" / source.name
    meant = fill_forms.fill_manager(source, filled, random.Random(5))
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [str(SOFFICE), f"-env:UserInstallation=file://{profile}", "--headless",
         "--convert-to", "xlsx", "--outdir", str(tmp_path / "resaved"), str(filled)],
        check=True, capture_output=True, timeout=240,
    )
    result = run("-w", workspace.root, "ingest", tmp_path / "resaved" / source.name, "--json")
    assert result.code == 0, result.stdout
    with workspace.store() as store:
        got = {a.reference: (a.auditor_name, a.auditor_email, a.auditor_role)
               for a in store.assignments.for_cycle("C1")}
    assert got == meant
    again = run("-w", workspace.root, "ingest", filled, "--json")  # the same choices: unchanged
    assert json.loads(again.stdout)["files"][0]["status"] == "unchanged"
