"""`qaudit export` gains the year: the plan, the kind of each cycle, the deep dives' terms of
reference, the re-audits' links and the workshops' grades, identified and anonymised.

One small year (one case per quadrant x type a cycle), built once: 2026-27 planned; C2
drawn, its audits back, four graded Requires improvement with the corrective action
recorded; C3 drawn; a deep dive on one team (named after it, its filter typed in capitals, its terms
naming people and holding text that looks like a formula); a round of re-audits after C3;
a workshop on C2's audits whose participants are named and whose notes name each other.
Each version of the export is written once and read by every test. All data is synthetic.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import fill_forms
import fill_workshop
import pytest
from openpyxl import load_workbook

from conftest import EXAMPLES, copy_workspace, edit_settings, qaudit_ok, small_workspace
from qaudit.db import AllocationRow
from qaudit.jobs.people import known_identifiers
from qaudit.workspace import open_workspace

EXPORT = EXAMPLES / "case-export.xlsx"
YEAR, C2, C3 = "2026-27", "2026-27 C2", "2026-27 C3"
TEAM = "Haverleigh Adult Community Team"  # of the example export
#: A deep dive named after the team it looks at: the anonymised export scrubs the name.
DEEP_DIVE, HIDDEN_DEEP_DIVE = f"DD1 {TEAM}", "DD1 (removed)"
ROUND = f"{C3} re-audits"
WORKSHOP = "Q3 2026-27"
PARTICIPANTS = ("Ann Lee", "Tom Ashcombe", "Priya Venkatesan")
FORMULA = '=HYPERLINK("http://example.org/x","Open the terms")'
SUPPRESSED = "(suppressed)"
YEAR_SHEETS = ["Planned cycles", "Deep dives", "Workshops", "Workshop cases",
               "Workshop grades"]

Rows = list[dict[str, Any]]


def terms(path: Path) -> Path:
    path.write_text(
        f"title = '{FORMULA}'\n"
        f"purpose = \"The {TEAM} asked, on 14/10/2026, how Mrs Okonjo's voice was heard.\"\n"
        "understand = 'Whether adults are asked what outcomes they want.'\n"
        "method = \"A random sample of the team's work, audited with the deep dive set.\"\n"
        "directed_by = 'PGB, 14/10/2026'\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small year of the module docstring, and both versions of its export beside it."""
    root = tmp_path_factory.mktemp("year") / "ws"
    small_workspace(root, 1)
    with edit_settings(root) as settings:  # C2's practitioners are in cool-down after C3
        settings["sampling"]["worker_cooldown_cycles"] = 3
    ws = open_workspace(root)
    qaudit_ok(root, "plan", YEAR, "--start", "29/06/2026")
    qaudit_ok(root, "allocate", EXPORT, "--cycle", C2, "--seed", "20260921")
    rng = random.Random(3)
    back = root.parent / "c2-back"
    forms = sorted((ws.cycle_dir(C2) / "audit-forms").glob("*-audit.xlsx"))
    for i, form in enumerate(forms):
        fill_forms.fill_audit(form, back / form.name, rng,
                              grade=fill_forms.GRADES[i % 4] if i >= 4 else fill_forms.GRADES[0])
    qaudit_ok(root, "ingest", back)
    for form in forms[:4]:
        qaudit_ok(root, "ri", "record", form.name.removesuffix("-audit.xlsx"), "--step",
                  "corrective-action", "--on", "05/11/2026")
    qaudit_ok(root, "allocate", EXPORT, "--cycle", C3, "--seed", "20261125")
    qaudit_ok(root, "deep-dive", "new", DEEP_DIVE, EXPORT,
              "--terms", terms(root.parent / "terms.toml"),
              "--question-set", "deep_dive_safeguarding_voice",
              "--filter", f"team={TEAM.upper()}", "--n", "3",
              "--from", "10/08/2026", "--to", "01/11/2026", "--seed", "11")
    qaudit_ok(root, "reaudit", "select", EXPORT, "--after", C3, "--min-cycles", "1",
              "--from", "02/11/2026", "--to", "20/11/2026", "--seed", "7")
    qaudit_ok(root, "workshop", "make", WORKSHOP, "--cases", "4", "--participants",
              ", ".join(PARTICIPANTS), "--from-cycle", C2, "--held", "14/10/2026",
              "--seed", "5")
    folder = root / "workshops" / "Q3-2026-27"
    grading = root.parent / "grading"
    for n in range(1, len(PARTICIPANTS) + 1):
        book = folder / f"Q3-2026-27-grading-participant-{n:02d}.xlsx"
        other = PARTICIPANTS[n % len(PARTICIPANTS)]
        fill_workshop.fill_grading(book, grading / book.name, random.Random(n), {},
                                   grades={1: "Good", 2: "Adequate", 3: "Good",
                                           4: "Requires improvement"})
        wb = load_workbook(grading / book.name)
        fill_workshop.put(wb, "wsh_1_note", f"Agreed with {other} after the discussion.")
        wb.save(grading / book.name)
    qaudit_ok(root, "workshop", "ingest", grading)
    qaudit_ok(root, "export", "--out", root.parent / "data.xlsx")
    qaudit_ok(root, "export", "--anonymise", "--out", root.parent / "anonymised.xlsx")
    return root


def sheets(path: Path) -> dict[str, Rows]:
    out: dict[str, Rows] = {}
    for sheet in load_workbook(path).worksheets:
        header, *rows = list(sheet.iter_rows(values_only=True))
        named = [h for h in header if h is not None]  # the marking sits right of the table
        out[sheet.title] = [dict(zip(named, row, strict=False)) for row in rows]
    return out


@pytest.fixture(scope="module")
def plain(year: Path) -> dict[str, Rows]:
    return sheets(year.parent / "data.xlsx")


@pytest.fixture(scope="module")
def anonymised(year: Path) -> dict[str, Rows]:
    return sheets(year.parent / "anonymised.xlsx")


@pytest.fixture(scope="module")
def allocations(year: Path) -> dict[str, list[AllocationRow]]:
    with open_workspace(year).store() as store:
        return {c: store.draws.allocations(c) for c in (C2, C3, DEEP_DIVE, ROUND)}


def headers(path: Path, sheet: str) -> list[str]:
    row = next(load_workbook(path)[sheet].iter_rows(max_row=1, values_only=True))
    return [str(h) for h in row if h is not None and not str(h).startswith("OFFICIAL")]


def test_the_year_sheets_follow_the_cycles_sheets_in_both_versions(year: Path) -> None:
    cycles = ["Allocations", "Audits", "Answers", "Self-reflections", "Moderation",
              "RI follow-up", "RI steps", "Escalations"]
    assert load_workbook(year.parent / "data.xlsx").sheetnames == [
        *cycles, *YEAR_SHEETS, "Data dictionary"]
    assert load_workbook(year.parent / "anonymised.xlsx").sheetnames == [
        *cycles, *YEAR_SHEETS, "About this export", "Data dictionary"]
    assert headers(year.parent / "data.xlsx", "Planned cycles") == [
        "Year", "Position", "Cycle", "Window from", "Window to", "Due", "Weeks"]
    assert headers(year.parent / "data.xlsx", "Deep dives") == [
        "Cycle", "Window from", "Window to", "Title", "Purpose", "Seeks to understand",
        "Method", "Directed by", "Question set", "Team filter", "Audit type filter",
        "Quadrant filter", "Question filter", "Size", "Blocks later draws", "Terms SHA-256"]
    assert headers(year.parent / "data.xlsx", "Workshops") == [
        "Workshop", "Held on", "From cycle", "Cases", "Participants", "Participants returned"]
    assert headers(year.parent / "data.xlsx", "Workshop cases") == [
        "Workshop", "Case", "Reference", "Cycle", "Audit type", "Grade of record"]
    assert headers(year.parent / "data.xlsx", "Workshop grades") == [
        "Workshop", "Participant", "Case", "Grade", "Note", "Received"]


def test_the_plan_lists_the_years_cycles_with_months_when_anonymised(
        plain: dict[str, Rows], anonymised: dict[str, Rows]) -> None:
    plan = plain["Planned cycles"]
    assert [r["Cycle"] for r in plan] == [f"{YEAR} C{n}" for n in range(1, 9)]
    assert [r["Position"] for r in plan] == list(range(1, 9))
    assert {r["Year"] for r in plan} == {YEAR} and {r["Weeks"] for r in plan} == {6}
    c2 = plan[1]
    assert (c2["Window from"], c2["Window to"], c2["Due"]) == (
        datetime(2026, 8, 10), datetime(2026, 9, 20), datetime(2026, 10, 18))
    hidden = anonymised["Planned cycles"][1]
    assert (hidden["Cycle"], hidden["Window from"], hidden["Window to"], hidden["Due"]) == (
        C2, "2026-08", "2026-09", "2026-10")


def test_every_allocation_says_its_cycles_kind(plain: dict[str, Rows],
                                               anonymised: dict[str, Rows]) -> None:
    for version, deep_dive in ((plain, DEEP_DIVE), (anonymised, HIDDEN_DEEP_DIVE)):
        kinds = {(r["Cycle"], r["Kind"]) for r in version["Allocations"]}
        assert kinds == {(C2, "Regular cycle"), (C3, "Regular cycle"),
                         (deep_dive, "Deep dive"), (ROUND, "Re-audit round")}


def test_a_reaudit_joins_the_audit_it_follows_up_in_both_versions(
        plain: dict[str, Rows], anonymised: dict[str, Rows],
        allocations: dict[str, list[AllocationRow]]) -> None:
    followed = {a.follows_up for a in allocations[ROUND]}
    assert followed and "" not in followed
    for version in (plain, anonymised):
        rows = version["Allocations"]
        by_reference = {r["Reference"]: r for r in rows}
        links = [r for r in rows if r["Follows up"]]
        assert {r["Cycle"] for r in links} == {ROUND}
        assert len(links) == len(allocations[ROUND])
        for reaudit in links:
            first = by_reference[reaudit["Follows up"]]  # the link joins a row
            assert first["Cycle"] == C2
            assert first["Worker"] == reaudit["Worker"]  # the same practitioner again
        graded = {r["Reference"]: r["Grade of record"] for r in version["Audits"]}
        assert {graded[r["Follows up"]] for r in links} == {"Requires improvement"}
    assert {r["Follows up"] for r in plain["Allocations"]} - {None} == followed
    # why each re-audit was drawn inside the cool-down: the followed-up reference, which
    # the anonymised version scrubs (the link is the "Follows up" column)
    because = {r["Reference"]: r["Drawn because"] for r in plain["Allocations"]
               if r["Cycle"] == ROUND}
    assert because == {a.reference: f"cool-down waived: re-audit of {a.follows_up}"
                       for a in allocations[ROUND]}
    assert {r["Drawn because"] for r in anonymised["Allocations"] if r["Cycle"] == ROUND} == {
        "cool-down waived: re-audit of (removed)"}


def test_the_deep_dive_sheet_holds_its_terms_and_filters(
        year: Path, plain: dict[str, Rows], anonymised: dict[str, Rows],
        allocations: dict[str, list[AllocationRow]]) -> None:
    (shown,) = plain["Deep dives"]
    assert shown["Cycle"] == DEEP_DIVE and shown["Title"] == FORMULA
    assert shown["Team filter"] == TEAM  # as the allocations spell it, not as typed
    assert {a.team for a in allocations[DEEP_DIVE]} == {TEAM}
    assert (shown["Question set"], shown["Size"], shown["Blocks later draws"]) == (
        "deep_dive_safeguarding_voice", 3, "Yes")
    assert shown["Audit type filter"] is None and shown["Question filter"] is None
    assert shown["Directed by"] == "PGB, 14/10/2026"
    assert re.fullmatch(r"[0-9a-f]{64}", str(shown["Terms SHA-256"]))
    assert (shown["Window from"], shown["Window to"]) == (
        datetime(2026, 8, 10), datetime(2026, 11, 1))

    (hidden,) = anonymised["Deep dives"]
    assert hidden["Cycle"] == HIDDEN_DEEP_DIVE  # the team it is named after is scrubbed
    pseudonyms = {r["Team"] for r in anonymised["Allocations"]
                  if r["Cycle"] == HIDDEN_DEEP_DIVE}
    assert pseudonyms == {hidden["Team filter"]}  # joins the Team column, names no team
    assert str(hidden["Team filter"]).startswith("TEAM-")
    assert hidden["Purpose"] == "The (removed) asked, on 2026-10, how (removed)'s voice was heard."
    assert hidden["Directed by"] == "PGB, 2026-10"
    assert (hidden["Window from"], hidden["Window to"]) == ("2026-08", "2026-11")
    # the terms file's digest would confirm a guess at a scrubbed name: left out, and the
    # data dictionary says so in the identified version and lists it only there
    assert "Terms SHA-256" not in hidden and shown["Terms SHA-256"] not in str(anonymised)
    assert [(r["Sheet"], r["When anonymised"]) for r in plain["Data dictionary"]
            if r["Column"] == "Terms SHA-256"] == [("Deep dives", "Left out")]
    assert "Terms SHA-256" not in {r["Column"] for r in anonymised["Data dictionary"]}
    # text that looks like a formula stays text in both versions
    for path in (year.parent / "data.xlsx", year.parent / "anonymised.xlsx"):
        cell = load_workbook(path)["Deep dives"]["D2"]
        assert cell.value == FORMULA and cell.data_type == "s"


def test_workshop_cases_join_the_audits_and_grades_go_by_participant_label(
        plain: dict[str, Rows], anonymised: dict[str, Rows]) -> None:
    for version in (plain, anonymised):
        (workshop,) = version["Workshops"]
        assert (workshop["Cases"], workshop["Participants"],
                workshop["Participants returned"]) == (4, 3, 3)
        assert workshop["From cycle"] == C2
        cases = version["Workshop cases"]
        assert [c["Case"] for c in cases] == ["Case A", "Case B", "Case C", "Case D"]
        allocated = {r["Reference"]: r for r in version["Allocations"]}
        graded = {r["Reference"]: r["Grade of record"] for r in version["Audits"]}
        for case in cases:
            assert allocated[case["Reference"]]["Cycle"] == case["Cycle"] == C2
            assert allocated[case["Reference"]]["Audit type"] == case["Audit type"]
            assert graded[case["Reference"]] == case["Grade of record"]
        grades = version["Workshop grades"]
        assert Counter(g["Participant"] for g in grades) == {
            f"Participant {n}": 4 for n in (1, 2, 3)}
        assert Counter(g["Grade"] for g in grades) == {
            "Good": 6, "Adequate": 3, "Requires improvement": 3}
    assert plain["Workshops"][0]["Held on"] == datetime(2026, 10, 14)
    assert anonymised["Workshops"][0]["Held on"] == "2026-10"
    notes = {g["Note"] for g in anonymised["Workshop grades"]} - {None}
    assert notes == {"Agreed with (removed) after the discussion."}


def everything(path: Path, but: tuple[str, ...] = ()) -> list[Any]:
    """Every value of every sheet, headers too (but the columns named in ``but``)."""
    values = []
    for sheet in load_workbook(path).worksheets:
        header, *rows = list(sheet.iter_rows())
        skip = {i for i, c in enumerate(header) if c.value in but}
        values += [c.value for c in header if c.value is not None]
        values += [c.value for row in rows for i, c in enumerate(row)
                   if c.value is not None and i not in skip]
    return values


def test_no_participant_name_in_either_version(year: Path) -> None:
    """Names are never exported: only a note a participant wrote holds one, as written in
    the identified version and scrubbed in the anonymised one."""
    plain = "\n".join(map(str, everything(year.parent / "data.xlsx", but=("Note",))))
    assert "Participant 1" in plain and not [n for n in PARTICIPANTS if n in plain]
    anonymised = "\n".join(map(str, everything(year.parent / "anonymised.xlsx")))
    assert not [n for part in PARTICIPANTS for n in part.split()
                if re.search(rf"\b{n}\b", anonymised)]


def test_no_name_id_or_team_anywhere_in_the_anonymised_workbook(
        year: Path, allocations: dict[str, list[AllocationRow]]) -> None:
    cells = everything(year.parent / "anonymised.xlsx")
    assert all(not isinstance(v, str) or not v.startswith("=") or v == FORMULA for v in cells)
    text = "\n".join(map(str, cells))
    with open_workspace(year).store() as store:
        secrets = known_identifiers(store)
    assert set(PARTICIPANTS) <= set(secrets)
    for secret in secrets:
        assert not re.search(rf"(?<!\w){re.escape(secret)}(?!\w)", text, re.I), secret
    for rows in allocations.values():
        for a in rows:
            for value in (a.person_id, a.worker_id, a.record_id, a.reference, a.team,
                          a.worker_name):
                assert value not in text, value


def test_k_anonymity_holds_with_the_year_in_the_export(anonymised: dict[str, Rows]) -> None:
    rows = anonymised["Allocations"]
    groups = Counter((r["Cycle"], r["Quadrant"], r["Audit type"], r["Drawn for"],
                      r["Work completed"]) for r in rows)
    assert all(n >= 5 for g, n in groups.items() if g[-1] != SUPPRESSED), groups
    # the kind goes with the cycle, so it splits no group
    assert len({(r["Cycle"], r["Kind"]) for r in rows}) == len({r["Cycle"] for r in rows})
    # no new sheet shows what a case export shows about a case
    for name in YEAR_SHEETS:
        assert not {"Quadrant", "Work completed", "Drawn for", "Person ID", "Record ID",
                    "Worker"} & set(anonymised[name][0]), name
    about = {r["Topic"]: str(r["What was done"]) for r in anonymised["About this export"]}
    assert "names of workshop participants" in about["Not exported"]
    assert "Follows up" in about["Identifiers"] and "Team filter" in about["Identifiers"]


def test_a_cancelled_cycles_returns_leave_every_sheet(year: Path, tmp_path: Path) -> None:
    """Cancelling takes a cycle out of every figure: its returns, answers, RI follow-up
    and workshop references leave the export too, so a redraw reusing its references can
    never join them to other people."""
    root = tmp_path / "ws"
    copy_workspace(year, root)
    qaudit_ok(root, "cycle", "cancel", ROUND, "--reason", "test")
    qaudit_ok(root, "cycle", "cancel", C2, "--reason", "test", "--force")
    qaudit_ok(root, "export", "--out", tmp_path / "after.xlsx")
    got = sheets(tmp_path / "after.xlsx")
    current = {r["Reference"] for r in got["Allocations"]}
    assert not any(r["Cycle"] == C2 for r in got["Allocations"])
    for sheet in ("Audits", "Answers", "Self-reflections", "Moderation", "RI follow-up",
                  "RI steps", "Escalations"):
        assert {r["Reference"] for r in got.get(sheet, [])} <= current, sheet
    assert {r["Reference"] or "" for r in got["Workshop cases"]} == {""}  # kept, unnamed
