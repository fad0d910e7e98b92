"""Reading the Service Managers' choices back: `qaudit ingest` of their allocation workbooks.

A Service Manager names an auditor at Senior Practitioner level or above for each case,
who is not the practitioner and does not manage them. What they name is stored one current
auditor per case; a later workbook with another choice replaces it (kept as history); a
row that breaks a rule is refused on its own and the other rows are stored.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import fill_forms
import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.workbook.defined_name import DefinedName

from conftest import (
    EXAMPLES,
    Result,
    copy_workspace,
    edit_settings,
    qaudit_ok,
    raw_database,
    small_workspace,
)
from qaudit.db.assignments import Assignment
from qaudit.workbooks.cells import clean_text
from qaudit.workspace import Workspace, open_workspace

CYCLE = "2026-27 C3"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three cases per quadrant x type drawn (60), so some Service Managers have several."""
    root = tmp_path_factory.mktemp("drawn") / "ws"
    small_workspace(root, 3)
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due",
              (date.today() + timedelta(days=20)).strftime("%d/%m/%Y"))
    return root


@pytest.fixture
def ws(drawn: Path, tmp_path: Path) -> Workspace:
    copy_workspace(drawn, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


#: Every test's workspace is a copy of one draw: its workbooks' cases are read once.
_CASES: dict[str, list[str]] = {}


def cases_of(book: Path) -> list[str]:
    """The references of a Service Manager workbook as issued, in its row order."""
    if book.name not in _CASES:
        _CASES[book.name] = fill_forms.manager_cases(load_workbook(book))
    return _CASES[book.name]


def books(ws: Workspace) -> list[Path]:
    """The cycle's Service Manager workbooks, the busiest manager's first."""
    found = sorted((ws.cycle_dir(CYCLE) / "service-managers").glob("*.xlsx"))
    return sorted(found, key=lambda p: -len(cases_of(p)))


def busiest(ws: Workspace) -> Path:
    return books(ws)[0]


def fill(book: Path, tmp_path: Path, seed: int = 1, name: str = "", **kw: Any
         ) -> tuple[Path, dict[str, tuple[str, str, str]]]:
    dst = tmp_path / "back" / (name or book.name)
    return dst, fill_forms.fill_manager(book, dst, random.Random(seed), **kw)


def ingest(run: Callable[..., Result], ws: Workspace, *args: Any) -> Result:
    return run("-w", ws.root, "ingest", *args)


def ingest_json(run: Callable[..., Result], ws: Workspace, *args: Any) -> dict[str, Any]:
    result = ingest(run, ws, *args, "--json")
    data: dict[str, Any] = json.loads(result.stdout)
    data["exit"] = result.code
    return data


def rows_of(data: dict[str, Any], file: int = 0) -> dict[str, dict[str, Any]]:
    """A workbook's rows in the --json output, by reference."""
    return {r["reference"]: r for r in data["files"][file]["service_manager"]["rows"]}


def stored(ws: Workspace) -> dict[str, tuple[str, str, str]]:
    """The current auditor of each case of the cycle: (name, email, role), the email in
    lower case as the Service Managers' choices are meant (one mailbox whatever its
    capitals; ``stored_emails`` gives them as stored)."""
    return {ref: (name, email.casefold(), role)
            for ref, (name, email, role) in stored_emails(ws).items()}


def stored_emails(ws: Workspace) -> dict[str, tuple[str, str, str]]:
    with ws.store() as store:
        return {a.reference: (a.auditor_name, a.auditor_email, a.auditor_role)
                for a in store.assignments.for_cycle(CYCLE)}


def history(ws: Workspace, reference: str) -> list[Assignment]:
    with ws.store() as store:
        issued = store.draws.issued(reference)
        assert issued is not None
        return store.assignments.history(issued.id)


@contextmanager
def edited(path: Path) -> Iterator[Workbook]:
    wb = load_workbook(path)
    yield wb
    wb.save(path)


# --- the round trip ------------------------------------------------------------------------


def test_every_auditor_a_service_manager_names_is_stored_as_meant(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, meant = fill(busiest(ws), tmp_path)
    result = ingest(run, ws, path)
    assert result.code == 0, result.stdout
    assert stored(ws) == meant  # trimmed, role as listed
    assert "Service Manager workbooks" in result.stdout
    assert "Auditors named" in result.stdout
    for name, _, _ in meant.values():
        assert name in result.stdout


def test_every_workbook_of_a_cycle_names_every_case(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    rng = random.Random(3)
    meant: dict[str, tuple[str, str, str]] = {}
    for book in books(ws):
        meant |= fill_forms.fill_manager(book, tmp_path / "back" / book.name, rng)
    data = ingest_json(run, ws, tmp_path / "back")
    assert data["exit"] == 0
    assert data["summary"]["accepted"] == len(books(ws))
    assert data["summary"]["auditors_stored"] == 60
    assert stored(ws) == meant


def test_a_partial_return_stores_the_named_and_lists_the_rest(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    book = busiest(ws)
    refs = cases_of(book)
    path, meant = fill(book, tmp_path, blank=(2, 4))
    data = ingest_json(run, ws, path)
    assert data["exit"] == 0  # a partial return is progress, not a mistake
    rows = rows_of(data)
    assert {r for r, row in rows.items() if row["status"] == "not-named"} == {refs[1], refs[3]}
    assert rows[refs[1]]["warnings"][0]["code"] == "not-named"
    assert stored(ws) == meant
    # The Service Manager sends the whole workbook later: the two are named, the rest stay.
    later, everything = fill(book, tmp_path, name="later.xlsx")
    data = ingest_json(run, ws, later)
    statuses = {r: row["status"] for r, row in rows_of(data).items()}
    assert statuses[refs[1]] == statuses[refs[3]] == "named"
    assert stored(ws) == everything


def test_a_blank_row_keeps_the_auditor_an_earlier_workbook_named(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    book = busiest(ws)
    first, meant = fill(book, tmp_path)
    assert ingest(run, ws, first).code == 0
    blanked, _ = fill(book, tmp_path, name="blanked.xlsx", blank=(1,))
    data = ingest_json(run, ws, blanked)
    assert rows_of(data)[cases_of(book)[0]]["status"] == "kept"
    assert stored(ws)[cases_of(book)[0]] == meant[cases_of(book)[0]]


def test_the_same_workbook_twice_or_resaved_changes_nothing(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(busiest(ws), tmp_path)
    assert ingest(run, ws, path).code == 0
    again = ingest_json(run, ws, path)
    assert again["files"][0]["status"] == "unchanged"
    assert again["summary"]["auditors_stored"] == 0
    resaved = tmp_path / "resaved.xlsx"
    load_workbook(path).save(resaved)  # other bytes, same choices
    assert ingest_json(run, ws, resaved)["files"][0]["status"] == "unchanged"
    assert all(len(history(ws, r)) == 1 for r in cases_of(busiest(ws)))


def test_an_address_is_stored_as_qaudit_sends_to_it_and_other_capitals_are_the_same_choice(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    book = busiest(ws)
    first_ref = cases_of(book)[0]
    first, _ = fill(book, tmp_path, name="first.xlsx", overrides={
        "sm_1_auditor": "Grace Mbeki", "sm_1_email": " Grace.Mbeki@Example.ORG "})
    assert ingest(run, ws, first).code == 0
    assert stored_emails(ws)[first_ref][1] == "Grace.Mbeki@example.org"
    retyped = tmp_path / "back" / "retyped.xlsx"
    shutil.copy(first, retyped)
    with edited(retyped) as wb:
        fill_forms.put(wb, "sm_1_email", "grace.mbeki@example.org")
    data = ingest_json(run, ws, retyped)
    assert rows_of(data)[first_ref]["status"] == "unchanged"
    assert stored_emails(ws)[first_ref][1] == "Grace.Mbeki@example.org"
    assert len(history(ws, first_ref)) == 1


def test_a_changed_choice_replaces_the_auditor_and_keeps_the_old_as_history(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    book = busiest(ws)
    first_ref = cases_of(book)[0]
    first, meant = fill(book, tmp_path, name="first.xlsx")
    assert ingest(run, ws, first).code == 0
    second = tmp_path / "back" / "second.xlsx"
    shutil.copy(first, second)
    with edited(second) as wb:
        fill_forms.put(wb, "sm_1_auditor", "Grace Mbeki")
        fill_forms.put(wb, "sm_1_email", "grace.mbeki@example.org")
    data = ingest_json(run, ws, second)
    assert data["files"][0]["status"] == "replaced"
    assert rows_of(data)[first_ref]["status"] == "replaced"
    assert stored(ws)[first_ref][0] == "Grace Mbeki"
    was, now = history(ws, first_ref)
    assert (was.auditor_name, was.replaced_at is not None) == (meant[first_ref][0], True)
    assert (now.auditor_name, now.replaced_at) == ("Grace Mbeki", None)
    # The first copy still lying in the folder does not undo the change, run after run.
    data = ingest_json(run, ws, first)
    assert rows_of(data)[first_ref]["status"] == "superseded"
    assert data["files"][0]["status"] == "superseded"
    assert stored(ws)[first_ref][0] == "Grace Mbeki"
    assert len(history(ws, first_ref)) == 2


# --- the framework's rules, row by row ---------------------------------------------------


def test_a_role_below_senior_practitioner_refuses_that_row_only(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    book = busiest(ws)
    refs = cases_of(book)
    path, meant = fill(book, tmp_path, overrides={"sm_2_role": "Social Worker"})
    data = ingest_json(run, ws, path)
    assert data["exit"] == 1
    assert data["files"][0]["status"] == "accepted"
    row = rows_of(data)[refs[1]]
    assert row["status"] == "refused"
    assert [(f["code"], f["cell"].split()[1], f["value"]) for f in row["findings"]] == [
        ("not-allowed", "(sm_2_role)", "Social Worker")]
    assert "choose Senior Practitioner" in row["findings"][0]["message"]
    assert stored(ws) == {r: v for r, v in meant.items() if r != refs[1]}
    text = ingest(run, ws, path).stdout
    assert "Rows not taken (the other rows of these Service Manager workbooks were stored)" in text


def test_a_name_without_a_role_or_a_role_without_a_name_is_refused(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(busiest(ws), tmp_path, overrides={"sm_1_role": None, "sm_2_auditor": None})
    data = ingest_json(run, ws, path)
    codes = {f["cell"].split()[1]: f["code"] for f in data["files"][0]["findings"]}
    assert codes == {"(sm_1_role)": "required", "(sm_2_auditor)": "required"}


def test_a_malformed_email_is_refused_and_a_missing_one_is_warned(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    refs = cases_of(busiest(ws))
    path, _ = fill(busiest(ws), tmp_path, overrides={
        "sm_1_email": "ruth.okonjo@", "sm_2_email": "Ruth <ruth@example.org>",
        "sm_3_email": None})
    data = ingest_json(run, ws, path)
    rows = rows_of(data)
    assert [f["code"] for f in rows[refs[0]]["findings"]] == ["not-an-email"]
    assert [f["code"] for f in rows[refs[1]]["findings"]] == ["not-an-email"]
    assert rows[refs[2]]["status"] == "named"
    assert [w["code"] for w in rows[refs[2]]["warnings"]] == ["no-email"]


def _staff(ws: Workspace, *people: tuple[str, str, str, str, str, str]) -> None:
    """Staff rows as `qaudit staff import` would leave them: (worker id, name, email, team,
    line manager, line manager's email)."""
    with raw_database(ws) as conn:
        conn.executemany(
            "INSERT INTO staff (worker_id, name, email, team, role, line_manager,"
            " line_manager_email, source, updated_at) VALUES (?, ?, ?, ?, '', ?, ?, 'test',"
            " '2026-11-01T00:00:00+00:00')", people)


def _first_case(ws: Workspace) -> tuple[str, str, str]:
    """The worker id, name and team of the practitioner on the busiest workbook's row 1."""
    with ws.store() as store:
        issued = store.draws.issued(cases_of(busiest(ws))[0])
        assert issued is not None
        return issued.row.worker_id, issued.row.worker_name, issued.row.team


@pytest.mark.parametrize(
    ("who", "typed", "code"),
    [
        ("practitioner by name", ("{name}", "someone@example.org"), "auditor-is-practitioner"),
        ("practitioner by email", ("P. Smith", "prac@example.org"), "auditor-is-practitioner"),
        ("line manager by name", (" mona   HALE ", "mona@example.org"),
         "auditor-is-line-manager"),
        ("line manager by email", ("M Hale", "Mona.Hale@Example.org"),
         "auditor-is-line-manager"),
    ],
)
def test_the_practitioner_or_their_line_manager_is_refused_as_auditor(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path, who: str,
    typed: tuple[str, str], code: str,
) -> None:
    worker, name, team = _first_case(ws)
    _staff(ws, (worker, name, "prac@example.org", team, "Mona Hale", "mona.hale@example.org"),
           ("W-LM", "Mona Hale", "mona.hale@example.org", team, "", ""))
    auditor, email = typed
    path, _ = fill(busiest(ws), tmp_path, overrides={
        "sm_1_auditor": auditor.format(name=name.upper()), "sm_1_email": email})
    data = ingest_json(run, ws, path)
    row = rows_of(data)[cases_of(busiest(ws))[0]]
    assert row["status"] == "refused", who
    assert [f["code"] for f in row["findings"]] == [code]
    assert cases_of(busiest(ws))[0] not in stored(ws)


def test_the_practitioner_is_refused_even_when_the_staff_list_is_empty(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    _, name, _ = _first_case(ws)
    path, _ = fill(busiest(ws), tmp_path, overrides={"sm_1_auditor": name})
    row = rows_of(ingest_json(run, ws, path))[cases_of(busiest(ws))[0]]
    assert [f["code"] for f in row["findings"]] == ["auditor-is-practitioner"]


def test_an_auditor_in_the_practitioners_team_is_stored_with_a_warning(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    worker, name, team = _first_case(ws)
    _staff(ws, (worker, name, "", team, "", ""),
           ("W-SP", "Sam Peer", "sam.peer@example.org", f"  {team.upper()} ", "", ""))
    path, _ = fill(busiest(ws), tmp_path, overrides={
        "sm_1_auditor": "Sam Peer", "sm_1_email": "sam.peer@example.org"})
    data = ingest_json(run, ws, path)
    assert data["exit"] == 0
    row = rows_of(data)[cases_of(busiest(ws))[0]]
    assert row["status"] == "named"
    assert [w["code"] for w in row["warnings"]] == ["same-team"]
    assert "practitioner's own team" in row["warnings"][0]["message"]


def test_an_auditor_email_outside_the_allowed_domains_is_warned_and_status_holds_it(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    """A typo in the domain (gmial.com) would send a form with a person's details to a
    stranger: warned at ingest, and never the address status (or send) would use."""
    with edit_settings(ws.root) as settings:
        settings.setdefault("mail", {})["allowed_domains"] = ["example.org"]
    path, _ = fill(busiest(ws), tmp_path, overrides={
        "sm_1_auditor": "Callum Iqbal", "sm_1_email": "callum.iqbal@gmial.com",
        "sm_2_auditor": "Dana Roe", "sm_2_email": "dana.roe@mail.example.org"})
    data = ingest_json(run, ws, path)
    rows = rows_of(data)
    first, second = cases_of(busiest(ws))[:2]
    assert rows[first]["status"] == "named"
    assert [w["code"] for w in rows[first]["warnings"]] == ["outside-domains"]
    assert "outside-domains" not in [w["code"] for w in rows[second]["warnings"]]
    result = run("-w", ws.root, "status", "--by", "auditor", "--json")
    assert result.code == 0
    assert "callum.iqbal@gmial.com" not in result.stdout


def _named_as(names: list[str], rows: int, others: str = "Other") -> dict[str, str]:
    """Overrides naming ``names`` on the first rows, and a different auditor on each other."""
    names = names + [f"{others} Auditor {'ABCDEFGHIJKLMNOP'[n]}" for n in range(rows)]
    return {f"sm_{n}_{k}": v for n, name in enumerate(names[:rows], start=1)
            for k, v in (("auditor", name), ("email", fill_forms.auditor_email(name).upper()))}


def test_an_auditor_named_for_more_cases_than_the_limit_is_warned(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    with edit_settings(ws.root) as settings:
        settings.setdefault("people", {})["max_cases_per_auditor"] = 2
    refs = cases_of(busiest(ws))
    path, _ = fill(busiest(ws), tmp_path, overrides=_named_as(["Ruth Okonjo"] * 3, len(refs)))
    data = ingest_json(run, ws, path)
    assert data["exit"] == 0  # warned, not refused
    rows = rows_of(data)
    for ref in refs[:3]:
        assert rows[ref]["status"] == "named"
        assert "auditor-load" in [w["code"] for w in rows[ref]["warnings"]]
        assert "named for 3 cases" in rows[ref]["warnings"][-1]["message"]
    assert not any(rows[ref]["warnings"] for ref in refs[3:])
    # Another Service Manager naming her too counts with the cases already stored.
    other = books(ws)[1]
    path, _ = fill(other, tmp_path, overrides=_named_as(["ruth okonjo"], len(cases_of(other)),
                                                        "Elsewhere"))
    row = rows_of(ingest_json(run, ws, path))[cases_of(other)[0]]
    assert "named for 4 cases" in row["warnings"][-1]["message"]


# --- identification: this workspace, this draw, as issued ----------------------------------


def _meta(wb: Workbook, key: str, value: str) -> None:
    sheet = wb["_qaudit"]
    for row in sheet.iter_rows():
        if row[0].value == key:
            row[1].value = value
            return
    raise AssertionError(key)


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("workspace", "another-workspace", "foreign-workspace"),
        ("references", '["2026-27-C3-001"]', "signature-mismatch"),
        ("manager", "Someone Else", "signature-mismatch"),
        ("cycle", "2026-27 C4", "signature-mismatch"),
        ("signature", "", "signature-mismatch"),
        ("form_kind", "register", "unknown-form-kind"),
    ],
)
def test_a_foreign_or_edited_workbook_is_refused_and_nothing_stored(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path, key: str, value: str,
    code: str,
) -> None:
    path, _ = fill(busiest(ws), tmp_path)
    with edited(path) as wb:
        _meta(wb, key, value)
    data = ingest_json(run, ws, path)
    assert data["exit"] == 1
    assert data["files"][0]["status"] == "refused"
    assert [f["code"] for f in data["files"][0]["findings"]] == [code]
    assert stored(ws) == {}


def test_a_table_row_showing_another_reference_is_refused(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(busiest(ws), tmp_path)
    with edited(path) as wb:
        fill_forms.put(wb, "sm_1_reference", cases_of(busiest(ws))[1])
    data = ingest_json(run, ws, path)
    assert [f["code"] for f in data["files"][0]["findings"]] == ["case-mismatch"]
    assert stored(ws) == {}


def test_a_workbook_of_a_replaced_draw_is_refused(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(busiest(ws), tmp_path)
    redraw = run("-w", ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE,
                 "--from", "01/09/2026", "--to", "31/10/2026", "--seed", "10", "--redraw",
                 "--due", (date.today() + timedelta(days=20)).strftime("%d/%m/%Y"))
    assert redraw.code == 0, redraw.stderr
    data = ingest_json(run, ws, path)
    assert data["files"][0]["status"] == "refused"
    findings = data["files"][0]["findings"]
    assert [f["code"] for f in findings] == ["replaced-draw"]  # one finding, not one a case
    assert "replaced by a redraw" in findings[0]["message"]
    assert stored(ws) == {}


# --- hostile workbooks: every one ends in findings, never a crash ------------------------


def _delete_name(name: str) -> Callable[[Workbook], None]:
    def change(wb: Workbook) -> None:
        del wb.defined_names[name]
    return change


def _ref_error(name: str) -> Callable[[Workbook], None]:
    def change(wb: Workbook) -> None:
        wb.defined_names[name] = DefinedName(name, attr_text="#REF!")
    return change


def _name_elsewhere(name: str) -> Callable[[Workbook], None]:
    def change(wb: Workbook) -> None:
        wb.defined_names[name] = DefinedName(name, attr_text="'_qaudit'!$B$1")
    return change


@pytest.mark.parametrize(
    ("overrides", "change", "code"),
    [
        ({"sm_1_auditor": fill_forms.Typed('=HYPERLINK("http://x","y")')}, None, "formula"),
        ({"sm_1_auditor": '=HYPERLINK("http://x","y")'}, None, "not-a-name"),
        ({"sm_1_auditor": "@Ruth Okonjo"}, None, "not-a-name"),
        ({"sm_1_auditor": clean_text("Ruth\x1b[31m Okonjo")}, None, "not-a-name"),
        ({"sm_1_auditor": "Ruth\nOkonjo"}, None, "not-a-name"),
        ({"sm_1_auditor": clean_text("Ruth\x07")}, None, "not-a-name"),
        ({"sm_1_auditor": "1234"}, None, "not-a-name"),
        ({"sm_1_auditor": "Ruth \u202eOkonjo"}, None, "not-a-name"),
        ({"sm_1_auditor": "Ruth\u200bOkonjo"}, None, "not-a-name"),
        ({"sm_1_auditor": "Ruth Okonjo\U000e0041\U000e0042"}, None, "not-a-name"),
        ({"sm_1_auditor": "Ruth\ufeffOkonjo"}, None, "not-a-name"),
        ({"sm_1_email": "zoë.okonjo@example.org"}, None, "not-an-email"),
        ({"sm_1_email": "ruth.okonjo@exa\u200bmple.org"}, None, "not-an-email"),
        ({"sm_1_auditor": "R" * 10_000}, None, "too-long"),
        ({"sm_1_email": "r" * 10_000 + "@example.org"}, None, "too-long"),
        ({"sm_1_email": clean_text("ruth@exa\x00mple.org")}, None, "not-an-email"),
        ({"sm_1_email": "ruth.okonjo@example.test"}, None, "not-an-email"),
        ({"sm_1_role": fill_forms.Typed("#N/A")}, None, "error-value"),
        ({"sm_1_role": "Chief Wizard"}, None, "not-allowed"),
        ({"sm_1_date": "31/02/2026"}, None, "not-a-date"),
        ({"sm_1_date": date.today() + timedelta(days=3)}, None, "future-date"),
        ({"sm_1_date": date(1900, 1, 1)}, None, "implausible-date"),
        ({}, _delete_name("sm_1_auditor"), "missing-cell"),
        ({}, _ref_error("sm_1_email"), "missing-cell"),
        ({}, _delete_name("sm_1_reference"), "missing-cell"),
    ],
)
def test_a_hostile_row_is_refused_with_a_finding_and_the_others_are_stored(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path, overrides: dict[str, Any],
    change: Callable[[Workbook], None] | None, code: str,
) -> None:
    refs = cases_of(busiest(ws))
    path, meant = fill(busiest(ws), tmp_path, overrides=overrides)
    if change is not None:
        with edited(path) as wb:
            change(wb)
    data = ingest_json(run, ws, path)
    assert data["exit"] == 1
    rows = rows_of(data)
    assert rows[refs[0]]["status"] == "refused"
    assert code in [f["code"] for f in rows[refs[0]]["findings"]]
    assert all(len(f["value"]) <= 80 for f in rows[refs[0]]["findings"])
    assert stored(ws) == {r: v for r, v in meant.items() if r != refs[0]}
    shown = ingest(run, ws, path).stdout
    assert "\x1b" not in shown and "\x07" not in shown


def test_a_name_pointed_at_the_hidden_sheet_refuses_the_workbook(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, _ = fill(busiest(ws), tmp_path)
    with edited(path) as wb:
        _name_elsewhere("sm_2_auditor")(wb)
    data = ingest_json(run, ws, path)
    assert data["files"][0]["status"] == "refused"
    assert [f["code"] for f in data["files"][0]["findings"]] == ["moved-name"]
    assert stored(ws) == {}


def test_rows_inserted_above_the_table_still_ingest(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    path, meant = fill(busiest(ws), tmp_path, insert_row=True)
    assert load_workbook(path).defined_names["sm_1_auditor"].attr_text.endswith("$8")
    assert ingest(run, ws, path).code == 0
    assert stored(ws) == meant


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really", b"\xd0\xcf\x11\xe0" * 8])
def test_a_broken_file_beside_a_good_workbook_does_not_stop_the_batch(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path, content: bytes
) -> None:
    _, meant = fill(busiest(ws), tmp_path)
    (tmp_path / "back" / "broken.xlsx").write_bytes(content)
    data = ingest_json(run, ws, tmp_path / "back")
    assert data["exit"] == 1
    assert sorted(f["status"] for f in data["files"]) == ["accepted", "refused"]
    assert stored(ws) == meant


# --- the audit forms, against the auditor named ------------------------------------------


def test_an_audit_form_returned_by_another_auditor_is_stored_with_a_warning(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    book = busiest(ws)
    refs = cases_of(book)
    sm, meant = fill(book, tmp_path)
    forms = ws.cycle_dir(CYCLE) / "audit-forms"
    named = tmp_path / "back" / f"{refs[0]}-audit.xlsx"
    other = tmp_path / "back" / f"{refs[1]}-audit.xlsx"
    fill_forms.fill_audit(forms / named.name, named, random.Random(1),
                          auditor=f"  {meant[refs[0]][0].upper()} ")
    fill_forms.fill_audit(forms / other.name, other, random.Random(2),
                          auditor="Someone Else Entirely")
    data = ingest_json(run, ws, sm, named, other)  # the workbook and the forms in one batch
    assert data["exit"] == 0
    by_file = {Path(f["file"]).name: f for f in data["files"]}
    assert by_file[sm.name]["kind"] == "service_manager"
    assert by_file[named.name]["status"] == "accepted"
    assert not any("Service Manager named" in w for w in by_file[named.name]["warnings"])
    assert by_file[other.name]["status"] == "accepted"
    assert by_file[other.name]["warnings"] == [
        "returned by an auditor other than the one the Service Manager named for this case"]
    assert "Someone Else Entirely" not in json.dumps(by_file[other.name]["warnings"])


def test_ingest_help_says_it_takes_service_manager_workbooks(
    run: Callable[..., Result]
) -> None:
    result = run("ingest", "--help")
    assert result.code == 0
    assert "Service Manager workbooks" in " ".join(result.stdout.split())


def test_mutated_workbooks_only_ever_end_in_findings_or_a_stored_choice(
    ws: Workspace, tmp_path: Path
) -> None:
    """Fuzz: bytes of a filled workbook flipped, and its zipped XML parts mangled; each ends
    accepted, unchanged, superseded or refused with findings, never a failure."""
    import io
    import zipfile

    from qaudit.jobs.ingest import ingest_files

    good, _ = fill(busiest(ws), tmp_path)
    data = good.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = {i.filename: archive.read(i) for i in archive.infolist()}
    rng = random.Random(11)
    paths = []
    for n in range(24):
        if n % 2:
            raw = bytearray(data)
            for _ in range(rng.randint(1, 20)):
                at = rng.randrange(len(raw))
                raw[at:at + rng.randint(1, 8)] = bytes(rng.randrange(256)
                                                       for _ in range(rng.randint(0, 8)))
            mutant = bytes(raw)
        else:
            name = rng.choice([p for p in parts if p.endswith(".xml")])
            text = bytearray(parts[name])
            for _ in range(rng.randint(1, 6)):
                at = rng.randrange(len(text))
                text[at:at + rng.randint(0, 12)] = rng.choice(
                    [b"", b"<", b">", b"&", b'"', b"\x00", b"#REF!", b"999999", b"[", b"]",
                     b"<c r=\"ZZ9\"/>"])
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
                for part, content in parts.items():
                    out.writestr(part, bytes(text) if part == name else content)
            mutant = buffer.getvalue()
        path = tmp_path / "mutants" / f"mutant-{n:02d}.xlsx"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(mutant)
        paths.append(path)
    with ws.store() as store:
        report = ingest_files(store, paths, today=date.today(), settings=ws.settings)
    assert len(report.outcomes) == len(paths)
    for outcome in report.outcomes:
        assert outcome.status in ("accepted", "replaced", "unchanged", "superseded",
                                  "refused"), outcome
        if outcome.status == "refused":
            assert outcome.findings and all(f.message for f in outcome.findings)
