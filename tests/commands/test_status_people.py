"""`qaudit status --by` and `--overdue`: who holds what and whom to chase, by name, on a
given day; the feedback shared and the messages sent, in the cycle's status.

The cycle: one case per quadrant x type (20), the example staff list imported, twelve
audits and six self-reflections back, and auditors named by their Service Managers for
four cases (two of them still out). The read-back of the Service Managers' workbooks and
``qaudit send`` are stood in for by rows written straight into their tables.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import fill_forms
import pytest

from conftest import EXAMPLES, Result, copy_workspace, qaudit_ok, raw_database, small_workspace
from qaudit.commands import people as people_commands
from qaudit.commands import send as send_commands
from qaudit.commands import status as status_commands
from qaudit.workspace import Workspace, open_workspace

CYCLE = "2026-27 C3"
DUE = date(2026, 12, 11)
AUDITS_BACK, REFLECTIONS_BACK = 12, 6
#: (allocation number, auditor, email): named by the Service Managers.
NAMED = [(1, "Priya Raman", "priya.raman@example.org"), (2, "Tom Ashdown", ""),
         (13, "Priya Raman", "priya.raman@example.org"), (14, "[red]Tom[/red] Ashdown", "")]


def reference(n: int) -> str:
    return f"2026-27-C3-{n:03d}"


def name_auditors(ws: Workspace, named: list[tuple[int, str, str]]) -> None:
    """As if the Service Managers' workbooks had come back naming these auditors."""
    with raw_database(ws) as conn:
        for n, auditor, email in named:
            (allocation,) = conn.execute(
                "SELECT id FROM current_allocations WHERE reference = ?",
                (reference(n),)).fetchone()
            conn.execute(
                "INSERT INTO auditor_assignments (allocation_id, auditor_name, auditor_email,"
                " auditor_role, file_name, file_sha256, received_at) VALUES (?, ?, ?,"
                " 'Senior Practitioner', 'sm.xlsx', 'x', '2026-11-20T10:00:00+00:00')",
                (allocation, auditor, email))


def build_people_cycle(root: Path) -> Path:
    """The cycle this module describes, in a new workspace at ``root``."""
    ws = small_workspace(root, 1)
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due",
              DUE.strftime("%d/%m/%Y"))
    qaudit_ok(root, "staff", "import", EXAMPLES / "staff.csv")
    rng = random.Random(5)
    back = root.parent / "back"
    cycle_dir = ws.cycle_dir(CYCLE)
    for form in sorted((cycle_dir / "audit-forms").glob("*.xlsx"))[:AUDITS_BACK]:
        fill_forms.fill_audit(form, back / form.name, rng, grade="Good")
    for form in sorted((cycle_dir / "self-reflection").glob("*.xlsx"))[:REFLECTIONS_BACK]:
        fill_forms.fill_reflection(form, back / form.name, rng)
    qaudit_ok(root, "ingest", back)
    name_auditors(ws, NAMED)
    return root


@pytest.fixture(scope="module")
def people_cycle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_people_cycle(tmp_path_factory.mktemp("people") / "ws")


@pytest.fixture
def ws(people_cycle: Path, tmp_path: Path) -> Workspace:
    copy_workspace(people_cycle, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


@pytest.fixture
def on_day(monkeypatch: pytest.MonkeyPatch) -> Callable[[date], None]:
    """Run the commands as if it were this day."""

    def set_day(day: date) -> None:
        for module in (status_commands, people_commands, send_commands):
            monkeypatch.setattr(module, "today", lambda: day)

    return set_day


def status(run: Callable[..., Result], ws: Workspace, *args: str) -> Any:
    result = run("-w", ws.root, "status", *args, "--json")
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def allocations(ws: Workspace) -> dict[str, Any]:
    with ws.store() as store:
        return {a.reference: a for a in store.draws.allocations(CYCLE)}


def staff_email(ws: Workspace, worker_id: str) -> str:
    with ws.store() as store:
        return next(r.member.email for r in store.people.staff()
                    if r.member.worker_id == worker_id)


# --- whom to chase ---------------------------------------------------------------------------


def test_nothing_is_overdue_before_the_due_date(run: Callable[..., Result], ws: Workspace,
                                               on_day: Callable[[date], None]) -> None:
    on_day(DUE)
    assert status(run, ws, "--overdue")["overdue"] == []
    assert "Nothing overdue." in run("-w", ws.root, "status", "--overdue").stdout


def test_overdue_audits_are_chased_with_their_auditor_or_else_the_service_manager(
    run: Callable[..., Result], ws: Workspace, on_day: Callable[[date], None],
) -> None:
    on_day(DUE + timedelta(days=10))
    items = status(run, ws, "--overdue")["overdue"]
    audits = {i["reference"]: i for i in items if i["what"] == "audit"}
    assert sorted(audits) == [reference(n) for n in range(AUDITS_BACK + 1, 21)]
    assert {i["days_overdue"] for i in items} == {10}
    assert (audits[reference(13)]["chase"], audits[reference(13)]["chase_role"],
            audits[reference(13)]["email"]) == ("Priya Raman", "auditor",
                                                "priya.raman@example.org")
    assert audits[reference(14)]["chase"] == "[red]Tom[/red] Ashdown"
    cases = allocations(ws)
    for n in range(15, 21):
        item, case = audits[reference(n)], cases[reference(n)]
        assert (item["chase"], item["chase_role"]) == (case.service_manager, "service manager")
        assert item["email"] and item["email"] == item["service_manager_email"]


def test_overdue_self_reflections_are_chased_with_the_practitioner_once_their_form_went(
    run: Callable[..., Result], ws: Workspace, on_day: Callable[[date], None],
) -> None:
    """The self-reflection goes with the audit form, once the auditor is named (as `send
    forms` sends them): before that there is nobody to chase, and status says why."""
    on_day(DUE + timedelta(days=3))
    items = [i for i in status(run, ws, "--overdue")["overdue"] if i["what"] == "self-reflection"]
    assert [i["reference"] for i in items] == [reference(n) for n in range(7, 21)]
    cases = allocations(ws)
    named = {reference(n) for n, _, _ in NAMED}
    for item in items:
        case = cases[item["reference"]]
        assert item["days_overdue"] == 3
        if item["reference"] in named:
            assert (item["chase"], item["chase_role"]) == (case.worker_name, "practitioner")
            assert item["email"] == staff_email(ws, case.worker_id)
            assert not item["forms_not_sent"]
        else:
            assert (item["chase"], item["chase_role"], item["email"]) == ("", None, "")
            assert item["forms_not_sent"] and item["note"].startswith("forms not sent yet")
    shown = " ".join(run("-w", ws.root, "status", "--overdue").stdout.split())
    assert "12 self-reflections: forms not sent yet, so nobody to chase" in shown
    by_practitioner = run("-w", ws.root, "status", "--by", "practitioner").stdout
    assert "form not sent yet" in by_practitioner


def test_status_overdue_names_the_address_send_reminders_would_use(
    run: Callable[..., Result], ws: Workspace, on_day: Callable[[date], None],
) -> None:
    """One lookup for both: a Service Manager with no address of their own, whom other
    rows name only as a line manager, has no address in either (the line manager email
    is not theirs as Service Manager), and status says why."""
    on_day(DUE - timedelta(days=10))
    for kind in ("allocations", "forms"):  # drafted into the outbox, as if sent
        assert run("-w", ws.root, "send", kind, "--cycle", CYCLE).code == 0
    on_day(DUE + timedelta(days=4))
    manager = allocations(ws)[reference(15)].service_manager
    with raw_database(ws) as conn:
        conn.execute("DELETE FROM staff WHERE name = ?", (manager,))
        conn.execute("UPDATE staff SET service_manager_email = '' WHERE service_manager = ?",
                     (manager,))
        conn.execute("UPDATE staff SET line_manager = ?, line_manager_email ="
                     " 'their.line.manager.address@example.org' WHERE worker_id IN"
                     " (SELECT worker_id FROM staff ORDER BY worker_id LIMIT 3)", (manager,))
    items = {(i["reference"], i["what"]): i for i in status(run, ws, "--overdue")["overdue"]}
    mine = items[(reference(15), "audit")]
    assert (mine["chase"], mine["chase_role"], mine["email"]) == (
        manager, "service manager", "")
    assert "no email for Service Manager" in mine["note"]
    result = run("-w", ws.root, "send", "reminders", "--cycle", CYCLE, "--dry-run", "--json")
    assert result.code == 0, result.stderr
    sent = json.loads(result.stdout)

    def key(about: str) -> tuple[str, str]:
        return about.split()[0], "self-reflection" if "self-reflection" in about else "audit"

    to = {key(m["about"]): m["to"] for m in sent["messages"]}
    held = {key(h["about"]) for h in sent["held"]} - set(to)  # held whole, not a copy left off
    assert to and held
    for found, address in to.items():  # every reminder goes where status says
        assert [items[found]["email"]] == address, found
    for found in held:  # and where status knows no address, none goes
        assert items[found]["email"] == "" and items[found]["note"], found
    for found, item in items.items():
        if item["forms_not_sent"]:
            assert found not in to and found not in held, found
        elif not item["email"]:
            assert found in held, found
    shown = " ".join(run("-w", ws.root, "status", "--overdue").stdout.split())
    assert f"{reference(15)} audit: the staff list has no email for Service Manager" in shown


def test_a_return_whose_form_qaudit_never_sent_is_marked_as_send_reminders_would_hold_it(
    run: Callable[..., Result], ws: Workspace, on_day: Callable[[date], None],
) -> None:
    """Status and `send reminders` agree on what is chased: a form that never reached its
    person is not, and status says so beside the person; once the forms go, both chase."""
    on_day(DUE + timedelta(days=4))
    late = status(run, ws, "--overdue")["overdue"]
    chased = [i for i in late if i["email"]]
    assert chased and all("never sent to them" in i["note"] for i in chased)
    dry = json.loads(run("-w", ws.root, "send", "reminders", "--cycle", CYCLE, "--dry-run",
                         "--json").stdout)
    assert dry["messages"] == []
    on_day(DUE - timedelta(days=10))
    for kind in ("allocations", "forms"):
        assert run("-w", ws.root, "send", kind, "--cycle", CYCLE).code == 0
    on_day(DUE + timedelta(days=4))
    late = status(run, ws, "--overdue")["overdue"]
    unsent = [i for i in late if "never sent" in i["note"]]
    assert len(unsent) < len(chased)  # what was held when the forms went (a pair waits)
    dry = json.loads(run("-w", ws.root, "send", "reminders", "--cycle", CYCLE, "--dry-run",
                         "--json").stdout)
    reminded = {(m["about"].split()[0], "self-reflection" if "self-reflection" in m["about"]
                 else "audit") for m in dry["messages"]}
    assert reminded == {(i["reference"], i["what"]) for i in late
                        if i["email"] and "never sent" not in i["note"]}


def test_overdue_table_names_people_as_typed_and_says_who_has_no_address(
    run: Callable[..., Result], ws: Workspace, on_day: Callable[[date], None],
) -> None:
    on_day(DUE + timedelta(days=1))
    with raw_database(ws) as conn:
        conn.execute("DELETE FROM staff")  # no staff list: no addresses known
    name_auditors(ws, [(15, "Ann\x1b[2JLee", "")])
    shown = run("-w", ws.root, "status", "--overdue").stdout
    assert "[red]Tom[/red] Ashdown" in shown and "\x1b" not in shown
    assert "Ann\ufffd[2JLee" in shown
    assert "without a known email: `qaudit staff import`" in shown


# --- who holds what --------------------------------------------------------------------------


def test_by_auditor_lists_each_auditor_s_cases_and_the_unnamed_last(
    run: Callable[..., Result], ws: Workspace, on_day: Callable[[date], None],
) -> None:
    on_day(DUE + timedelta(days=2))
    data = status(run, ws, "--by", "auditor")
    assert data["by"] == "auditor" and data["today"] == "2026-12-13"
    groups = {g["name"]: g for g in data["groups"]}
    assert list(groups) == ["[red]Tom[/red] Ashdown", "Priya Raman", "Tom Ashdown",
                            "(no auditor named yet)"]
    priya = groups["Priya Raman"]
    assert priya["email"] == "priya.raman@example.org"
    assert [(c["reference"], c["audit_days_overdue"]) for c in priya["cases"]] == [
        (reference(1), 0), (reference(13), 2)]
    assert priya["cases"][0]["audit_received"] is not None
    assert len(groups["(no auditor named yet)"]["cases"]) == 16
    shown = run("-w", ws.root, "status", "--by", "auditor").stdout
    assert "[red]Tom[/red] Ashdown" in shown and "no auditor named" in shown


def test_by_service_manager_with_overdue_lists_only_cases_with_something_late(
    run: Callable[..., Result], ws: Workspace, on_day: Callable[[date], None],
) -> None:
    on_day(DUE + timedelta(days=5))
    data = status(run, ws, "--by", "service-manager", "--overdue")
    listed = {c["reference"] for g in data["groups"] for c in g["cases"]}
    assert listed == {reference(n) for n in range(REFLECTIONS_BACK + 1, 21)}
    cases = allocations(ws)
    for group in data["groups"]:
        assert {cases[c["reference"]].service_manager for c in group["cases"]} == {group["name"]}
        assert group["email"].endswith("@example.org")
    every = status(run, ws, "--by", "service-manager")
    assert sum(len(g["cases"]) for g in every["groups"]) == 20


def test_by_practitioner_shows_reflection_audit_and_feedback(
    run: Callable[..., Result], ws: Workspace, on_day: Callable[[date], None],
) -> None:
    on_day(date.today())
    assert run("-w", ws.root, "feedback", "record", reference(2), "--on",
               date.today().strftime("%d/%m/%Y")).code == 0
    data = status(run, ws, "--by", "practitioner")
    cases = {c["reference"]: (g, c) for g in data["groups"] for c in g["cases"]}
    group, case = cases[reference(2)]
    assert case["feedback_times"] == 1 and case["last_feedback"] == date.today().isoformat()
    assert group["name"] == allocations(ws)[reference(2)].worker_name
    assert group["email"] == staff_email(ws, case["worker_id"])
    shown = run("-w", ws.root, "status", "--by", "practitioner").stdout
    assert f"shared {date.today():%d/%m/%Y}" in shown and "not yet" in shown


# --- the cycle's status ---------------------------------------------------------------------


def test_status_counts_each_audit_with_feedback_once(
    run: Callable[..., Result], ws: Workspace,
) -> None:
    today = date.today().strftime("%d/%m/%Y")
    for ref in (reference(1), reference(1), reference(3)):
        assert run("-w", ws.root, "feedback", "record", ref, "--on", today).code == 0
    data = status(run, ws)
    assert data["feedback"] == {"returned": AUDITS_BACK, "shared": 2}
    for key in ("by_quadrant", "by_service_manager"):
        *groups, total = data[key]
        assert total["feedback"] == 2 == sum(g["feedback"] for g in groups)
    shown = run("-w", ws.root, "status").stdout
    assert "Feedback: shared with the practitioner for 2 of 12 returned audits" in shown


def test_status_says_what_was_sent_when_messages_exist(run: Callable[..., Result],
                                                      ws: Workspace) -> None:
    assert status(run, ws)["messages"] == []
    assert "Messages:" not in run("-w", ws.root, "status").stdout
    with raw_database(ws) as conn:
        (cycle_id,) = conn.execute("SELECT id FROM cycles").fetchone()
        for n, (kind, route, at) in enumerate([
            ("allocations", "draft", "2026-11-21T09:00:00+00:00"),
            ("allocations", "draft", "2026-11-21T09:05:00+00:00"),
            ("forms", "smtp", "2026-11-28T14:30:00+00:00"),
        ]):
            conn.execute(
                "INSERT INTO messages (cycle_id, kind, about, recipients, subject, content_hash,"
                " message_id, route, at) VALUES (?, ?, 'x', 'a@example.org', 's', 'h', ?, ?, ?)",
                (cycle_id, kind, f"<{n}@qaudit>", route, at))
    assert status(run, ws)["messages"] == [
        {"kind": "allocations", "route": "draft", "count": 2,
         "last": "2026-11-21T09:05:00+00:00"},
        {"kind": "forms", "route": "smtp", "count": 1, "last": "2026-11-28T14:30:00+00:00"}]
    shown = " ".join(run("-w", ws.root, "status").stdout.split())
    assert ("Messages: allocations 2 drafted (last 21/11/2026 09:05 UTC); forms 1 sent"
            " (last 28/11/2026 14:30 UTC).") in shown


def test_status_of_a_cancelled_cycle_says_it_was_cancelled(
    run: Callable[..., Result], ws: Workspace,
) -> None:
    assert run("-w", ws.root, "cycle", "cancel", CYCLE, "--reason", "Drawn from the wrong"
               " export", "--force").code == 0
    for args in ((), ("--overdue",), ("--by", "auditor"), ("--cycle", CYCLE)):
        result = run("-w", ws.root, "status", *args)
        said = " ".join(result.stderr.split())
        assert result.code == 1 and result.stderr.startswith("Error:"), args
        assert f"cycle '{CYCLE}' was cancelled on {date.today():%d/%m/%Y} (Drawn from the" \
            " wrong export)" in said, said
        assert "no cycle is drawn yet" not in said


def test_status_of_an_unknown_cycle_is_one_clear_error(run: Callable[..., Result],
                                                      ws: Workspace) -> None:
    for args in (("--by", "auditor"), ("--overdue",)):
        result = run("-w", ws.root, "status", "--cycle", "C9", *args)
        assert result.code == 1 and "no cycle 'C9'" in result.stderr
    result = run("-w", ws.root, "status", "--by", "director")
    assert result.code == 1 and "auditor" in result.stderr
