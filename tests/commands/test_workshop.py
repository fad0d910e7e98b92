"""`qaudit workshop`: audit-the-auditor workshops end to end, and the quarterly rule in
`qaudit plan show`.

The framework: *audit the auditor: audit workshops to embed the methodology ... at least
quarterly*. The agreement formulas themselves are tested against reference
implementations in tests/core/test_agreement.py; here, what the workshop's lead sees.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import fill_forms
import fill_workshop
import krippendorff
import numpy as np
import pytest
from openpyxl import Workbook, load_workbook
from statsmodels.stats.inter_rater import fleiss_kappa

from conftest import EXAMPLES, Result, copy_workspace, qaudit_ok, raw_database, small_workspace
from qaudit.values import HIDDEN_IN_TEXT
from qaudit.workspace import Workspace, open_workspace

CYCLE = "2026-27 C3"
CYCLE_START = date(2026, 9, 1)
NAME = "Q2 2026-27"
GRADES = fill_forms.GRADES
#: The workshop was held today: after its cases' cycle began, and never more than a year
#: back, whenever the tests run.
HELD = date.today()


@pytest.fixture(scope="module")
def returned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with 20 audits drawn and all back, every grade among them; the
    strengths of each name the practitioner and the person, as careless auditors do."""
    root = tmp_path_factory.mktemp("returned") / "ws"
    small_workspace(root, 1)
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due",
              (date.today() + timedelta(days=10)).strftime("%d/%m/%Y"))
    ws = open_workspace(root)
    with ws.store() as store:
        allocations = {a.reference: a for a in store.draws.allocations(CYCLE)}
    rng = random.Random(5)
    returns = root.parent / "returns"
    for i, form in enumerate(sorted((ws.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx"))):
        a = allocations[form.name.removesuffix("-audit.xlsx")]
        first_comment = min(n for n in load_workbook(form, read_only=False).defined_names
                            if n.startswith("cmt_"))
        hidden_name = f"{a.worker_name[:2]}\u200b{a.worker_name[2:]}"
        fill_forms.fill_audit(form, returns / form.name, rng, grade=GRADES[i % 4], overrides={
            "strengths": f"{a.worker_name} listened well to {a.person_id} at home.",
            "learning": f"Talk to {hidden_name}: \u202eSPOOFED\u202c the plan\u2066.\u2069",
            first_comment: "Evidence\u200b on file\ufeff, \u200fseen\u200e.",
            "rationale": f"SECRET-RATIONALE graded {GRADES[i % 4]}"})
    qaudit_ok(root, "ingest", returns)
    return root


@pytest.fixture(scope="module")
def made(returned: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("made") / "ws"
    copy_workspace(returned, root)
    qaudit_ok(root, "workshop", "make", NAME, "--cases", "6", "--participants", "4",
              "--held", HELD.strftime("%d/%m/%Y"), "--seed", "5")
    return root


@pytest.fixture
def ws(made: Path, tmp_path: Path) -> Workspace:
    copy_workspace(made, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


@pytest.fixture
def fresh(returned: Path, tmp_path: Path) -> Workspace:
    copy_workspace(returned, tmp_path / "fresh")
    return open_workspace(tmp_path / "fresh")


def folder(ws: Workspace) -> Path:
    return ws.root / "workshops" / "Q2-2026-27"


def grading(ws: Workspace, n: int) -> Path:
    return folder(ws) / f"Q2-2026-27-grading-participant-{n:02d}.xlsx"


def fill(ws: Workspace, n: int, grades: dict[int, str], out: Path) -> Path:
    dst = out / f"p{n}.xlsx"
    fill_workshop.fill_grading(grading(ws, n), dst, random.Random(n), {}, grades=grades)
    return dst


#: Four participants' grades of the six cases (positions 1..6): the table the reference
#: implementations are given too.
TABLE = {
    1: ["Good", "Adequate", "Good", "Requires improvement", "Outstanding", "Good"],
    2: ["Good", "Adequate", "Adequate", "Requires improvement", "Good", "Good"],
    3: ["Outstanding", "Good", "Good", "Adequate", "Outstanding", "Good"],
    4: ["Good", "Adequate", "Good", "Requires improvement", "Good", "Adequate"],
}


def fill_all(ws: Workspace, out: Path) -> list[Path]:
    return [fill(ws, n, dict(enumerate(grades, start=1)), out) for n, grades in TABLE.items()]


def workshop(run: Callable[..., Result], ws: Workspace, *args: str | Path) -> Result:
    return run("-w", ws.root, "workshop", *args)


# --- make ---------------------------------------------------------------------------------


def test_make_writes_the_pack_and_a_grading_workbook_per_participant(ws: Workspace) -> None:
    names = sorted(p.name for p in folder(ws).glob("*.xlsx"))
    assert names == ["Q2-2026-27-cases.xlsx", *(grading(ws, n).name for n in range(1, 5))]
    book = load_workbook(grading(ws, 1))
    assert book.sheetnames == ["Grades", "_qaudit"]
    assert book["_qaudit"].sheet_state == "veryHidden"
    assert {f"wsh_{n}_grade" for n in range(1, 7)} <= set(book.defined_names)
    pack = load_workbook(folder(ws) / "Q2-2026-27-cases.xlsx")
    assert pack.sheetnames == ["Contents", *(f"Case {c}" for c in "ABCDEF")]


def test_the_pack_names_nobody_and_hides_the_grade(ws: Workspace) -> None:
    pack = load_workbook(folder(ws) / "Q2-2026-27-cases.xlsx")
    text = " ".join(str(c.value) for sheet in pack.worksheets for row in sheet.iter_rows()
                    for c in row if c.value is not None)
    with ws.store() as store:
        allocations = store.draws.allocations(CYCLE)
        auditors = {r.auditor for r in store.moderation.returned_audits(CYCLE)}
    assert "listened well to (removed) at home" in text  # the evidence is there, scrubbed
    for a in allocations:
        assert a.person_id not in text
        assert a.worker_name not in text
        assert a.reference not in text
        assert a.worker_id not in text
    for auditor in auditors:
        assert auditor not in text
    assert "SECRET-RATIONALE" not in text  # the rationale argues for the grade


def test_the_pack_shows_no_hidden_or_reordering_characters(ws: Workspace) -> None:
    """Comments carried a right-to-left override, isolates, zero-width spaces and a byte
    order mark, and one split a practitioner's name with a zero-width space to slip past
    the scrub: the pack reads as plain text, and the name is still removed."""
    pack = load_workbook(folder(ws) / "Q2-2026-27-cases.xlsx")
    text = " ".join(str(c.value) for sheet in pack.worksheets for row in sheet.iter_rows()
                    for c in row if c.value is not None)
    assert HIDDEN_IN_TEXT.search(text) is None
    assert "Talk to (removed): SPOOFED the plan." in text
    assert "Evidence on file, seen." in text


def test_make_is_reproducible_from_its_seed(run: Callable[..., Result], fresh: Workspace,
                                            ws: Workspace) -> None:
    result = workshop(run, fresh, "make", NAME, "--cases", "6", "--participants", "4",
                      "--held", HELD.strftime("%d/%m/%Y"), "--seed", "5", "--json")
    assert result.code == 0, result.stderr
    again = json.loads(result.stdout)
    first = json.loads(workshop(run, ws, "list", "--json").stdout)
    assert first[0]["cases"] == 6
    with ws.store() as store:
        cases = [c.reference for c in store.workshops.require(NAME).cases]
    assert [c["reference"] for c in again["cases"]] == cases
    assert again["types_covered"] == 4 and again["grades_covered"] == 4


@pytest.mark.parametrize(("args", "says"), [
    (("--cases", "30", "--participants", "4"), "holds 20 returned audit(s), fewer than"),
    (("--cases", "1", "--participants", "4"), "2 to 40 cases"),
    (("--cases", "4", "--participants", "1"), "2 to 60 participants"),
    (("--cases", "4", "--participants", "Ann Lee, ann lee"), "twice"),
    (("--cases", "4", "--participants", "=HYPERLINK(\"x\"), Bo"), "not a name"),
    (("--cases", "4", "--participants", "4", "--from-cycle", "2020 C1"), "no cycle"),
    (("--cases", "4", "--participants", "4", "--held", "31/02/2026"), "not a date"),
    (("--cases", "4", "--participants", "4", "--held", "01/01/1990"), "more than a year ago"),
    (("--cases", "4", "--participants", "4", "--held",
      (date.today() - timedelta(days=400)).strftime("%d/%m/%Y")), "more than a year ago"),
    (("--cases", "4", "--participants", "4", "--held",
      (date.today() + timedelta(days=1)).strftime("%d/%m/%Y")), "is in the future"),
])
def test_make_refuses_with_one_clear_error_and_stores_nothing(
        run: Callable[..., Result], fresh: Workspace, args: tuple[str, ...],
        says: str) -> None:
    result = workshop(run, fresh, "make", NAME, *args)
    assert result.code == 1
    assert result.stderr.startswith("Error: ") and says in " ".join(result.stderr.split())
    assert not (fresh.root / "workshops").exists()
    assert "No workshop yet" in workshop(run, fresh, "list").stdout


def test_a_workshop_name_is_used_once(run: Callable[..., Result], ws: Workspace) -> None:
    result = workshop(run, ws, "make", "q2 2026-27", "--cases", "3", "--participants", "3")
    assert result.code == 1 and "already made" in result.stderr


def snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("other", ["Q2/2026-27", "q2.2026.27", "Q2 2026 27"])
def test_a_name_sharing_a_workshops_folder_is_refused_and_its_files_stay(
        run: Callable[..., Result], ws: Workspace, other: str) -> None:
    before = snapshot(ws.root / "workshops")
    result = workshop(run, ws, "make", other, "--cases", "3", "--participants", "3")
    assert result.code == 1
    said = " ".join(result.stderr.split())
    assert said.startswith("Error: a workshop named 'Q2 2026-27' was already made")
    assert "would share its folder name" in said
    assert snapshot(ws.root / "workshops") == before  # nothing moved aside or rewritten
    assert [p.name for p in (ws.root / "workshops").iterdir()] == ["Q2-2026-27"]
    assert len(json.loads(workshop(run, ws, "list", "--json").stdout)) == 1


def test_a_workshop_is_found_by_any_spelling_of_its_folder_name(
        run: Callable[..., Result], ws: Workspace) -> None:
    result = workshop(run, ws, "stats", "q2-2026-27")
    assert "no grades of the workshop 'Q2 2026-27'" in " ".join(result.stderr.split())


def test_when_the_folder_cannot_be_moved_into_place_no_workshop_is_stored(
        run: Callable[..., Result], fresh: Workspace,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = Path.rename

    def disk_full(self: Path, target: str | Path) -> Path:
        if self.name.startswith(".qaudit-"):  # the scratch folder, moving into place
            raise OSError(28, "No space left on device", str(target))
        return real(self, target)

    monkeypatch.setattr(Path, "rename", disk_full)
    result = workshop(run, fresh, "make", NAME, "--cases", "3", "--participants", "3")
    monkeypatch.undo()
    assert result.code == 1 and "No space left on device" in result.stderr
    assert "No workshop yet" in workshop(run, fresh, "list").stdout
    assert list((fresh.root / "workshops").iterdir()) == []  # no folder, no scratch left
    with fresh.store() as store:
        assert store.workshops.held_on_dates() == []  # plan show counts nothing as held
    made = workshop(run, fresh, "make", NAME, "--cases", "3", "--participants", "3")
    assert made.code == 0, made.stderr  # not refused as "already made"
    assert len(list(folder(fresh).glob("*.xlsx"))) == 4


def test_a_workshop_cannot_be_held_before_its_cases_cycle_began(
        run: Callable[..., Result], fresh: Workspace) -> None:
    held = CYCLE_START - timedelta(days=1)
    if date.today() - held > timedelta(days=365):
        pytest.skip("the day before the cycle began is now over a year back")
    result = workshop(run, fresh, "make", NAME, "--cases", "3", "--participants", "3",
                      "--held", held.strftime("%d/%m/%Y"))
    assert result.code == 1
    assert (f"before the cycle '{CYCLE}' began ({CYCLE_START:%d/%m/%Y})"
            in " ".join(result.stderr.split()))
    assert "No workshop yet" in workshop(run, fresh, "list").stdout


# --- ingest and stats ---------------------------------------------------------------------


def test_grades_in_and_the_figures_equal_the_reference_implementations(
        run: Callable[..., Result], ws: Workspace, tmp_path: Path) -> None:
    files = fill_all(ws, tmp_path / "back")
    assert workshop(run, ws, "ingest", tmp_path / "back").code == 0
    data = json.loads(workshop(run, ws, "stats", NAME, "--json").stdout)
    assert (data["cases"], data["participants"], data["returned"], data["grades"]) == (
        6, 4, 4, 24)
    ranks = np.array([[GRADES.index(TABLE[p][c]) for p in TABLE] for c in range(6)])
    counts = np.array([[list(row).count(k) for k in range(4)] for row in ranks])
    assert data["fleiss_kappa"]["value"] == pytest.approx(fleiss_kappa(counts), abs=1e-9)
    alpha = krippendorff.alpha(reliability_data=ranks.T, level_of_measurement="ordinal",
                               value_domain=[0, 1, 2, 3])
    assert data["krippendorff_alpha_ordinal"]["value"] == pytest.approx(alpha, abs=1e-9)
    low, high = data["gwet_ac2_ordinal"]["ci95"]
    assert low <= data["gwet_ac2_ordinal"]["value"] <= high
    assert data["interval"]["seed"] == 5
    assert len(files) == 4
    # the case the four graded most differently comes first
    spread = [c["disagreement"] for c in data["cases_by_disagreement"]]
    assert spread == sorted(spread, reverse=True)
    assert "name" not in data["participants_against_grade_of_record"][0]
    assert "reference" not in data["cases_by_disagreement"][0]


def test_each_participant_against_the_grade_of_record(run: Callable[..., Result],
                                                      ws: Workspace, tmp_path: Path) -> None:
    with ws.store() as store:
        record = [c.grade_of_record for c in store.workshops.require(NAME).cases]
    labels = [g for key in record for g in GRADES
              if g.lower().replace(" ", "_") == key]
    fill(ws, 1, dict(enumerate(labels, start=1)), tmp_path)  # agrees with every grade
    assert workshop(run, ws, "ingest", tmp_path / "p1.xlsx").code == 0
    data = json.loads(workshop(run, ws, "stats", NAME, "--json").stdout)
    (p1,) = data["participants_against_grade_of_record"]
    assert (p1["participant"], p1["graded"], p1["exact"], p1["mean_distance"]) == (
        "Participant 1", 6, 1.0, 0.0)
    shown = workshop(run, ws, "stats", NAME)
    assert "Participant 1" in shown.stdout and "100%" in shown.stdout


def test_ingest_is_idempotent_and_other_grades_need_replace(
        run: Callable[..., Result], ws: Workspace, tmp_path: Path) -> None:
    fill_all(ws, tmp_path / "back")
    assert workshop(run, ws, "ingest", tmp_path / "back").code == 0
    again = json.loads(workshop(run, ws, "ingest", tmp_path / "back", "--json").stdout)
    assert {r["status"] for r in again} == {"unchanged"}
    before = participant_grades(ws, "Participant 2")
    # Participant 2 regrades every case Good: cases B, C and D differ from their grades
    regraded = fill(ws, 2, dict.fromkeys(range(1, 7), "Good"), tmp_path / "later")
    refused = workshop(run, ws, "ingest", regraded, "--json")
    assert refused.code == 1
    (result,) = json.loads(refused.stdout)
    assert result["status"] == "refused"
    assert [(f["code"], f["cell"], f["value"]) for f in result["findings"]] == [
        ("different-grades", "Case B", "Good"), ("different-grades", "Case C", "Good"),
        ("different-grades", "Case D", "Good")]
    assert "(stored: Adequate); to replace their grades" in result["findings"][0]["message"]
    shown = workshop(run, ws, "ingest", regraded)
    assert "--replace" in " ".join(shown.stdout.split())
    assert participant_grades(ws, "Participant 2") == before  # nothing changed
    result = json.loads(workshop(run, ws, "ingest", regraded, "--replace", "--json").stdout)
    assert result[0]["status"] == "replaced"
    data = json.loads(workshop(run, ws, "stats", NAME, "--json").stdout)
    assert data["grades"] == 24  # replaced, never counted twice
    with raw_database(ws) as conn:
        assert conn.execute("SELECT count(*) FROM workshop_grades WHERE replaced_at IS NOT"
                            " NULL").fetchone()[0] == 6  # the earlier grades kept as history
    listed = json.loads(workshop(run, ws, "list", "--json").stdout)
    assert listed == [{"workshop": NAME, "held_on": HELD.isoformat(), "from_cycle": None,
                       "cases": 6, "participants": 4, "returned": 4}]


def participant_grades(ws: Workspace, label: str) -> list[str]:
    with ws.store() as store:
        found = store.workshops.require(NAME)
        grades = {g.case_id: g.grade for g in store.workshops.grades(found.id)
                  if g.participant == label}
        return [grades.get(c.id, "") for c in found.cases]


def test_ingesting_the_original_folder_again_never_undoes_a_correction(
        run: Callable[..., Result], ws: Workspace, tmp_path: Path) -> None:
    fill_all(ws, tmp_path / "back")
    assert workshop(run, ws, "ingest", tmp_path / "back").code == 0
    corrected = fill(ws, 2, dict.fromkeys(range(1, 7), "Good"), tmp_path / "corrected")
    assert workshop(run, ws, "ingest", corrected, "--replace").code == 0
    assert participant_grades(ws, "Participant 2") == ["good"] * 6
    result = workshop(run, ws, "ingest", tmp_path / "back", "--json")
    assert result.code == 0
    statuses = {Path(r["file"]).name: r["status"] for r in json.loads(result.stdout)}
    assert statuses == {"p1.xlsx": "unchanged", "p2.xlsx": "superseded",
                        "p3.xlsx": "unchanged", "p4.xlsx": "unchanged"}
    assert participant_grades(ws, "Participant 2") == ["good"] * 6
    said = " ".join(workshop(run, ws, "ingest", tmp_path / "back").stderr.split())
    assert "p2.xlsx: superseded (an older copy of Participant 2's grades" in said
    # --replace does not bring an older copy back either; --restore does, on purpose
    result = workshop(run, ws, "ingest", tmp_path / "back" / "p2.xlsx", "--replace", "--json")
    assert result.code == 1
    assert json.loads(result.stdout)[0]["findings"][0]["code"] == "superseded-copy"
    assert participant_grades(ws, "Participant 2") == ["good"] * 6
    result = workshop(run, ws, "ingest", tmp_path / "back" / "p2.xlsx", "--restore", "--json")
    assert json.loads(result.stdout)[0]["status"] == "replaced"
    assert participant_grades(ws, "Participant 2") == [
        g.lower().replace(" ", "_") for g in TABLE[2]]


def test_two_workbooks_of_one_participant_in_one_run_are_both_refused(
        run: Callable[..., Result], ws: Workspace, tmp_path: Path) -> None:
    first = fill(ws, 3, dict.fromkeys(range(1, 7), "Good"), tmp_path / "a")
    second = fill(ws, 3, dict.fromkeys(range(1, 7), "Adequate"), tmp_path / "b")
    second = second.rename(second.with_name("p3-second-try.xlsx"))
    other = fill(ws, 1, dict.fromkeys(range(1, 7), "Good"), tmp_path / "a")
    result = workshop(run, ws, "ingest", first, second, other, "--json")
    assert result.code == 1
    outcome = {Path(r["file"]).name: r for r in json.loads(result.stdout)}
    assert outcome["p1.xlsx"]["status"] == "accepted"  # another participant's goes in
    for mine, theirs in (("p3.xlsx", "p3-second-try.xlsx"), ("p3-second-try.xlsx", "p3.xlsx")):
        assert outcome[mine]["status"] == "refused"
        (finding,) = outcome[mine]["findings"]
        assert finding["code"] == "two-workbooks" and finding["value"] == theirs
        assert f"Participant 3 of the workshop '{NAME}' has other grades in {theirs}" in (
            finding["message"])
    assert participant_grades(ws, "Participant 3") == [""] * 6  # nothing of theirs stored


def test_a_case_left_ungraded_counts_as_missing(run: Callable[..., Result], ws: Workspace,
                                                tmp_path: Path) -> None:
    fill(ws, 1, {1: "Good", 2: "Adequate"}, tmp_path)
    result = workshop(run, ws, "ingest", tmp_path / "p1.xlsx")
    assert result.code == 0
    assert "Case C, Case D, Case E, Case F not graded" in " ".join(result.stderr.split())


def test_stats_before_any_grades_say_what_to_do(run: Callable[..., Result],
                                                ws: Workspace) -> None:
    result = workshop(run, ws, "stats", NAME)
    assert result.code == 1 and "workshop ingest" in result.stderr
    result = workshop(run, ws, "stats", "Q9")
    assert result.code == 1 and "no workshop 'Q9'" in result.stderr


# --- the hostile corpus -------------------------------------------------------------------


def edited(src: Path, dst: Path, change: Callable[..., None]) -> Path:
    wb = load_workbook(src)
    change(wb)
    wb.save(dst)
    return dst


def set_cell(wb: Workbook, name: str, value: object, formula: bool = False) -> None:
    ((sheet, ref),) = list(wb.defined_names[name].destinations)
    cell = wb[sheet][ref.replace("$", "")]
    cell.value = value
    if not formula:
        cell.data_type = "s"


def test_hostile_grading_workbooks_are_refused_cleanly(
        run: Callable[..., Result], ws: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    good = fill(ws, 1, dict.fromkeys(range(1, 7), "Good"), tmp_path)
    audit_form = next((ws.cycle_dir(CYCLE) / "audit-forms").glob("*.xlsx"))
    shutil.copy(audit_form, bad / "foreign.xlsx")
    edited(good, bad / "signature.xlsx", lambda wb: setattr(  # another participant's now
        wb["_qaudit"]["B5"], "value", "Participant 3"))
    edited(good, bad / "grade.xlsx", lambda wb: set_cell(wb, "wsh_2_grade", "Excellent"))
    edited(good, bad / "formula.xlsx",
           lambda wb: set_cell(wb, "wsh_3_grade", '=HYPERLINK("http://x","Good")', True))
    edited(good, bad / "control.xlsx",
           lambda wb: set_cell(wb, "wsh_4_note", "x" * 5000))
    (bad / "empty.xlsx").write_bytes(b"")
    (bad / "text.xlsx").write_text("not a workbook")
    result = workshop(run, ws, "ingest", bad, "--json")
    assert result.code == 1
    codes = {Path(r["file"]).name: {f["code"] for f in r["findings"]}
             for r in json.loads(result.stdout)}
    assert codes == {
        "foreign.xlsx": {"not-a-workshop-workbook"},
        "signature.xlsx": {"signature-mismatch"},
        "grade.xlsx": {"not-allowed"},
        "formula.xlsx": {"formula"},
        "control.xlsx": {"too-long"},
        "empty.xlsx": {"empty-file"},
        "text.xlsx": {"not-a-workbook"},
    }
    assert json.loads(workshop(run, ws, "list", "--json").stdout)[0]["returned"] == 0


def test_a_workbook_of_another_workshop_is_refused_when_one_is_named(
        run: Callable[..., Result], ws: Workspace, tmp_path: Path) -> None:
    assert workshop(run, ws, "make", "Q3 2026-27", "--cases", "3", "--participants", "2",
                    "--seed", "1").code == 0
    other = ws.root / "workshops" / "Q3-2026-27" / "Q3-2026-27-grading-participant-01.xlsx"
    filled = tmp_path / "q3.xlsx"
    fill_workshop.fill_grading(other, filled, random.Random(1), {},
                               grades=dict.fromkeys(range(1, 4), "Good"))
    result = workshop(run, ws, "ingest", filled, "--workshop", NAME, "--json")
    assert result.code == 1
    assert json.loads(result.stdout)[0]["findings"][0]["code"] == "another-workshop"
    assert workshop(run, ws, "ingest", filled).code == 0  # it goes to its own workshop


def test_the_same_file_twice_in_one_run_counts_once(run: Callable[..., Result],
                                                    ws: Workspace, tmp_path: Path) -> None:
    good = fill(ws, 1, dict.fromkeys(range(1, 7), "Adequate"), tmp_path)
    copy = tmp_path / "copy" / "p1-again.xlsx"
    copy.parent.mkdir()
    shutil.copy(good, copy)
    result = json.loads(workshop(run, ws, "ingest", good, copy, "--json").stdout)
    assert [r["status"] for r in result] == ["accepted", "unchanged"]
    assert json.loads(workshop(run, ws, "stats", NAME, "--json").stdout)["grades"] == 6


# --- the quarterly rule in the plan -------------------------------------------------------


def test_plan_show_says_which_quarters_held_a_workshop(run: Callable[..., Result],
                                                       fresh: Workspace) -> None:
    start = date.today() - timedelta(days=200)  # Q1 and Q2 are past, Q3 is under way
    held = start + timedelta(days=150)  # in Q2, and after the cases' cycle began
    year = f"{start.year}-{(start.year + 1) % 100:02d}"
    # two cycles only, so the plan leaves the drawn '2026-27 C3' alone
    assert run("-w", fresh.root, "plan", year, "--start", start.strftime("%d/%m/%Y"),
               "--cycles", "2", "--weeks", "6").code == 0
    assert workshop(run, fresh, "make", "Q2 meeting", "--cases", "3", "--participants", "3",
                    "--held", held.strftime("%d/%m/%Y")).code == 0
    result = run("-w", fresh.root, "plan", "show", year)
    assert result.code == 0
    lines = [line.strip() for line in result.stdout.splitlines() if f"{year} Q" in line]
    assert len(lines) == 4
    assert lines[0].endswith("none held: missed")
    assert lines[1].endswith("held: Q2 meeting")
    assert lines[2].endswith("none yet") and lines[3].endswith("none yet")
    warning = " ".join(result.stderr.split())
    assert f"no audit workshop was held in quarter 1 of {year}" in warning
    assert "quarter 2" not in warning
