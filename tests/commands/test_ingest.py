"""`qaudit ingest`: every refusal stores nothing; returns are never lost or double-counted."""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import fill_forms
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from conftest import (
    EXAMPLES,
    Result,
    copy_workspace,
    edit_settings,
    qaudit_ok,
    raw_database,
    small_workspace,
)
from qaudit.db.returns import Returns
from qaudit.jobs.ingest import ingest_files
from qaudit.workbooks import reader
from qaudit.workbooks.cells import clean_text
from qaudit.workspace import Workspace, open_workspace

CYCLE = "2026-27 C3"
FIRST = "2026-27-C3-001"  # the reference of the first allocation, and of forms(ws)[0]


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with one case per quadrant x type drawn and its forms written, once."""
    root = tmp_path_factory.mktemp("issued") / "ws"
    small_workspace(root, 1)
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due",
              (date.today() + timedelta(days=10)).strftime("%d/%m/%Y"))
    return root


@pytest.fixture
def ws(issued: Path, tmp_path: Path) -> Workspace:
    copy_workspace(issued, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def forms(ws: Workspace, kind: str = "audit-forms") -> list[Path]:
    return sorted((ws.cycle_dir(CYCLE) / kind).glob("*.xlsx"))


def returns(ws: Workspace) -> list[tuple[str, str, str | None]]:
    """The cycle's current returns as (reference, kind, auditor's grade), from the store."""
    with ws.store() as store:
        grades = {a.reference: a.grade for a in store.moderation.returned_audits(CYCLE)}
        progress = store.reporting.allocation_progress(CYCLE)
    audits = [(p.reference, "audit", grades[p.reference]) for p in progress if p.audit_back]
    reflections = [(p.reference, "self_reflection", None) for p in progress
                   if p.reflection_back]
    return [*audits, *reflections]


def rows_of(ws: Workspace, table: str) -> int:
    """Every row of a table, replaced (history) rows included. Raw SQL on purpose: the store
    shows current returns only, and these tests check that nothing else was written."""
    with raw_database(ws) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def ingest(run: Callable[..., Result], ws: Workspace, *args: Any) -> Result:
    return run("-w", ws.root, "ingest", *args)


def fill(ws: Workspace, tmp_path: Path, index: int = 0, **kw: Any) -> tuple[Path, dict[str, Any]]:
    src = forms(ws)[index]
    dst = tmp_path / "returns" / src.name
    meant = fill_forms.fill_audit(src, dst, random.Random(index), **kw)
    return dst, meant


def test_filled_form_is_stored_as_meant_whatever_the_typing(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, meant = fill(ws, tmp_path, grade="Good")
    result = ingest(run, ws, path)
    assert result.code == 0, result.stdout
    reference = path.name.removesuffix("-audit.xlsx")
    with ws.store() as store:
        assert store.returns.answers_for(reference) == meant["answers"]
    assert returns(ws) == [(FIRST, "audit", "good")]


def test_self_reflection_is_stored(run: Callable[..., Result], ws: Workspace,
                                   tmp_path: Path) -> None:
    src = forms(ws, "self-reflection")[0]
    fill_forms.fill_reflection(src, tmp_path / src.name, random.Random(1))
    assert ingest(run, ws, tmp_path / src.name).code == 0
    assert returns(ws) == [(FIRST, "self_reflection", None)]


FUTURE = date.today() + timedelta(days=5)


@pytest.mark.parametrize(
    ("changes", "cell", "message"),
    [
        ({"sr_went_well": None}, "(sr_went_well)", "is required"),
        ({"sr_date": FUTURE}, "(sr_date)", "is in the future"),
        ({"sr_grade": "Brilliant"}, "(sr_grade)", "is not allowed"),
    ],
)
def test_wrong_self_reflection_is_refused_and_nothing_stored(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path, changes: dict[str, Any],
    cell: str, message: str,
) -> None:
    src = forms(ws, "self-reflection")[0]
    path = tmp_path / src.name
    fill_forms.fill_reflection(src, path, random.Random(1))
    wb = load_workbook(path)
    for name, value in changes.items():
        fill_forms.put(wb, name, value)
    wb.save(path)
    result = ingest(run, ws, path, "--json")
    assert result.code == 1
    findings = json.loads(result.stdout)["files"][0]["findings"]
    assert any(cell in f["cell"] and message in f["message"] for f in findings), findings
    assert returns(ws) == []


@pytest.mark.parametrize(
    ("overrides", "cell", "message"),
    [
        ({"grade": "Excellent"}, "(grade)", "is not allowed; choose Requires improvement"),
        ({"ans_V1": None}, "(ans_V1)", "is required: answer Yes, No, N/A"),
        ({"ans_V2": "Maybe"}, "(ans_V2)", "is not an answer"),
        ({"rationale": None}, "(rationale)", "is required"),
        ({"rationale": "x" * 4001}, "(rationale)", "at most 4,000 fit here"),
        ({"ans_V1": fill_forms.Typed("=1+1")}, "(ans_V1)", "holds a formula"),
        ({"grade": fill_forms.Typed("#N/A")}, "(grade)", "holds an error value"),
        ({"esc_raised": "Yes"}, "(esc_to)", "an escalation must say whom it went to"),
        ({"esc_raised": "y", "esc_to": "Team manager", "esc_name": "A B"}, "(esc_date)",
         "an escalation must say when"),
        ({"auditor_date": FUTURE}, "(auditor_date)", "is in the future"),
        ({"auditor_date": "31/02/2026"}, "(auditor_date)", "is not a date"),
        ({"auditor_role": "Student"}, "(auditor_role)", "choose Senior Practitioner"),
        ({"grade": "Requires improvement", "ri_action": None}, "(ri_action)",
         "must say the corrective action needed"),
    ],
)
def test_wrong_form_is_refused_with_the_cell_and_nothing_stored(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path, overrides: dict[str, Any],
    cell: str, message: str,
) -> None:
    grade = overrides.get("grade") if overrides.get("grade") == "Requires improvement" else "Good"
    path, _ = fill(ws, tmp_path, grade=grade, overrides=overrides)
    result = ingest(run, ws, path, "--json")
    assert result.code == 1
    (outcome,) = json.loads(result.stdout)["files"]
    assert outcome["status"] == "refused"
    assert any(cell in f["cell"] and message in f["message"] for f in outcome["findings"]), (
        outcome["findings"])
    assert all(f["sheet"] == "Audit" for f in outcome["findings"])
    assert returns(ws) == [] and rows_of(ws, "returns") == rows_of(ws, "answers") == 0


def test_every_finding_is_reported_together(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(ws, tmp_path, overrides={"grade": "Great", "rationale": None,
                                            "ans_V1": None, "auditor_name": None})
    result = ingest(run, ws, path, "--json")
    cells = {f["cell"].split()[-1] for f in json.loads(result.stdout)["files"][0]["findings"]}
    assert {"(grade)", "(rationale)", "(ans_V1)", "(auditor_name)"} <= cells


def _rewrite_meta(src: Path, dst: Path, **changes: str) -> None:
    wb = load_workbook(src)
    for row in wb["_qaudit"].iter_rows():
        if row[0].value in changes:
            row[1].value = changes[str(row[0].value)]
    wb.save(dst)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reference": "2026-27-C3-999"}, "matches no allocation"),
        ({"workspace": "0" * 32}, "another qaudit workspace"),
        ({"question_set_version": "1999.1"}, "but version"),
        ({"question_set_hash": "abc"}, "hidden identification was edited"),
        ({"form_kind": "survey"}, "unknown form kind"),
        ({"cycle": "2025-26 C8"}, "hidden identification was edited"),
        ({"signature": "0" * 64}, "hidden identification was edited"),
    ],
)
def test_foreign_or_mismatched_form_is_refused(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path, change: dict[str, str],
    message: str,
) -> None:
    path, _ = fill(ws, tmp_path)
    _rewrite_meta(path, path, **change)
    result = ingest(run, ws, path)
    assert result.code == 1 and message in result.stdout
    assert returns(ws) == []


def _findings(result: Result) -> list[dict[str, str]]:
    return [f for file in json.loads(result.stdout)["files"] for f in file["findings"]]


def _unsigned_draw(ws: Workspace) -> None:
    """Tamper on purpose: make the current draw one issued before forms were signed, to
    show what protects such forms."""
    with raw_database(ws) as conn:
        conn.execute("UPDATE draws SET signed = 0")


def test_a_form_retargeted_to_another_case_is_refused(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    """The hidden sheet edited to another allocation's reference and record id, while the
    form still shows its own case: the signature catches it, and on a form issued without
    one, the case block does, naming both."""
    with ws.store() as store:
        first, *rest = store.draws.allocations(CYCLE)
    other = next(a for a in rest if a.audit_type == first.audit_type)  # same question set
    path, _ = fill(ws, tmp_path)
    _rewrite_meta(path, path, reference=other.reference, record_id=other.record_id)
    signed = _findings(ingest(run, ws, path, "--json"))
    assert [f["code"] for f in signed] == ["signature-mismatch"]
    _unsigned_draw(ws)
    unsigned = _findings(ingest(run, ws, path, "--json"))
    mismatch = {f["cell"].split(" ")[-1]: f for f in unsigned if f["code"] == "case-mismatch"}
    assert set(mismatch) >= {"(case_reference)", "(case_record_id)", "(case_person_id)"}
    assert FIRST in mismatch["(case_reference)"]["message"]
    assert other.reference in mismatch["(case_reference)"]["message"]
    assert returns(ws) == []


def test_a_tampered_record_id_is_a_mismatch_not_a_redraw(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    _unsigned_draw(ws)
    path, _ = fill(ws, tmp_path)
    _rewrite_meta(path, path, record_id="999999")
    findings = _findings(ingest(run, ws, path, "--json"))
    assert [f["code"] for f in findings] == ["identification-mismatch"]
    assert "redraw" not in findings[0]["message"] and "999999" in findings[0]["message"]


@pytest.mark.parametrize("target", ["'_qaudit'!$B$3", "Audit!$C$5", "Audit!$D$40"])
def test_a_name_pointed_elsewhere_is_refused(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path, target: str
) -> None:
    """A defined name moved onto the hidden sheet, into the case block, or sideways: the
    form no longer says what the auditor answered where the name says."""
    path, _ = fill(ws, tmp_path)
    wb = load_workbook(path)
    wb.defined_names["grade"].attr_text = target
    wb.save(path)
    findings = _findings(ingest(run, ws, path, "--json"))
    assert [f["code"] for f in findings] == ["moved-name"]
    assert "grade" in findings[0]["message"] and "now points to" in findings[0]["message"]
    assert returns(ws) == []


def test_deleted_named_cell_is_reported(run: Callable[..., Result], ws: Workspace,
                                        tmp_path: Path) -> None:
    path, _ = fill(ws, tmp_path)
    wb = load_workbook(path)
    del wb.defined_names["rationale"]
    wb.save(path)
    result = ingest(run, ws, path)
    assert result.code == 1 and "the named cell is missing" in result.stdout
    assert returns(ws) == []


def _zip_bomb(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", "<a>" + " " * 60_000_000 + "</a>")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("not a workbook"), "not an Excel workbook"),
        (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600),
         "password-protected"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"PK\x03\x04broken"), "damaged"),
        (_zip_bomb, "refused as unsafe"),
    ],
)
def test_unsafe_or_unreadable_files_are_refused(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path,
    make: Callable[[Path], object], message: str,
) -> None:
    path = tmp_path / "return.xlsx"
    make(path)
    result = ingest(run, ws, path)
    assert result.code == 1 and message in result.stdout
    assert "Traceback" not in result.stderr
    assert returns(ws) == []


def test_xml_entity_expansion_is_refused(run: Callable[..., Result], ws: Workspace,
                                         tmp_path: Path) -> None:
    path, _ = fill(ws, tmp_path)
    bomb = tmp_path / "bomb.xlsx"
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>')
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bomb, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/workbook.xml":
                body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
                data = laughs.encode() + body
            dst.writestr(item, data)
    result = ingest(run, ws, bomb)
    assert result.code == 1 and "cannot be read" in result.stdout
    assert returns(ws) == []


def test_a_bad_file_does_not_stop_the_batch(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    fill(ws, tmp_path, 0)
    fill(ws, tmp_path, 1, overrides={"grade": "Superb"})
    (tmp_path / "returns" / "~$lockfile.xlsx").write_bytes(b"lock")
    result = ingest(run, ws, tmp_path / "returns", "--json")
    assert result.code == 1
    summary = json.loads(result.stdout)["summary"]
    assert (summary["accepted"], summary["refused"]) == (1, 1)
    assert len(returns(ws)) == 1


def test_same_file_or_resaved_copy_changes_nothing(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(ws, tmp_path)
    assert ingest(run, ws, path).code == 0
    copy = tmp_path / "copy.xlsx"
    resaved = load_workbook(path)
    resaved.properties.lastModifiedBy = "Another auditor"
    resaved.save(copy)
    assert copy.read_bytes() != path.read_bytes()
    result = ingest(run, ws, path, copy, "--json")
    assert json.loads(result.stdout)["summary"]["unchanged"] == 2
    assert rows_of(ws, "returns") == 1
    assert rows_of(ws, "answers") == 20


def test_the_same_bytes_again_are_unchanged_without_reading_the_workbook(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ingesting the whole returns folder again is the common case: a file whose bytes are
    those of the return stored is known by its hash, and its workbook is not read again."""
    path, _ = fill(ws, tmp_path)
    assert ingest(run, ws, path).code == 0

    def unread(*args: object) -> None:
        raise AssertionError("the workbook was read again")

    monkeypatch.setattr(reader, "parse_form", unread)
    result = json.loads(ingest(run, ws, path, "--json").stdout)
    assert result["summary"]["unchanged"] == 1
    assert result["files"][0]["reference"] == FIRST and result["files"][0]["kind"] == "audit"


def test_the_same_bytes_of_a_cancelled_cycle_are_checked_again(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    """Known bytes count as unchanged only while their allocation is current: once the
    cycle is cancelled the file is read and refused as any form of it would be."""
    path, _ = fill(ws, tmp_path)
    assert ingest(run, ws, path).code == 0
    assert run("-w", ws.root, "cycle", "cancel", CYCLE, "--reason", "Wrong window",
               "--force").code == 0
    result = json.loads(ingest(run, ws, path, "--json").stdout)
    assert result["summary"]["refused"] == 1
    assert result["files"][0]["findings"][0]["code"] == "unknown-reference"


def test_changed_resubmission_needs_replace_and_keeps_history(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(ws, tmp_path, grade="Good")
    ingest(run, ws, path)
    changed, _ = fill(ws, tmp_path / "again", grade="Adequate")
    refused = ingest(run, ws, changed)
    assert refused.code == 1 and "--replace" in refused.stdout
    assert returns(ws) == [(FIRST, "audit", "good")]
    assert ingest(run, ws, changed, "--replace").code == 0
    assert returns(ws) == [(FIRST, "audit", "adequate")]
    assert rows_of(ws, "returns") == 2  # the first is kept as history


def test_a_different_answer_is_named_with_what_is_stored_and_what_was_found(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(ws, tmp_path, grade="Good")
    ingest(run, ws, path)
    changed, _ = fill(ws, tmp_path / "again", grade="Adequate",
                      overrides={"rationale": "Regraded after a second look."})
    refused = json.loads(ingest(run, ws, changed, "--json").stdout)["files"][0]
    assert refused["status"] == "refused"
    by_cell = {f["cell"]: f for f in refused["findings"]}
    assert {f["code"] for f in refused["findings"]} == {"different-answers"}
    assert by_cell["grade"]["value"] == "Adequate" and "stored: 'Good'" in by_cell["grade"][
        "message"]
    assert by_cell["rationale"]["value"] == "Regraded after a second look."
    assert all("--replace" in f["message"] for f in refused["findings"])


def test_a_superseded_copy_left_in_the_folder_never_undoes_the_correction(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "returns"
    first, _ = fill(ws, tmp_path, grade="Good")  # written into returns/
    assert ingest(run, ws, folder).code == 0
    corrected, _ = fill(ws, tmp_path / "corrected", grade="Adequate")
    assert ingest(run, ws, corrected, "--replace").code == 0
    shutil.copy(corrected, folder / "corrected-copy.xlsx")  # both now lie in the folder
    again = ingest(run, ws, folder, "--json")
    assert again.code == 0, again.stdout
    data = json.loads(again.stdout)
    assert data["summary"]["superseded"] == 1 and data["summary"]["unchanged"] == 1
    old = next(f for f in data["files"] if f["file"] == str(first))
    assert old["status"] == "superseded" and "older copy" in old["warnings"][0]
    assert returns(ws) == [(FIRST, "audit", "adequate")]
    # --replace does not bring the older copy back; --restore does, on purpose.
    refused = json.loads(ingest(run, ws, first, "--replace", "--json").stdout)
    assert refused["files"][0]["findings"][0]["code"] == "superseded-copy"
    assert returns(ws) == [(FIRST, "audit", "adequate")]
    assert ingest(run, ws, first, "--replace", "--restore").code == 0
    assert returns(ws) == [(FIRST, "audit", "good")]
    assert rows_of(ws, "returns") == 3


def test_warnings_do_not_block(run: Callable[..., Result], ws: Workspace, tmp_path: Path) -> None:
    src = forms(ws)[0]
    wb = load_workbook(src)
    practitioner = next(r for r in wb["Audit"].iter_rows(values_only=True)
                        if r[0] == "Practitioner")[2]
    path = tmp_path / src.name
    fill_forms.fill_audit(src, path, random.Random(1), grade="Outstanding", overrides={
        **{n: "No" for n in wb.defined_names if n.startswith("ans_")},
        "auditor_name": practitioner.upper(),
        "auditor_date": date.today(),
    })
    result = ingest(run, ws, path, "--json")
    assert result.code == 0
    (outcome,) = json.loads(result.stdout)["files"]
    text = " ".join(outcome["warnings"])
    assert "grade Outstanding with 20 of 20 answers No" in text
    assert "the auditor is the practitioner" in text


def test_late_return_is_a_warning(run: Callable[..., Result], ws: Workspace,
                                  tmp_path: Path) -> None:
    redrawn = run("-w", ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE,
                  "--from", "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due",
                  "01/11/2026", "--redraw")
    assert redrawn.code == 0, redrawn.stderr
    path, _ = fill(ws, tmp_path)  # a form of the new draw, due 01/11/2026, done this week
    outcome = json.loads(ingest(run, ws, path, "--json").stdout)["files"][0]
    assert any("after the due date 01/11/2026" in w for w in outcome["warnings"])


def test_row_inserted_above_the_questions_still_ingests(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, meant = fill(ws, tmp_path, insert_row=True)
    assert ingest(run, ws, path).code == 0
    reference = path.name.removesuffix("-audit.xlsx")
    with ws.store() as store:
        assert store.returns.answers_for(reference) == meant["answers"]


def test_requires_improvement_goes_on_the_monitoring_list(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(ws, tmp_path, grade="Requires improvement", escalate=True, when=date.today())
    assert ingest(run, ws, path).code == 0
    reference = path.name.removesuffix("-audit.xlsx")
    listed = json.loads(run("-w", ws.root, "ri", "--json").stdout)
    assert [(i["reference"], i["status"]) for i in listed] == [(reference, "open")]
    on = (date.today() - timedelta(days=1)).strftime("%d/%m/%Y")
    assert run("-w", ws.root, "ri", "record", reference, "--step", "esca-referral", "--on",
               on).code == 0
    assert json.loads(run("-w", ws.root, "ri", "--json").stdout)[0]["steps"] == {
        "esca-referral": (date.today() - timedelta(days=1)).isoformat()}
    escalated = json.loads(run("-w", ws.root, "escalations", "--json").stdout)
    assert [(e["reference"], e["age_days"]) for e in escalated] == [(reference, 0)]
    for step in ("corrective-action", "psw-meeting"):
        assert run("-w", ws.root, "ri", "record", reference, "--step", step, "--on",
                   on).code == 0
    assert run("-w", ws.root, "ri", "close", reference).code == 0
    assert json.loads(run("-w", ws.root, "ri", "--json").stdout)[0]["status"] == "closed"
    # A reference is one reference however it is typed, in every command that takes one.
    typed = reference.lower().replace("-c3-", " c3-")
    assert run("-w", ws.root, "ri", "show", typed).code == 0
    assert run("-w", ws.root, "ri", "reopen", typed, "--reason", "Typed in lower case").code == 0
    assert json.loads(run("-w", ws.root, "ri", "--json").stdout)[0]["status"] == "open"
    assert run("-w", ws.root, "escalations", "close", typed, "--outcome", "Seen").code == 0
    logged = run("-w", ws.root, "log", "--ref", typed).stdout
    assert "Typed in lower case" in " ".join(logged.split())


def ri(run: Callable[..., Result], ws: Workspace, *args: str) -> Result:
    return run("-w", ws.root, "--by", "Ola Officer", "ri", *args)


def test_ri_follow_up_closes_only_when_every_step_is_recorded_and_keeps_its_history(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(ws, tmp_path, grade="Requires improvement", when=date.today())
    assert ingest(run, ws, path).code == 0
    reference = path.name.removesuffix("-audit.xlsx")
    on = (date.today() - timedelta(days=1)).strftime("%d/%m/%Y")
    assert ri(run, ws, "record", reference, "--step", "corrective-action", "--on", on,
              "--note", "Plan reviewed").code == 0
    twice = ri(run, ws, "record", reference, "--step", "corrective-action", "--on", on)
    assert twice.code == 1 and "already recorded" in twice.stderr
    early = ri(run, ws, "close", reference, "--note", "done?")
    assert early.code == 1 and "psw-meeting, esca-referral not recorded" in early.stderr
    unknown = ri(run, ws, "record", reference, "--step", "lunch", "--on", on)
    assert unknown.code == 1 and "not a follow-up step" in unknown.stderr
    no_reason = ri(run, ws, "close", reference, "--force")
    assert no_reason.code == 1 and "--reason" in no_reason.stderr
    for step in ("psw-meeting", "esca-referral"):
        assert ri(run, ws, "record", reference, "--step", step, "--on", on).code == 0
    assert ri(run, ws, "close", reference, "--note", "All actions complete").code == 0
    after = ri(run, ws, "record", reference, "--step", "psw-meeting", "--on", on)
    assert after.code == 1 and "closed" in after.stderr and "reopen" in after.stderr
    second = ri(run, ws, "close", reference, "--note", "again")
    assert second.code == 1 and "closed, not open" in second.stderr
    assert ri(run, ws, "reopen", reference, "--reason", "Action not taken after all").code == 0
    assert ri(run, ws, "close", reference, "--note", "Now done").code == 0
    detail = json.loads(ri(run, ws, "show", reference, "--json").stdout)
    assert [h["action"] for h in detail["history"]] == [
        "opened", "step", "step", "step", "closed", "reopened", "closed"]
    assert {h["note"] for h in detail["history"]} >= {"All actions complete", "Now done",
                                                      "Action not taken after all"}
    assert {s["actor"] for s in detail["steps"]} == {"Ola Officer"}
    assert detail["missing"] == []
    shown = ri(run, ws, "show", reference)
    assert shown.code == 0 and "Plan reviewed" in shown.stdout and "reopened" in shown.stdout


def test_a_forced_close_keeps_its_reason_and_the_missing_steps(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(ws, tmp_path, grade="Requires improvement", when=date.today())
    ingest(run, ws, path)
    reference = path.name.removesuffix("-audit.xlsx")
    assert ri(run, ws, "close", reference, "--force", "--reason",
              "Practitioner left the council").code == 0
    history = json.loads(ri(run, ws, "show", reference, "--json").stdout)["history"]
    assert history[-1]["action"] == "closed (forced)"
    assert "Practitioner left the council" in history[-1]["note"]
    assert "not recorded: corrective-action, psw-meeting, esca-referral" in history[-1]["note"]


def test_ri_steps_are_a_setting(run: Callable[..., Result], ws: Workspace,
                                tmp_path: Path) -> None:
    with edit_settings(ws.root) as settings:
        settings["ri"]["steps"] = {"review": "Reviewed by the Practice Quality Team"}
    path, _ = fill(ws, tmp_path, grade="Requires improvement", when=date.today())
    ingest(run, ws, path)
    reference = path.name.removesuffix("-audit.xlsx")
    on = date.today().strftime("%d/%m/%Y")
    assert ri(run, ws, "record", reference, "--step", "corrective-action", "--on", on).code == 1
    assert ri(run, ws, "record", reference, "--step", "review", "--on", on).code == 0
    assert ri(run, ws, "close", reference).code == 0


def test_escalations_are_closed_with_their_outcome_and_everything_is_in_the_log(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(ws, tmp_path, grade="Requires improvement", escalate=True,
                   when=date.today())
    assert run("-w", ws.root, "--by", "Ada Lead", "ingest", path).code == 0
    reference = path.name.removesuffix("-audit.xlsx")
    [open_one] = json.loads(run("-w", ws.root, "escalations", "--json").stdout)
    assert open_one["closed"] is False and open_one["outcome"] == ""
    assert "open" in run("-w", ws.root, "escalations").stdout
    assert run("-w", ws.root, "--by", "Ada Lead", "escalations", "close", reference,
               "--outcome", "Safety plan agreed").code == 0
    [closed] = json.loads(run("-w", ws.root, "escalations", "--json").stdout)
    assert closed["closed"] is True and closed["outcome"] == "Safety plan agreed"
    assert closed["closed_by"] == "Ada Lead"
    assert "Safety plan agreed" in run("-w", ws.root, "escalations").stdout
    again = run("-w", ws.root, "escalations", "close", reference, "--outcome", "x")
    assert again.code == 1 and "was closed on" in again.stderr
    nothing = run("-w", ws.root, "escalations", "close", "NOPE-1", "--outcome", "x")
    assert nothing.code == 1 and "has no escalation" in nothing.stderr
    events = json.loads(run("-w", ws.root, "log", "--ref", reference, "--json").stdout)
    assert [(e["kind"], e["actor"]) for e in events] == [
        ("return", "Ada Lead"), ("escalation_closed", "Ada Lead")]
    whole = json.loads(run("-w", ws.root, "log", "--cycle", CYCLE, "--json").stdout)
    assert whole[0]["kind"] == "draw" and len(whole) == 3
    assert "escalation_closed" in run("-w", ws.root, "log").stdout


def test_regrading_an_ri_audit_withdraws_it_from_the_list(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(ws, tmp_path, grade="Requires improvement")
    ingest(run, ws, path)
    again, _ = fill(ws, tmp_path / "again", grade="Good")
    ingest(run, ws, again, "--replace")
    assert json.loads(run("-w", ws.root, "ri", "--json").stdout)[0]["status"] == "withdrawn"


def test_ri_commands_refuse_unknown_reference_and_future_step(
    run: Callable[..., Result], ws: Workspace
) -> None:
    result = run("-w", ws.root, "ri", "record", "NOPE-1", "--step", "psw-meeting", "--on",
                 "01/11/2026")
    assert result.code == 1 and "is not on the Requires improvement list" in result.stderr
    future = (date.today() + timedelta(days=3)).strftime("%d/%m/%Y")
    result = run("-w", ws.root, "ri", "record", "NOPE-1", "--step", "psw-meeting", "--on",
                 future)
    assert result.code == 1 and "in the future" in result.stderr


def test_redraw_is_refused_once_returns_exist(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(ws, tmp_path)
    ingest(run, ws, path)
    result = run("-w", ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE,
                 "--from", "01/09/2026", "--to", "31/10/2026", "--redraw")
    assert result.code == 1 and "already has returned audits" in result.stderr


def test_no_forms_found_is_one_clear_line(run: Callable[..., Result], ws: Workspace,
                                          tmp_path: Path) -> None:
    empty = tmp_path / "inbox"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a form")
    result = ingest(run, ws, empty)
    assert result.code == 1 and "no workbooks found" in result.stderr


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_round_trip_gives_back_exactly_the_answers_in_any_file_order(
    issued: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    tmp = tmp_path_factory.mktemp("round")
    copy_workspace(issued, tmp / "ws")
    ws = open_workspace(tmp / "ws")
    chosen = data.draw(st.lists(st.integers(0, 19), min_size=1, max_size=4, unique=True))
    meant: dict[str, dict[str, tuple[str, str]]] = {}
    paths = []
    for index in chosen:
        src = forms(ws)[index]
        names = [n for n in load_workbook(src).defined_names if n.startswith("ans_")]
        answers = {n: data.draw(st.sampled_from(["Yes", "yes ", " Y", "No", "n", "N/A", "na",
                                                 "n/a", "NO"])) for n in names}
        # (U+FFFE and U+FFFF cannot be in a workbook's XML at all: Excel escapes them, and
        # openpyxl with lxml, which fills these forms as a person would, refuses them)
        typeable = st.text(st.characters(blacklist_categories=("Cs", "Cc"),
                                          blacklist_characters="\ufffe\uffff"), max_size=30)
        comments = {"cmt" + n[3:]: data.draw(typeable) for n in names}
        path = tmp / "returns" / src.name
        fill_forms.fill_audit(src, path, random.Random(index), grade="Adequate",
                              overrides={**answers, **comments})
        meant[src.name.removesuffix("-audit.xlsx")] = {
            n[4:]: (
                {"y": "Yes", "yes": "Yes", "n": "No", "no": "No"}.get(
                    answers[n].strip().lower(), "N/A"),
                _as_stored(comments["cmt" + n[3:]]),
            )
            for n in names
        }
        paths.append(path)
    order = data.draw(st.permutations(paths))
    with ws.store() as store:
        report = ingest_files(store, list(order), today=date.today())
        assert report.valid, report.findings
        for reference, expected in meant.items():
            assert store.returns.answers_for(reference) == expected


def _as_stored(text: str) -> str:
    """What a comment reads back as: trimmed, as people's stray spaces are."""
    return text.strip()


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed;"
                    " .ci/run installs it with apt-get")
def test_form_saved_by_libreoffice_still_ingests(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, meant = fill(ws, tmp_path, grade="Requires improvement", escalate=True)
    out = tmp_path / "lo"
    subprocess.run(
        [str(SOFFICE), f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
         "--convert-to", "xlsx", "--outdir", str(out), str(path)],
        check=True, capture_output=True, timeout=240,
    )
    resaved = out / path.name
    assert resaved.read_bytes() != path.read_bytes()
    result = ingest(run, ws, resaved)
    assert result.code == 0, result.stdout
    reference = path.name.removesuffix("-audit.xlsx")
    with ws.store() as store:
        assert store.returns.answers_for(reference) == meant["answers"]
    # The same content from the copy saved by openpyxl is then unchanged, not a second return.
    assert json.loads(ingest(run, ws, path, "--json").stdout)["summary"]["unchanged"] == 1
    assert rows_of(ws, "returns") == 1


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed; .ci/run"
                    " installs it with apt-get")
def test_libreoffice_resave_of_a_line_broken_text_is_unchanged(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    """Excel keeps CR LF inside a cell (written as _x000D_ and a line feed); LibreOffice
    writes LF. Same answers, same return."""
    path, _ = fill(ws, tmp_path, grade="Good", overrides={
        "rationale": clean_text("First line of the rationale.\r\nSecond line."),
        "strengths": clean_text("One\rtwo")})
    assert ingest(run, ws, path).code == 0
    out = tmp_path / "lo"
    subprocess.run(
        [str(SOFFICE), f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
         "--convert-to", "xlsx", "--outdir", str(out), str(path)],
        check=True, capture_output=True, timeout=240,
    )
    result = ingest(run, ws, out / path.name, "--json")
    assert json.loads(result.stdout)["summary"]["unchanged"] == 1, result.stdout
    assert rows_of(ws, "returns") == 1


@pytest.fixture
def many_returns(ws: Workspace, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "many"
    for index, src in enumerate(forms(ws)):
        fill_forms.fill_audit(src, folder / src.name, random.Random(index))
    yield folder


# `qaudit ingest ARGS...` in a child process that, once the first file is stored and
# committed, stops inside the next file's own savepoint (its rows written, not committed),
# says so on stdout, and waits there to be killed: the kill always lands mid-ingest, however
# fast the machine, with no sleeping and guessing. Each file is committed on its own
# (HOLD_SECONDS = 0) so that one is committed before the kill.
KILLABLE_INGEST = textwrap.dedent("""
    import os
    import sys
    from contextlib import contextmanager

    import qaudit.jobs.ingest as job
    from qaudit import cli
    from qaudit.db.store import Store

    job.HOLD_SECONDS = 0
    real_ingest_files = job.ingest_files
    real_transaction = Store.transaction
    state = {"first_file_stored": False, "depth": 0}

    def ingest_files(store, paths, *, on_file=None, **options):
        def stored(done, total):
            if on_file is not None:
                on_file(done, total)
            state["first_file_stored"] = True

        return real_ingest_files(store, paths, on_file=stored, **options)

    @contextmanager
    def transaction(self):
        state["depth"] += 1
        try:
            with real_transaction(self) as conn:
                yield conn
                if state["first_file_stored"] and state["depth"] == 2:
                    held = conn.execute("SELECT count(*) FROM returns").fetchone()[0]
                    print(f"holding uncommitted: {held} returns", flush=True)
                    sys.stdin.read()  # until killed (or the test went away)
                    os._exit(3)  # never commit
        finally:
            state["depth"] -= 1

    job.ingest_files = ingest_files
    Store.transaction = transaction
    cli.main(sys.argv[1:])
""")


def _read_until(child: subprocess.Popen[bytes], marker: bytes, timeout: float) -> bytes:
    """What the child printed, up to and including ``marker`` (or all it printed before it
    ended or ``timeout`` passed)."""
    assert child.stdout is not None
    fd = child.stdout.fileno()
    said = b""
    deadline = time.monotonic() + timeout
    while marker not in said:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        said += chunk
    return said


def test_process_killed_mid_ingest_leaves_whole_returns_only(
    ws: Workspace, many_returns: Path
) -> None:
    args = ["-w", str(ws.root), "ingest", str(many_returns), "--json"]
    child = subprocess.Popen([sys.executable, "-c", KILLABLE_INGEST, *args],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        said = _read_until(child, b" returns\n", timeout=120)
    finally:
        child.kill()  # SIGKILL: no clean-up, no rollback, no commit runs
        _, stderr = child.communicate(timeout=60)
    assert said == b"holding uncommitted: 2 returns\n", (said, stderr)
    assert child.returncode == -signal.SIGKILL

    # The killed transaction is gone; the first return is there whole.
    with ws.store() as store:
        audits = store.moderation.returned_audits(CYCLE)
        answers = {a.reference: store.returns.answers_for(a.reference) for a in audits}
    assert len(audits) == 1
    assert [len(a) for a in answers.values()] == [20]
    # Raw SQL for what no API shows: the file is sound, and no row of the killed return is
    # left anywhere (no return row without its answers, no answer without its return).
    with raw_database(ws) as conn:
        if not ws.settings.database.url:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        per_return = conn.execute(
            "SELECT r.id, count(n.question_id) FROM returns r LEFT JOIN answers n"
            " ON n.return_id = r.id GROUP BY r.id").fetchall()
    assert [count for _, count in per_return] == [20]
    assert rows_of(ws, "answers") == 20

    # Running the same ingest again takes in the rest, and the stored one is unchanged.
    done = subprocess.run([sys.executable, "-m", "qaudit", *args], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)["summary"]
    assert (summary["accepted"], summary["unchanged"], summary["refused"]) == (19, 1, 0)
    back = returns(ws)
    assert len(back) == 20 and {kind for _, kind, _ in back} == {"audit"}
    with ws.store() as store:
        assert all(len(store.returns.answers_for(ref)) == 20 for ref, _, _ in back)
    assert rows_of(ws, "returns") == 20 and rows_of(ws, "answers") == 20 * 20


class _CommitFails:
    """A connection whose COMMIT fails as a full disk would make it (everything else is
    the real connection's)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def test_files_share_a_commit_and_a_file_that_fails_midway_leaves_nothing_of_itself(
    ws: Workspace, many_returns: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = sorted(many_returns.glob("*.xlsx"))[:4]
    real_store = Returns.store
    calls: list[str] = []

    def fails_after_writing(self: Returns, new: Any, replace: Any = None) -> Any:
        calls.append(new.file_name)
        with self.db.transaction():
            stored = real_store(self, new, replace=replace)
            if len(calls) == 2:  # its rows are written, then the disk fails
                raise sqlite3.OperationalError("disk I/O error")
        return stored

    monkeypatch.setattr(Returns, "store", fails_after_writing)
    with ws.store() as store:
        commits: list[str] = []
        store.conn = _Counting(store.conn, commits)
        report = ingest_files(store, paths, today=date.today())
    statuses = [o.status.value for o in report.outcomes]
    assert statuses == ["accepted", "refused", "accepted", "accepted"]
    assert report.outcomes[1].findings[0].code == "not-stored"
    assert len(commits) == 1  # the four files in one commit
    assert rows_of(ws, "returns") == 3 and rows_of(ws, "answers") == 3 * 20


class _Counting(_CommitFails):
    """The real connection, counting its COMMITs."""

    def __init__(self, conn: Any, commits: list[str]) -> None:
        super().__init__(conn)
        self.commits = commits

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            self.commits.append(sql)
        return self.conn.execute(sql, *args)


def test_a_commit_that_fails_stores_none_of_its_files_and_says_so(
    ws: Workspace, many_returns: Path
) -> None:
    paths = sorted(many_returns.glob("*.xlsx"))[:3]
    with ws.store() as store:
        store.conn = _CommitFails(store.conn)
        report = ingest_files(store, paths, today=date.today())
    assert [o.status.value for o in report.outcomes] == ["refused"] * 3
    assert {f.code for f in report.findings} == {"not-stored"}
    assert "disk is full" in report.findings[0].message
    assert rows_of(ws, "returns") == 0 and rows_of(ws, "answers") == 0


def test_form_of_a_replaced_draw_is_refused(run: Callable[..., Result], ws: Workspace,
                                           tmp_path: Path) -> None:
    old = tmp_path / "old-form.xlsx"
    fill_forms.fill_audit(forms(ws)[0], old, random.Random(1))
    with ws.store() as store:
        before = store.draws.allocations(CYCLE)[0].record_id
    result = run("-w", ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE,
                 "--from", "01/09/2026", "--to", "31/10/2026", "--seed", "77", "--redraw")
    assert result.code == 0, result.stderr
    with ws.store() as store:
        assert store.draws.allocations(CYCLE)[0].record_id != before
    refused = ingest(run, ws, old)
    assert refused.code == 1 and "earlier draw" in refused.stdout
    # Nothing stored, not even against the replaced draw (which the store no longer shows).
    assert returns(ws) == [] and rows_of(ws, "returns") == 0


def test_other_spreadsheet_files_in_a_folder_are_refused_not_skipped(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    fill(ws, tmp_path, 0)
    (tmp_path / "returns" / "2026-27-C3-002-audit.ods").write_bytes(b"PK\x03\x04")
    result = ingest(run, ws, tmp_path / "returns", "--json")
    assert result.code == 1
    summary = json.loads(result.stdout)
    assert (summary["summary"]["accepted"], summary["summary"]["refused"]) == (1, 1)
    assert "save it as an Excel workbook" in json.dumps(summary)


def test_a_cycle_with_returns_is_cancelled_only_with_force(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(ws, tmp_path, grade="Requires improvement", when=date.today())
    assert ingest(run, ws, path).code == 0
    refused = run("-w", ws.root, "cycle", "cancel", CYCLE, "--reason", "Wrong window")
    assert refused.code == 1 and "already has returned forms" in refused.stderr
    assert "--force" in refused.stderr
    assert returns(ws) != []
    assert run("-w", ws.root, "cycle", "cancel", CYCLE, "--reason", "Wrong window",
               "--force").code == 0
    assert returns(ws) == []  # out of every figure
    assert json.loads(run("-w", ws.root, "ri", "--json").stdout) == []
    assert rows_of(ws, "returns") == 1  # but kept in the record
