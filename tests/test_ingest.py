"""`qaudit ingest`: every refusal stores nothing; returns are never lost or double-counted."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from conftest import EXAMPLES, Result, qaudit_ok, small_workspace
from qaudit.workspace import Workspace, open_workspace

sys.path.insert(0, str(EXAMPLES))
import fill_forms

CYCLE = "2026-27 C3"


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
    shutil.copytree(issued, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def forms(ws: Workspace, kind: str = "audit-forms") -> list[Path]:
    return sorted((ws.cycle_dir(CYCLE) / kind).glob("*.xlsx"))


def returns(ws: Workspace, current_only: bool = True) -> list[tuple[Any, ...]]:
    with sqlite3.connect(ws.db_path) as conn:
        where = " WHERE replaced_at IS NULL" if current_only else ""
        return conn.execute(f"SELECT allocation_id, kind, grade FROM returns{where}").fetchall()


def answer_rows(ws: Workspace) -> int:
    with sqlite3.connect(ws.db_path) as conn:
        return int(conn.execute("SELECT count(*) FROM answers").fetchone()[0])


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
    store = ws.store()
    assert store.returns.answers_for(reference) == meant["answers"]
    assert returns(ws) == [(1, "audit", "good")]


def test_self_reflection_is_stored(run: Callable[..., Result], ws: Workspace,
                                   tmp_path: Path) -> None:
    src = forms(ws, "self-reflection")[0]
    fill_forms.fill_reflection(src, tmp_path / src.name, random.Random(1))
    assert ingest(run, ws, tmp_path / src.name).code == 0
    assert returns(ws) == [(1, "self_reflection", None)]


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
    assert returns(ws) == [] and answer_rows(ws) == 0


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
        ({"question_set_hash": "abc"}, "but version"),
        ({"form_kind": "survey"}, "unknown form kind"),
        ({"cycle": "2025-26 C8"}, "belongs to '2026-27 C3'"),
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
    assert len(returns(ws, current_only=False)) == 1
    assert answer_rows(ws) == 20


def test_changed_resubmission_needs_replace_and_keeps_history(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(ws, tmp_path, grade="Good")
    ingest(run, ws, path)
    changed, _ = fill(ws, tmp_path / "again", grade="Adequate")
    refused = ingest(run, ws, changed)
    assert refused.code == 1 and "--replace" in refused.stdout
    assert returns(ws) == [(1, "audit", "good")]
    assert ingest(run, ws, changed, "--replace").code == 0
    assert returns(ws) == [(1, "audit", "adequate")]
    assert len(returns(ws, current_only=False)) == 2


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
    with sqlite3.connect(ws.db_path) as conn:
        conn.execute("UPDATE cycles SET due_date = '2020-01-01'")
    path, _ = fill(ws, tmp_path)
    outcome = json.loads(ingest(run, ws, path, "--json").stdout)["files"][0]
    assert any("after the due date 01/01/2020" in w for w in outcome["warnings"])


def test_row_inserted_above_the_questions_still_ingests(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, meant = fill(ws, tmp_path, insert_row=True)
    assert ingest(run, ws, path).code == 0
    reference = path.name.removesuffix("-audit.xlsx")
    assert ws.store().returns.answers_for(reference) == meant["answers"]


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
    assert run("-w", ws.root, "ri", "close", reference).code == 0
    assert json.loads(run("-w", ws.root, "ri", "--json").stdout)[0]["status"] == "closed"


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
    shutil.copytree(issued, tmp / "ws")
    ws = open_workspace(tmp / "ws")
    chosen = data.draw(st.lists(st.integers(0, 19), min_size=1, max_size=4, unique=True))
    meant: dict[str, dict[str, tuple[str, str]]] = {}
    paths = []
    for index in chosen:
        src = forms(ws)[index]
        names = [n for n in load_workbook(src).defined_names if n.startswith("ans_")]
        answers = {n: data.draw(st.sampled_from(["Yes", "yes ", " Y", "No", "n", "N/A", "na",
                                                 "n/a", "NO"])) for n in names}
        typeable = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
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
    from qaudit.jobs.ingest import ingest_files

    order = data.draw(st.permutations(paths))
    store = ws.store()
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
    assert ws.store().returns.answers_for(reference) == meant["answers"]
    # The same content from the copy saved by openpyxl is then unchanged, not a second return.
    assert json.loads(ingest(run, ws, path, "--json").stdout)["summary"]["unchanged"] == 1
    assert len(returns(ws, current_only=False)) == 1


@pytest.fixture
def many_returns(ws: Workspace, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "many"
    for index, src in enumerate(forms(ws)):
        fill_forms.fill_audit(src, folder / src.name, random.Random(index))
    yield folder


def test_process_killed_mid_ingest_leaves_whole_returns_only(
    ws: Workspace, many_returns: Path
) -> None:
    cmd = [sys.executable, "-m", "qaudit", "-w", str(ws.root), "ingest", str(many_returns)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill it (SIGKILL: no clean-up runs) as soon as some returns are stored.
    stored = 0
    while proc.poll() is None and stored < 3:
        time.sleep(0.01)
        with contextlib.suppress(sqlite3.OperationalError), sqlite3.connect(ws.db_path) as c:
            stored = c.execute("SELECT count(*) FROM returns").fetchone()[0]
    proc.kill()
    proc.wait()
    assert 3 <= stored < 20, "the ingest finished before it could be killed"
    with sqlite3.connect(ws.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        per_return = conn.execute(
            "SELECT r.id, count(n.question_id) FROM returns r LEFT JOIN answers n"
            " ON n.return_id = r.id GROUP BY r.id").fetchall()
    assert all(count == 20 for _, count in per_return)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout
    assert len(returns(ws)) == 20


def test_form_of_a_replaced_draw_is_refused(run: Callable[..., Result], ws: Workspace,
                                           tmp_path: Path) -> None:
    old = tmp_path / "old-form.xlsx"
    fill_forms.fill_audit(forms(ws)[0], old, random.Random(1))
    before = ws.store().draws.allocations(CYCLE)[0].record_id
    result = run("-w", ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE,
                 "--from", "01/09/2026", "--to", "31/10/2026", "--seed", "77", "--redraw")
    assert result.code == 0, result.stderr
    assert ws.store().draws.allocations(CYCLE)[0].record_id != before
    refused = ingest(run, ws, old)
    assert refused.code == 1 and "earlier draw" in refused.stdout
    assert returns(ws) == []


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
