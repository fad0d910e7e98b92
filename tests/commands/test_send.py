"""`qaudit send`: every message of the people loop, to the right people, once.

A real SMTP server (aiosmtpd on 127.0.0.1) receives what goes by SMTP; drafts are parsed
back with the standard library's parser. The cycle's people are written straight into the
database (tests/mail/people.py), as the staff import and the Service Managers' workbook
read-back store them.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, cast

import fill_forms
import pytest
from mail.people import (
    COUNTYWIDE,
    CYCLE,
    DIRECTOR,
    NETWORK,
    SLUG,
    TEAM_MAILBOX,
    Allocated,
    add_staff,
    allocations,
    auditor_email,
    drawn_cycle,
    line_manager_email,
    manager_emails,
    name_auditor,
    name_auditors,
    practitioner_email,
    use_relay,
)
from mail.smtp_server import Mailbox, smtp_server
from mail.test_exactly_once import killed_after_recording

from conftest import Result, copy_workspace, edit_settings, qaudit_ok, raw_database
from qaudit.jobs.send import SendReport, SendRequest, send_messages
from qaudit.mail.kinds import MessageKind
from qaudit.workspace import Workspace, open_workspace

MARK = "OFFICIAL-SENSITIVE"
UNNAMED = 2  # the last allocations: their Service Manager has not chosen an auditor yet
AUDITS_BACK = 6  # the first allocations' audits are back...
REFLECTIONS_BACK = 4  # ...and the first ones' self-reflections
HOSTILE = "<script>alert('x')</script> =HYPERLINK(\"http://evil.example\",\"click\")"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 cases drawn; auditors named for all but the last two; six audits back (the first
    graded with hostile text) and four self-reflections; the reports written."""
    root = tmp_path_factory.mktemp("send") / "ws"
    ws = drawn_cycle(root)
    cases = allocations(ws)
    name_auditors(ws, cases[:-UNNAMED])
    back = root.parent / "back"
    folder = ws.cycle_dir(CYCLE)
    rng = random.Random(5)
    for i, case in enumerate(cases[:AUDITS_BACK]):
        form = folder / "audit-forms" / f"{case.reference}-audit.xlsx"
        fill_forms.fill_audit(form, back / form.name, rng, grade="Good",
                              overrides={"rationale": HOSTILE} if i == 0 else ())
    for case in cases[:REFLECTIONS_BACK]:
        form = folder / "self-reflection" / f"{case.reference}-self-reflection.xlsx"
        fill_forms.fill_reflection(form, back / form.name, rng)
    qaudit_ok(root, "ingest", back)
    qaudit_ok(root, "report", "--cycle", CYCLE)
    return root


@pytest.fixture
def ws(drawn: Path, tmp_path: Path) -> Workspace:
    copy_workspace(drawn, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def relay(_server: tuple[Mailbox, int], ws: Workspace) -> Mailbox:
    """The test SMTP server, empty and well-behaved, with ``ws`` pointed at it."""
    mailbox, port = _server
    mailbox.reset()
    use_relay(ws.root, port)
    return mailbox


def send(run: Callable[..., Result], ws: Workspace, kind: str, *args: str) -> Result:
    return run("-w", ws.root, "send", kind, "--cycle", CYCLE, *args)


def sent_json(run: Callable[..., Result], ws: Workspace, kind: str, *args: str
              ) -> dict[str, Any]:
    result = send(run, ws, kind, "--json", *args)
    return cast(dict[str, Any], json.loads(result.stdout))


def parse(data: bytes) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(data))


def drafts(ws: Workspace, kind: str) -> dict[str, EmailMessage]:
    folder = ws.cycle_dir(CYCLE) / "outbox" / kind
    return {p.name: parse(p.read_bytes()) for p in sorted(folder.glob("*.eml"))}


def attached(message: EmailMessage) -> dict[str, bytes]:
    return {str(part.get_filename()): cast(bytes, part.get_payload(decode=True))
            for part in message.iter_attachments()}


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def recorded(ws: Workspace) -> list[tuple[str, str, str, str, str]]:
    """(kind, about, recipients, cc, message id) of every message recorded."""
    with raw_database(ws) as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            "SELECT kind, about, recipients, cc, message_id FROM messages ORDER BY id")]


def delivered(mailbox: Mailbox) -> list[tuple[str, str]]:
    """(Message-ID, recipient) of everything the server accepted."""
    return sorted((r.message_id, a.casefold()) for r in mailbox.received for a in r.rcpt_tos)


def past_due(ws: Workspace) -> None:
    """The cycle's due date has passed: returns are overdue, and feedback no longer waits
    for a self-reflection."""
    with raw_database(ws) as conn:
        conn.execute("UPDATE cycles SET due_date = '2020-01-01'")


def moderate(run: Callable[..., Result], ws: Workspace, tmp_path: Path,
             grade: str = "Outstanding", seed: int = 1) -> list[str]:
    """`qaudit moderate select` (a first sample, or a top-up), and the Practice Leads'
    outcomes for its new picks, every one graded ``grade``, taken back by `qaudit moderate
    ingest`. Returns the references it picked."""
    result = run("-w", ws.root, "moderate", "select", "--cycle", CYCLE, "--seed", str(seed),
                 "--json")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    workbook = Path(data["workbook"])
    filled = tmp_path / "moderated" / workbook.name
    positions = fill_forms.fill_moderation(workbook, filled, random.Random(1))
    fill_forms.fill_moderation(workbook, filled, random.Random(1),
                               overrides={f"mod_{n}_grade": grade for n in positions})
    assert run("-w", ws.root, "moderate", "ingest", filled).code == 0
    return cast(list[str], data["references"])


def fill_audits(run: Callable[..., Result], ws: Workspace, cases: list[Allocated],
                folder: Path, grade: str = "Good") -> None:
    """Audit forms of ``cases`` filled in and taken back by `qaudit ingest`."""
    rng = random.Random(7)
    for case in cases:
        form = ws.cycle_dir(CYCLE) / "audit-forms" / f"{case.reference}-audit.xlsx"
        fill_forms.fill_audit(form, folder / form.name, rng, grade=grade)
    assert run("-w", ws.root, "ingest", folder).code == 0


def pack_grade(message: EmailMessage, reference: str) -> str:
    html = attached(message)[f"{reference}-feedback.html"].decode()
    return html.split('<p class="grade">')[1].split("</p>")[0]


def send_on(ws: Workspace, kind: MessageKind, day: date) -> SendReport:
    """`qaudit send KIND` as the command runs it, on a day the test chooses."""
    with ws.store() as store:
        return send_messages(ws, store, SendRequest(kind, CYCLE), day)


def recorded_deliveries(ws: Workspace) -> list[tuple[str, str]]:
    """(Message-ID, recipient) of every SMTP message the record says went."""
    with raw_database(ws) as conn:
        rows = conn.execute("SELECT message_id, recipients, cc FROM messages"
                            " WHERE route = 'smtp'").fetchall()
    return sorted((mid, a.strip().casefold()) for mid, to, cc in rows
                  for a in f"{to},{cc}".split(",") if a.strip())


# --- allocations -------------------------------------------------------------------------


def test_allocations_draft_one_message_per_service_manager_with_their_workbook(
    run: Callable[..., Result], ws: Workspace
) -> None:
    result = send(run, ws, "allocations")
    assert result.code == 0, result.stderr
    managers = manager_emails(ws)
    messages = drafts(ws, "allocations")
    assert len(messages) == len(managers)
    workbooks = ws.cycle_dir(CYCLE) / "service-managers"
    cases = allocations(ws)
    for message in messages.values():
        assert message["X-Unsent"] == "1"
        assert message["From"].addresses[0].addr_spec == TEAM_MAILBOX
        assert message["Reply-To"] == TEAM_MAILBOX
        assert message["Subject"].startswith(f"[{MARK}] Case audit {CYCLE}")
        text = body(message)
        assert text.startswith(MARK) and text.rstrip().endswith(MARK)
        (address,) = [a.addr_spec for a in message["To"].addresses]
        manager = next(m for m, e in managers.items() if e == address)
        (name, data), = attached(message).items()
        assert data == (workbooks / name).read_bytes()  # the file on disk, byte for byte
        mine = [c.reference for c in cases if c.service_manager == manager]
        assert all(reference in text for reference in mine)
        assert manager not in message["Subject"]
    assert f"{len(managers)} draft(s) written" in result.stdout


def test_a_second_run_sends_nothing_twice(run: Callable[..., Result], ws: Workspace) -> None:
    send(run, ws, "allocations")
    again = sent_json(run, ws, "allocations")
    assert again["messages"] == [] and again["unchanged"] == len(manager_emails(ws))
    assert len(drafts(ws, "allocations")) == len(manager_emails(ws))


def test_dry_run_lists_recipients_and_writes_nothing(run: Callable[..., Result],
                                                     ws: Workspace) -> None:
    before = recorded(ws)
    data = sent_json(run, ws, "forms", "--dry-run")
    assert len(data["messages"]) == 2 * (len(allocations(ws)) - UNNAMED)
    assert {m["status"] for m in data["messages"]} == {"would go"}
    assert not (ws.cycle_dir(CYCLE) / "outbox").exists()
    assert recorded(ws) == before == []


def test_a_service_manager_without_an_email_is_listed_not_skipped(
    run: Callable[..., Result], ws: Workspace
) -> None:
    manager, _ = sorted(manager_emails(ws).items())[0]
    with raw_database(ws) as conn:
        conn.execute("UPDATE staff SET email = '' WHERE name = ?", (manager,))
    result = send(run, ws, "allocations")
    assert result.code == 0
    assert (f"service manager {manager}: the staff list has no email for Service Manager"
            f" {manager!r}") in result.stdout
    assert len(drafts(ws, "allocations")) == len(manager_emails(ws)) - 1


# --- forms ---------------------------------------------------------------------------------


def test_forms_go_to_each_named_auditor_and_practitioner_together_by_smtp(
    run: Callable[..., Result], ws: Workspace, relay: Mailbox
) -> None:
    result = send(run, ws, "forms", "--smtp")
    assert result.code == 0, result.stdout + result.stderr
    cases = allocations(ws)
    named, waiting = cases[:-UNNAMED], cases[-UNNAMED:]
    assert len(relay.received) == 2 * len(named)
    folder = ws.cycle_dir(CYCLE)
    for case in named:
        (to_auditor,) = relay.to(auditor_email(case.reference))
        (to_practitioner,) = relay.to(practitioner_email(case.worker_id))
        assert attached(to_auditor.message) == {
            f"{case.reference}-audit.xlsx":
                (folder / "audit-forms" / f"{case.reference}-audit.xlsx").read_bytes()}
        assert attached(to_practitioner.message) == {
            f"{case.reference}-self-reflection.xlsx":
                (folder / "self-reflection" / f"{case.reference}-self-reflection.xlsx"
                 ).read_bytes()}
        for received in (to_auditor, to_practitioner):
            assert received.mail_from == TEAM_MAILBOX
            assert received.message["X-Unsent"] is None and received.message["Date"]
    for case in waiting:
        assert not relay.to(practitioner_email(case.worker_id))
    assert f"{UNNAMED} cases wait for their Service Manager's choice" in result.stdout
    assert delivered(relay) == recorded_deliveries(ws)


def test_forms_of_a_newly_named_auditor_go_and_nothing_else(
    run: Callable[..., Result], ws: Workspace, relay: Mailbox
) -> None:
    send(run, ws, "forms", "--smtp")
    first = len(relay.received)
    cases = allocations(ws)
    with raw_database(ws) as conn:
        name_auditor(conn, cases[-1])  # a Service Manager names the auditor of a waiting case
        name_auditor(conn, cases[0], name="Another Auditor", email="another@example.org")
    result = send(run, ws, "forms", "--smtp")
    assert result.code == 0
    new = relay.received[first:]
    assert sorted(a for r in new for a in r.rcpt_tos) == sorted([
        auditor_email(cases[-1].reference), practitioner_email(cases[-1].worker_id),
        "another@example.org"])  # the practitioner of cases[0] already has their form
    assert delivered(relay) == recorded_deliveries(ws)


def test_forms_wait_together_while_the_practitioner_has_no_email(
    run: Callable[..., Result], ws: Workspace
) -> None:
    case = allocations(ws)[0]
    with raw_database(ws) as conn:
        conn.execute("UPDATE staff SET email = '' WHERE worker_id = ?", (case.worker_id,))
    result = send(run, ws, "forms")
    assert f"{case.reference} audit form and self-reflection form: the practitioner: the staff"
    assert f"the staff list has no email for worker {case.worker_id}" in result.stdout
    assert not any(name.startswith(case.reference) for name in drafts(ws, "forms"))


def test_a_refused_recipient_is_named_and_a_rerun_completes_without_duplicates(
    run: Callable[..., Result], ws: Workspace, relay: Mailbox
) -> None:
    case = allocations(ws)[3]
    refused = practitioner_email(case.worker_id)
    relay.refuse.add(refused)
    result = send(run, ws, "forms", "--smtp")
    assert result.code == 1
    assert (f"{case.reference} self-reflection form: {refused} refused (550 5.1.1 No such"
            " mailbox here)") in result.stdout
    assert not relay.to(refused)
    assert delivered(relay) == recorded_deliveries(ws)
    relay.refuse.clear()
    again = sent_json(run, ws, "forms", "--smtp")
    assert [m["to"] for m in again["messages"]] == [[refused]]
    assert len(relay.to(refused)) == 1
    assert delivered(relay) == recorded_deliveries(ws)
    assert len({r.message_id for r in relay.received}) == len(relay.received)


def test_a_copy_refused_by_the_relay_is_sent_alone_on_the_rerun(
    run: Callable[..., Result], ws: Workspace, relay: Mailbox
) -> None:
    """A message with two recipients, one refused: the other's copy is recorded, and the
    rerun sends the refused one only."""
    past_due(ws)
    assert send(run, ws, "forms").code == 0  # drafted: a reminder chases only what went
    case = allocations(ws)[AUDITS_BACK]  # audit overdue, auditor named
    manager = manager_emails(ws)[case.service_manager]
    relay.refuse.add(manager)
    assert send(run, ws, "reminders", "--smtp").code == 1
    reminder = relay.to(auditor_email(case.reference))
    assert len(reminder) == 1 and manager not in reminder[0].rcpt_tos
    assert delivered(relay) == recorded_deliveries(ws)
    relay.refuse.clear()
    before = len(relay.received)
    assert send(run, ws, "reminders", "--smtp").code == 0
    assert len(relay.to(auditor_email(case.reference))) == 1  # not sent again
    assert all(r.rcpt_tos == (manager,) for r in relay.received[before:]
               if manager in r.rcpt_tos)
    assert delivered(relay) == recorded_deliveries(ws)


def test_a_dropped_connection_leaves_the_record_matching_and_a_rerun_finishes(
    run: Callable[..., Result], ws: Workspace, relay: Mailbox
) -> None:
    relay.drop_after = 5
    result = send(run, ws, "forms", "--smtp")
    assert result.code == 1
    assert "Stopped: the relay closed the connection" in result.stdout
    assert "Run the command again" in result.stdout
    assert len(relay.received) == 5
    assert delivered(relay) == recorded_deliveries(ws)
    relay.drop_after = None
    assert send(run, ws, "forms", "--smtp").code == 0
    expected = 2 * (len(allocations(ws)) - UNNAMED)
    assert len(relay.received) == expected == len({r.message_id for r in relay.received})
    assert delivered(relay) == recorded_deliveries(ws)


def test_resend_sends_again_only_what_it_names(run: Callable[..., Result], ws: Workspace,
                                               relay: Mailbox) -> None:
    send(run, ws, "forms", "--smtp")
    case = allocations(ws)[1]
    first = len(relay.received)
    by_reference = sent_json(run, ws, "forms", "--smtp", "--resend", case.reference)
    assert sorted(m["about"] for m in by_reference["messages"]) == [
        f"{case.reference} audit form", f"{case.reference} self-reflection form"]
    assert {m["reason"] for m in by_reference["messages"]} == {"resend"}
    by_address = sent_json(run, ws, "forms", "--smtp", "--resend",
                           auditor_email(case.reference).upper())
    assert [m["to"] for m in by_address["messages"]] == [[auditor_email(case.reference)]]
    assert len(relay.received) == first + 3
    unknown = send(run, ws, "forms", "--resend", "2026-27-C3-999")
    assert unknown.code == 1 and "names no forms message" in unknown.stderr


def test_resend_refuses_what_never_went(run: Callable[..., Result], ws: Workspace,
                                        relay: Mailbox) -> None:
    case = allocations(ws)[1]
    never = send(run, ws, "forms", "--smtp", "--resend", case.reference)
    assert never.code == 1
    assert (f"--resend '{case.reference}' names only forms messages that never went"
            f" ({case.reference} audit form, {case.reference} self-reflection form)"
            ) in never.stderr
    assert "without --resend" in never.stderr and "Nothing was sent" in never.stderr
    assert relay.received == [] and recorded(ws) == []


def test_resend_sends_again_what_went_and_lists_what_never_did(
    run: Callable[..., Result], ws: Workspace, relay: Mailbox
) -> None:
    """The relay refused the practitioner: their form never went. A resend of the case
    sends the auditor's form again, not the practitioner's for the first time."""
    case = allocations(ws)[1]
    practitioner = practitioner_email(case.worker_id)
    relay.refuse.add(practitioner)
    assert send(run, ws, "forms", "--smtp").code == 1
    relay.refuse.clear()
    before = len(relay.received)
    data = sent_json(run, ws, "forms", "--smtp", "--resend", case.reference)
    assert [(m["about"], m["to"]) for m in data["messages"]] == [
        (f"{case.reference} audit form", [auditor_email(case.reference)])]
    assert [r.rcpt_tos for r in relay.received[before:]] == [(auditor_email(case.reference),)]
    assert (f"Not resent, as it never went: {case.reference} self-reflection form. Run"
            f" `qaudit send forms --cycle '{CYCLE}'` without --resend") in data["waiting"][-1]
    to_them = send(run, ws, "forms", "--smtp", "--resend", practitioner)
    assert to_them.code == 1 and f"that never went to {practitioner}" in to_them.stderr
    assert not relay.to(practitioner)
    assert delivered(relay) == recorded_deliveries(ws)


# --- reminders -----------------------------------------------------------------------------


def test_nothing_is_chased_before_the_due_date(run: Callable[..., Result],
                                               ws: Workspace) -> None:
    data = sent_json(run, ws, "reminders")
    assert data["messages"] == [] and "Nothing is overdue yet" in data["waiting"][0]


def test_reminders_chase_only_forms_that_went_to_whom_they_chase(
    run: Callable[..., Result], ws: Workspace
) -> None:
    past_due(ws)
    early = sent_json(run, ws, "reminders")
    assert early["messages"] == []
    cases = allocations(ws)
    named = len(cases) - UNNAMED
    forms, workbooks = early["waiting"][1:]
    assert forms.startswith(f"{2 * named - AUDITS_BACK - REFLECTIONS_BACK} overdue forms not"
                            f" chased ({cases[REFLECTIONS_BACK].reference} self-reflection"
                            " form, ")
    assert forms.endswith(" and 21 more): the forms were never sent: run `qaudit send forms"
                          f" --cycle '{CYCLE}'` first; the next `qaudit send reminders`"
                          " chases them.")
    assert workbooks == (
        f"{UNNAMED} overdue audits with no auditor named not chased ({cases[-2].reference},"
        f" {cases[-1].reference}): the Service Manager's workbook was never sent: run"
        f" `qaudit send allocations --cycle '{CYCLE}'` first; the next `qaudit send"
        " reminders` chases them.")
    assert send(run, ws, "allocations").code == 0
    assert send(run, ws, "forms").code == 0
    chased = sent_json(run, ws, "reminders")
    assert len(chased["messages"]) == 2 * named - AUDITS_BACK - REFLECTIONS_BACK + UNNAMED
    assert not any("never sent" in w for w in chased["waiting"])


def test_the_second_reminder_counts_its_days_on_the_send_jobs_clock(ws: Workspace) -> None:
    """Run for a day the test chooses, the first reminder is dated that day: the second
    goes [mail] escalate_after_days (7) later, not 7 days after the machine's date."""
    send_on(ws, MessageKind.FORMS, date.today())
    day = date.today() + timedelta(days=40)  # 30 days past the due date
    first = send_on(ws, MessageKind.REMINDERS, day)
    assert first.outcomes and all(o.about.endswith(" reminder") for o in first.outcomes)
    six = send_on(ws, MessageKind.REMINDERS, day + timedelta(days=6))
    assert six.outcomes == ()
    assert (f"second reminders to Service Managers due from"
            f" {day + timedelta(days=7):%d/%m/%Y}.") in six.waiting[-1]
    seven = send_on(ws, MessageKind.REMINDERS, day + timedelta(days=7))
    assert seven.outcomes and all(o.about.endswith(" escalation") for o in seven.outcomes)
    assert len(seven.outcomes) == len([o for o in first.outcomes
                                       if o.about.endswith("form reminder")])


def test_overdue_returns_are_chased_then_escalated_to_the_service_manager(
    run: Callable[..., Result], ws: Workspace, relay: Mailbox
) -> None:
    past_due(ws)
    assert send(run, ws, "allocations").code == 0  # drafted, so the relay sees reminders only
    assert send(run, ws, "forms").code == 0
    cases = allocations(ws)
    managers = manager_emails(ws)
    assert send(run, ws, "reminders", "--smtp").code == 0
    audit_overdue = cases[AUDITS_BACK]
    (reminder,) = relay.to(auditor_email(audit_overdue.reference))
    assert reminder.message["Cc"].addresses[0].addr_spec == managers[
        audit_overdue.service_manager]
    assert attached(reminder.message) == {
        f"{audit_overdue.reference}-audit.xlsx":
            (ws.cycle_dir(CYCLE) / "audit-forms" / f"{audit_overdue.reference}-audit.xlsx"
             ).read_bytes()}
    reflection_overdue = cases[REFLECTIONS_BACK]
    assert len(relay.to(practitioner_email(reflection_overdue.worker_id))) == 1
    unnamed = cases[-1]
    assert not relay.to(practitioner_email(unnamed.worker_id))  # their form never went
    to_manager = [r for r in relay.to(managers[unnamed.service_manager])
                  if unnamed.reference in r.message["Subject"]]
    assert len(to_manager) == 1 and to_manager[0].message["Cc"] is None
    before = len(relay.received)
    assert send(run, ws, "reminders", "--smtp").code == 0
    assert len(relay.received) == before  # the second reminder waits for its days
    with raw_database(ws) as conn:
        conn.execute("UPDATE messages SET at = '2020-01-02T09:00:00+00:00'")
    assert send(run, ws, "reminders", "--smtp").code == 0
    escalations = relay.received[before:]
    assert escalations and all(
        "second reminder" in r.message["Subject"] and len(r.rcpt_tos) == 1
        and r.rcpt_tos[0] in managers.values() for r in escalations)
    assert any(audit_overdue.reference in r.message["Subject"] for r in escalations)
    assert delivered(relay) == recorded_deliveries(ws)


# --- feedback ------------------------------------------------------------------------------


def test_feedback_pack_goes_to_the_practitioner_and_line_manager(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    sampled = moderate(run, ws, tmp_path)
    data = sent_json(run, ws, "feedback")
    cases = allocations(ws)
    # audit and self-reflection back (the due date has not passed), grade settled
    ready = cases[:REFLECTIONS_BACK]
    assert sorted(m["about"] for m in data["messages"]) == sorted(
        f"{c.reference} feedback" for c in ready)
    assert ready[0].reference not in sampled  # its pack shows the auditor's grade
    assert any("waiting for the practitioner's self-reflection" in w for w in data["waiting"])
    messages = drafts(ws, "feedback")
    first = messages[f"{ready[0].reference}-feedback.eml"]
    assert sorted(a.addr_spec for a in first["To"].addresses) == sorted(
        [practitioner_email(ready[0].worker_id), line_manager_email(ready[0].worker_id)])
    (name, html_bytes), = attached(first).items()
    assert name == f"{ready[0].reference}-feedback.html"
    pack = ws.cycle_dir(CYCLE) / "feedback" / name
    assert pack.read_bytes() == html_bytes
    html = html_bytes.decode()
    assert html.count(MARK) >= 2 and "Good" in html
    assert "<script>" not in html and "&lt;script&gt;" in html  # user text stays text
    assert "I involved the person&#39;s daughter" in html  # the self-reflection beside it
    assert "feedback" in first["Subject"] and ready[0].worker_name not in first["Subject"]


def test_feedback_of_a_sampled_audit_waits_for_moderation(
    run: Callable[..., Result], ws: Workspace
) -> None:
    assert run("-w", ws.root, "moderate", "select", "--cycle", CYCLE, "--seed", "1").code == 0
    data = sent_json(run, ws, "feedback")
    assert any("in the moderation sample and not moderated yet" in w for w in data["waiting"])
    assert len(data["messages"]) < REFLECTIONS_BACK


def test_no_feedback_goes_before_the_moderation_sample_then_each_pack_once(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    """A pack sent before the sample is drawn could be followed by a second with the
    moderators' grade: every pack waits for the sample, and a sampled one for its outcome."""
    past_due(ws)
    early = sent_json(run, ws, "feedback")
    assert early["messages"] == []
    assert (f"{AUDITS_BACK} audits back, waiting for the cycle's moderation sample: no"
            " feedback goes before it is drawn, as an audit it picks takes the moderators'"
            f" grade. Run `qaudit moderate select --cycle '{CYCLE}'`, then `qaudit moderate"
            " ingest` the moderators' workbook.") in early["waiting"]
    sampled = moderate(run, ws, tmp_path, "Outstanding")
    assert sampled
    data = sent_json(run, ws, "feedback")
    back = allocations(ws)[:AUDITS_BACK]
    assert sorted(m["about"] for m in data["messages"]) == sorted(
        f"{c.reference} feedback" for c in back)
    packs = drafts(ws, "feedback")
    assert len(packs) == AUDITS_BACK
    for case in back:
        expected = "Outstanding" if case.reference in sampled else "Good"
        assert pack_grade(packs[f"{case.reference}-feedback.eml"], case.reference) == expected
    assert sent_json(run, ws, "feedback")["messages"] == []


@pytest.mark.parametrize(("seed", "grade"), [
    (1, "Outstanding"),  # the top-up picks one of the five late audits
    (4, "Outstanding"),  # ... one whose pack went, and the moderators change its grade
    (4, "Good"),  # ... one whose pack went, and the moderators agree
])
def test_feedback_of_audits_back_after_the_sample_waits_for_its_top_up(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path, seed: int, grade: str
) -> None:
    """Five more audits come back after the sample was drawn and the first packs went:
    20% of 11 is 3, the sample holds 2, so `moderate select` would add one, and it may pick
    any audit outside the sample. The five wait for it; then each goes once, with its grade
    of record. A pack that went before the top-up picked its audit goes again only if the
    moderators changed the grade (docs/sending.md)."""
    past_due(ws)
    cases = allocations(ws)
    first = moderate(run, ws, tmp_path, "Outstanding")
    assert len(sent_json(run, ws, "feedback")["messages"]) == AUDITS_BACK
    late = cases[AUDITS_BACK:AUDITS_BACK + 5]
    fill_audits(run, ws, late, tmp_path / "late")
    held = sent_json(run, ws, "feedback")
    assert (held["messages"], held["unchanged"]) == ([], AUDITS_BACK)
    assert ("5 audits outside the moderation sample, waiting for it to be topped up (it holds"
            f" {len(first)} audits; 20% of the 11 returned is 3)") in " ".join(held["waiting"])
    assert f"`qaudit moderate select --cycle '{CYCLE}'` to top it up" in " ".join(
        held["waiting"])
    (picked,) = moderate(run, ws, tmp_path, grade, seed=seed)
    done = sent_json(run, ws, "feedback")
    reasons = {m["about"]: m["reason"] for m in done["messages"]}
    late_refs = {c.reference for c in late}
    corrected = {f"{picked} feedback": "changed"} if (
        picked not in late_refs and grade != "Good") else {}
    assert (picked in late_refs) is (seed == 1)
    assert reasons == {**{f"{c.reference} feedback": "new" for c in late}, **corrected}
    packs = drafts(ws, "feedback")
    for case in late:
        expected = grade if case.reference == picked else "Good"
        assert pack_grade(packs[f"{case.reference}-feedback.eml"], case.reference) == expected
    if corrected:  # the corrected pack, beside the first
        assert pack_grade(packs[f"{picked}-feedback-2.eml"], picked) == grade
    assert len(packs) == AUDITS_BACK + len(late) + len(corrected)
    assert sent_json(run, ws, "feedback")["messages"] == []


# --- reports -------------------------------------------------------------------------------


def test_reports_are_refused_until_written(run: Callable[..., Result], ws: Workspace) -> None:
    shutil.rmtree(ws.cycle_dir(CYCLE) / "reports")
    result = send(run, ws, "reports")
    assert result.code == 1
    assert "have not been written yet" in result.stderr and "qaudit report --cycle" in (
        result.stderr)


def test_quadrant_reports_go_to_directors_and_service_managers_and_highlights_to_the_network(
    run: Callable[..., Result], ws: Workspace, relay: Mailbox
) -> None:
    assert send(run, ws, "reports", "--smtp").code == 0
    reports = ws.cycle_dir(CYCLE) / "reports"
    (mid,) = relay.to(DIRECTOR)
    assert attached(mid.message) == {
        f"{SLUG}-quadrant-mid.html": (reports / f"{SLUG}-quadrant-mid.html").read_bytes()}
    managers = manager_emails(ws)
    mid_managers = {managers[c.service_manager] for c in allocations(ws) if c.quadrant == "Mid"}
    assert mid_managers <= set(mid.rcpt_tos)
    assert len(relay.to(COUNTYWIDE)) == len(ws.settings.quadrants)  # copied on every one
    (highlights,) = relay.to(NETWORK[0])
    assert list(attached(highlights.message)) == [f"{SLUG}-highlights.html"]
    assert all("-internal" not in name for r in relay.received for name in attached(r.message))
    assert delivered(relay) == recorded_deliveries(ws)


# --- privacy, settings, templates ---------------------------------------------------------


def test_no_subject_names_a_person_or_holds_an_id(run: Callable[..., Result],
                                                  ws: Workspace, tmp_path: Path) -> None:
    past_due(ws)
    moderate(run, ws, tmp_path)
    with raw_database(ws) as conn:
        people = [r for row in conn.execute(
            "SELECT person_id, record_id, worker_id, worker_name, service_manager, team"
            " FROM current_allocations") for r in row if r]
        people += [r for (r,) in conn.execute("SELECT auditor_name FROM auditor_assignments")]
    for kind in ("allocations", "forms", "reminders", "feedback", "reports"):
        assert send(run, ws, kind).code == 0
    subjects = [m["Subject"] for kind in ("allocations", "forms", "reminders", "feedback",
                                          "reports") for m in drafts(ws, kind).values()]
    assert len(subjects) > 50 and len(drafts(ws, "feedback")) == AUDITS_BACK
    for subject in subjects:
        assert subject.startswith(f"[{MARK}] ")
        assert not [p for p in people if p in subject], subject


def test_a_corrected_name_in_the_staff_list_sends_nothing_again(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    """Names are shown in messages, but a corrected spelling is not news to anyone: only
    what a message says that matters (files, reference, due date, a pack's grade and
    texts) makes it changed."""
    past_due(ws)
    moderate(run, ws, tmp_path)
    kinds = ("allocations", "forms", "feedback")
    first = {kind: len(sent_json(run, ws, kind)["messages"]) for kind in kinds}
    assert all(first.values())
    with raw_database(ws) as conn:
        conn.execute("UPDATE staff SET name = upper(name), line_manager = line_manager || ' Jr'")
    for kind in kinds:
        again = sent_json(run, ws, kind)
        assert (again["messages"], again["unchanged"]) == ([], first[kind]), kind


def test_hostile_staff_rows_end_in_clean_refusals(run: Callable[..., Result],
                                                  ws: Workspace) -> None:
    cases = allocations(ws)
    with raw_database(ws) as conn:
        add_staff(conn, cases[0].worker_id, "=HYPERLINK(\"http://x\")\x1b[31m",
                  "victim@example.org\r\nBcc: everyone@example.org")
        add_staff(conn, cases[1].worker_id, "Name " * 10_000, "a@b@example.org")
        add_staff(conn, cases[2].worker_id, "Zoë\u202eNairb", "zoe@example.org")
    result = send(run, ws, "forms")
    assert result.code == 0
    assert "\x1b" not in result.stdout
    assert "which is not an email address" in result.stdout
    messages = drafts(ws, "forms")
    assert not any(name.startswith((cases[0].reference, cases[1].reference))
                   for name in messages)
    zoe = messages[f"{cases[2].reference}-self-reflection-form.eml"]
    assert zoe["To"].addresses[0].display_name == "ZoëNairb"
    assert all(m["Bcc"] is None for m in messages.values())


ENCODED_WORD = "=?utf-8?q?Ann=0D=0ABcc:_outside@evil.example?="


@pytest.mark.parametrize("route", ["--to-outbox", "--smtp"])
def test_a_name_that_looks_like_an_encoded_word_adds_no_header(
    run: Callable[..., Result], ws: Workspace, relay: Mailbox, route: str
) -> None:
    """A Service Manager names an auditor ``=?utf-8?q?Ann=0D=0ABcc:_outside@...?=``: the
    email package would decode it into a line break and a Bcc (CVE-2024-6923). It is shown
    as the text it is, in the draft and in what the relay gets, and goes nowhere else."""
    cases = allocations(ws)
    with raw_database(ws) as conn:
        name_auditor(conn, cases[0], name=ENCODED_WORD)
        add_staff(conn, cases[1].worker_id, f"Jo {ENCODED_WORD}",
                  practitioner_email(cases[1].worker_id))
    assert send(run, ws, "forms", route).code == 0
    messages = (list(drafts(ws, "forms").values()) if route == "--to-outbox"
                else [r.message for r in relay.received])
    assert len(messages) == 2 * (len(cases) - UNNAMED)
    assert all(m["Bcc"] is None for m in messages)
    assert not relay.to("outside@evil.example")
    names = {a.display_name for m in messages for a in m["To"].addresses}
    assert {"= ?utf-8?q?Ann=0D=0ABcc:_outside@evil.example?=",
            "Jo = ?utf-8?q?Ann=0D=0ABcc:_outside@evil.example?="} <= names


def test_smtp_without_a_relay_or_a_password_is_refused_before_anything_goes(
    run: Callable[..., Result], ws: Workspace, relay: Mailbox,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    with edit_settings(ws.root) as settings:
        settings["mail"]["host"] = ""
    result = send(run, ws, "forms", "--smtp")
    assert result.code == 1 and "[mail] host is not set" in result.stderr
    with edit_settings(ws.root) as settings:
        settings["mail"]["host"] = "127.0.0.1"
        settings["mail"]["user"] = "qa.team"
    monkeypatch.delenv("QAUDIT_SMTP_PASSWORD", raising=False)
    result = send(run, ws, "forms", "--smtp")
    assert result.code == 1 and "set the environment variable QAUDIT_SMTP_PASSWORD" in (
        result.stderr)
    assert relay.received == [] and recorded(ws) == []


def test_a_workspace_template_is_used_and_a_broken_one_sends_nothing(
    run: Callable[..., Result], ws: Workspace
) -> None:
    own = ws.templates / "messages"
    own.mkdir(parents=True)
    (own / "allocations.txt.j2").write_text("Hello {{ manager }}: {{ cases }} cases.\n")
    assert send(run, ws, "allocations").code == 0
    message = next(iter(drafts(ws, "allocations").values()))
    assert "cases." in body(message) and "Hello " in body(message)
    assert body(message).startswith(MARK)  # the marking is not the template's to drop
    (own / "forms.txt.j2").write_text("Hello {{ auditor }}\n{% if %}\n")
    result = send(run, ws, "forms")
    assert result.code == 1 and "forms.txt.j2, line 2" in result.stderr
    (own / "forms.txt.j2").write_text("Hello\n{{ reference.__class__.__mro__ }}\n")
    result = send(run, ws, "forms")
    assert result.code == 1 and "forms.txt.j2, line 2" in result.stderr
    assert "unsafe" in result.stderr and "Nothing was sent" in result.stderr
    assert not (ws.cycle_dir(CYCLE) / "outbox" / "forms").exists()


# --- drafts: what is on disk is what is recorded -------------------------------------------


def test_a_failure_part_way_leaves_only_recorded_drafts_and_a_rerun_finishes(
    run: Callable[..., Result], ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qaudit.db.mail import Messages
    from qaudit.errors import StorageError

    record = Messages.record
    calls = 0

    def full_disk_at_the_fourth(self: Messages, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise StorageError("the workspace database could not be written (disk full)")
        record(self, *args, **kwargs)

    monkeypatch.setattr(Messages, "record", full_disk_at_the_fourth)
    result = send(run, ws, "forms")
    assert result.code == 1 and "disk full" in result.stderr
    outbox = ws.cycle_dir(CYCLE) / "outbox" / "forms"
    on_disk = sorted(p.relative_to(ws.root).as_posix() for p in outbox.glob("*.eml"))
    with raw_database(ws) as conn:
        paths = sorted(p for (p,) in conn.execute("SELECT path FROM messages"))
    assert on_disk == paths and len(paths) == 3
    monkeypatch.setattr(Messages, "record", record)
    assert send(run, ws, "forms").code == 0
    assert len(drafts(ws, "forms")) == 2 * (len(allocations(ws)) - UNNAMED)
    assert not any(name.endswith("-2.eml") for name in drafts(ws, "forms"))


def test_a_draft_left_by_a_killed_run_is_written_over(run: Callable[..., Result],
                                                      ws: Workspace) -> None:
    case = allocations(ws)[0]
    outbox = ws.cycle_dir(CYCLE) / "outbox" / "forms"
    outbox.mkdir(parents=True)
    (outbox / f"{case.reference}-audit-form.eml").write_bytes(b"half a message")
    assert send(run, ws, "forms").code == 0
    message = drafts(ws, "forms")[f"{case.reference}-audit-form.eml"]
    assert message["X-Unsent"] == "1" and f"{case.reference}-audit-form-2.eml" not in (
        drafts(ws, "forms"))


def outbox_and_record(ws: Workspace) -> tuple[list[str], list[str]]:
    """The drafts on disk (and anything else left in the outbox), and the paths recorded."""
    outbox = ws.cycle_dir(CYCLE) / "outbox" / "forms"
    on_disk = sorted(p.relative_to(ws.root).as_posix() for p in outbox.glob("*")) if (
        outbox.exists()) else []
    with raw_database(ws) as conn:
        paths = sorted(p for (p,) in conn.execute("SELECT path FROM messages"))
        orphans = conn.execute(
            "SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM events e WHERE"
            " e.kind = 'message_drafted' AND json_extract(e.detail_json, '$.message_id')"
            " = m.message_id)").fetchone()[0]
    assert orphans == 0  # every row recorded has its event, and the other way round
    return on_disk, paths


def fail_recording_the(ws: Workspace, number: int, how: str) -> None:
    """The record of the ``number``-th draft fails as its event is stored: ``ABORT`` fails
    that statement alone, ``ROLLBACK`` ends the whole transaction (as a full disk may)."""
    with raw_database(ws) as conn:
        conn.execute(
            "CREATE TRIGGER fail_recording BEFORE INSERT ON events"
            f" WHEN NEW.kind = 'message_drafted' AND (SELECT count(*) FROM messages) >= {number}"
            f" BEGIN SELECT RAISE({how}, 'disk full'); END")


def recording_works_again(ws: Workspace) -> None:
    with raw_database(ws) as conn:
        conn.execute("DROP TRIGGER fail_recording")


def assert_a_rerun_drafts_each_letter_once(ws: Workspace) -> None:
    with ws.store() as store:
        report = send_messages(ws, store, SendRequest(MessageKind.FORMS, CYCLE), date.today())
    assert not report.failed
    on_disk, paths = outbox_and_record(ws)
    expected = 2 * (len(allocations(ws)) - UNNAMED)
    assert on_disk == paths and len(paths) == expected
    assert not any(p.endswith("-2.eml") for p in paths)


@pytest.mark.parametrize(("how", "hold", "kept"), [
    # The fifth draft's row is stored but its event is not: the row goes with it; the four
    # before it, in the same transaction, are kept.
    ("ABORT", None, 4),
    # The disk ends the transaction (a rollback): every draft written in it is removed.
    ("ROLLBACK", None, 0),
    # A long batch is committed a transaction at a time (here a draft each): the failure
    # ends only its own.
    ("ROLLBACK", 0.0, 4),
], ids=["row-fails", "transaction-ends", "earlier-transactions-kept"])
@pytest.mark.sqlite_only  # made with SQLite's own tools
def test_a_record_failing_part_way_leaves_the_outbox_as_the_record_and_a_rerun_finishes(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, how: str, hold: float | None, kept: int
) -> None:
    from qaudit.mail import delivery

    if hold is not None:
        monkeypatch.setattr(delivery, "HOLD_SECONDS", hold)
    fail_recording_the(ws, 5, how)
    with ws.store() as store, pytest.raises(sqlite3.IntegrityError, match="disk full"):
        send_messages(ws, store, SendRequest(MessageKind.FORMS, CYCLE), date.today())
    on_disk, paths = outbox_and_record(ws)
    assert on_disk == paths and len(paths) == kept
    recording_works_again(ws)
    assert_a_rerun_drafts_each_letter_once(ws)


class InterruptedCommit:
    """The store's connection, but its first COMMIT is interrupted as it returns, once the
    rows are committed: by Ctrl-C (the signal, which a batch of drafts holds until it is
    committed), or by a KeyboardInterrupt raised there and then (a second Ctrl-C, which is
    not held)."""

    def __init__(self, conn: sqlite3.Connection, how: str) -> None:
        self._conn, self._how = conn, how

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        cursor = self._conn.execute(sql, *args)
        if sql == "COMMIT" and self._how:
            how, self._how = self._how, ""
            if how == "signal":
                signal.raise_signal(signal.SIGINT)
            else:
                raise KeyboardInterrupt
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.mark.parametrize("how", ["signal", "raised"])
def test_ctrl_c_as_a_batch_of_drafts_is_committed_keeps_every_draft_it_recorded(
    ws: Workspace, how: str
) -> None:
    """The batch's rows are committed when Ctrl-C comes: its drafts stay (the record says
    they were drafted), and the rerun drafts the rest, each letter once."""
    with ws.store() as store, pytest.raises(KeyboardInterrupt):
        store.conn = InterruptedCommit(store.conn, how)  # type: ignore[assignment]
        send_messages(ws, store, SendRequest(MessageKind.FORMS, CYCLE), date.today())
    on_disk, paths = outbox_and_record(ws)
    assert on_disk == paths and paths
    assert_a_rerun_drafts_each_letter_once(ws)


def test_a_run_killed_part_way_through_a_batch_leaves_nothing_a_rerun_repeats(
    ws: Workspace
) -> None:
    """The process dies with five drafts written and recorded in a transaction not yet
    committed: the record holds none of them, and the rerun writes over the five (no
    ``-2`` copies) and drafts every letter once."""
    killed_after_recording(ws.root, 5, "send", "forms", "--cycle", CYCLE)
    on_disk, paths = outbox_and_record(ws)
    assert paths == [] and len([p for p in on_disk if p.endswith(".eml")]) == 5
    assert_a_rerun_drafts_each_letter_once(ws)


def test_a_corrected_audit_sends_its_feedback_again_as_a_new_draft(
    run: Callable[..., Result], ws: Workspace, tmp_path: Path
) -> None:
    sampled = moderate(run, ws, tmp_path)
    assert allocations(ws)[1].reference not in sampled  # its grade is the auditor's
    assert send(run, ws, "feedback").code == 0
    case = allocations(ws)[1]
    form = ws.cycle_dir(CYCLE) / "audit-forms" / f"{case.reference}-audit.xlsx"
    fill_forms.fill_audit(form, tmp_path / form.name, random.Random(1), grade="Outstanding")
    assert run("-w", ws.root, "ingest", tmp_path / form.name, "--replace").code == 0
    data = sent_json(run, ws, "feedback")
    assert [(m["about"], m["reason"]) for m in data["messages"]] == [
        (f"{case.reference} feedback", "changed")]
    again = drafts(ws, "feedback")[f"{case.reference}-feedback-2.eml"]
    assert b"Outstanding" in attached(again)[f"{case.reference}-feedback.html"]
    assert f"{case.reference}-feedback.eml" in drafts(ws, "feedback")  # the first is kept


def test_markdown_reports_go_with_their_charts(run: Callable[..., Result],
                                               ws: Workspace) -> None:
    reports = ws.cycle_dir(CYCLE) / "reports"
    for page in reports.glob("*.html"):
        page.unlink()
    assert send(run, ws, "reports").code == 0
    mid = drafts(ws, "reports")["quadrant-mid.eml"]
    assert sorted(attached(mid)) == [f"{SLUG}-quadrant-mid-grades.svg",
                                     f"{SLUG}-quadrant-mid-trend.svg",
                                     f"{SLUG}-quadrant-mid.md"]


def test_two_ways_out_at_once_is_a_mistake(run: Callable[..., Result], ws: Workspace) -> None:
    result = send(run, ws, "forms", "--to-outbox", "--smtp")
    assert result.code == 1 and "give one" in result.stderr
    assert send(run, ws, "forms", "--to-outbox").code == 0


def test_sending_loads_no_data_or_spreadsheet_library(ws: Workspace) -> None:
    """`qaudit send` finds what to attach by its name (``qaudit.layout``) without loading
    what wrote it: no pandas, numpy, openpyxl or matplotlib, whatever the kind."""
    script = (
        "import sys\n"
        "from qaudit import cli\n"
        "for kind in sys.argv[3:]:\n"
        "    try:\n"
        "        cli.main(['-w', sys.argv[1], 'send', kind, '--cycle', sys.argv[2],"
        " '--dry-run'])\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, (kind, exc.code)\n"
        "heavy = {'pandas', 'numpy', 'openpyxl', 'matplotlib'}\n"
        "print('LOADED', sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n")
    kinds = ["allocations", "forms", "reminders", "feedback", "reports"]
    done = subprocess.run([sys.executable, "-c", script, str(ws.root), CYCLE, *kinds],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "LOADED []"
