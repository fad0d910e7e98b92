"""Nothing sent twice, nothing missed: for any interleaving of `send` runs, auditors named,
returns coming back (and corrected), the moderation sample drawn or topped up and its
outcomes recorded, days passing, and a relay that refuses an address or drops the
connection part-way, every message reaches each of its recipients exactly once, the record
matches what the server received, and nothing due is left unsent. And no feedback pack
goes before its grade of record is settled: the cycle's sample drawn, and the audit's
outcome recorded if the sample holds it.

The send job runs as the command runs it, against a real SMTP server on this machine; the
named auditors, the returns and the moderation are stored as the workbook read-back,
ingest and `qaudit moderate` store them.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import copy_workspace, raw_database
from mail.people import CYCLE, allocations, drawn_cycle, name_auditor, use_relay
from mail.smtp_server import Mailbox, smtp_server
from qaudit.db import NewReturn, Outcome, Store
from qaudit.errors import QauditError
from qaudit.jobs.moderate import select
from qaudit.jobs.send import SendReport, SendRequest, send_messages
from qaudit.mail.kinds import MessageKind, Route
from qaudit.workspace import Workspace, open_workspace

DUE_IN_DAYS = 10
KINDS = (MessageKind.ALLOCATIONS, MessageKind.FORMS, MessageKind.REMINDERS,
         MessageKind.FEEDBACK)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Mailbox]]:
    """Eight cases in two quadrants, nobody named yet, pointed at a running relay."""
    root = tmp_path_factory.mktemp("exactly-once") / "ws"
    drawn_cycle(root, per_stratum=1, due_in_days=DUE_IN_DAYS, quadrants=("Mid", "West"))
    with smtp_server() as (mailbox, port):
        use_relay(root, port)
        yield root, mailbox


@dataclass(frozen=True)
class Step:
    action: str  # name, audit, reflect, sample, moderate, send, days, refuse, drop
    number: int = 0
    kind: MessageKind = MessageKind.FORMS


STEPS = st.one_of(
    st.builds(Step, st.sampled_from(["name", "audit", "reflect", "refuse"]),
              st.integers(0, 7)),
    st.builds(Step, st.sampled_from(["audit", "sample", "moderate"]), st.integers(0, 7)),
    st.builds(Step, st.just("send"), st.just(0), st.sampled_from(KINDS)),
    st.builds(Step, st.just("days"), st.integers(1, 12)),
    st.builds(Step, st.just("drop"), st.integers(0, 4)),
)


def store_return(ws: Workspace, allocation_id: int, kind: str, version: int) -> None:
    """A return coming back (or a corrected one replacing it), as ingest stores it."""
    grade = ("good", "adequate", "requires_improvement")[version % 3]
    fields = ({"grade": grade, "rationale": f"Version {version}.", "strengths": "Clear.",
               "learning": "Record more.", "auditor_name": "Ann Auditor"}
              if kind == "audit" else {"sr_went_well": f"Version {version}."})
    with ws.store() as store:
        current = store.returns.current(allocation_id, kind)
        store.returns.store(NewReturn(
            allocation_id=allocation_id, kind=kind, file_name=f"{kind}-{version}.xlsx",
            file_sha256=f"{allocation_id}-{kind}-{version}",
            content_hash=f"{allocation_id}-{kind}-{version}",
            grade=grade if kind == "audit" else None, fields=fields, answers=(), warnings=(),
            escalation=None), current)


def draw_sample(ws: Workspace, today: date) -> None:
    """`qaudit moderate select`: the first sample, or a top-up (nothing to add is fine)."""
    with ws.store() as store, contextlib.suppress(QauditError):  # no audit back yet
        select(ws, store, CYCLE, today=today, seed=1)


GRADES = ("outstanding", "good", "adequate", "requires_improvement")


def record_outcomes(ws: Workspace, number: int) -> None:
    """The Practice Leads' outcomes for every audit in the sample not moderated yet, as
    `qaudit moderate ingest` stores them."""
    with ws.store() as store:
        sample = store.moderation.current_sample(CYCLE)
        if sample is None:
            return
        done = store.moderation.current_outcomes(sample.id)
        outcome = Outcome(GRADES[number % 4], "Yes", "Yes", "Yes", "Analysis", "", "")
        items = [(i.item_id, outcome) for i in sample.items if i.item_id not in done]
        if items:
            store.moderation.save_outcomes(items, f"moderation-{number}.xlsx", f"m{number}")


def send(ws: Workspace, kind: MessageKind, today: date) -> SendReport:
    with ws.store() as store:
        report = send_messages(ws, store, SendRequest(kind, CYCLE, Route.SMTP), today,
                               environ={})
        if kind is MessageKind.FEEDBACK:
            settled(store, report)
    return report


def settled(store: Store, report: SendReport) -> None:
    """Every pack that went had its grade of record settled: the sample drawn, and the
    audit's outcome recorded if the sample holds it."""
    went = {o.reference for o in report.outcomes if o.status == "sent"}
    if not went:
        return
    assert store.moderation.current_sample(CYCLE) is not None
    for case in store.messages.cases(CYCLE):
        if case.reference in went:
            assert case.audit is not None
            assert not case.sampled or case.moderated_grade is not None


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(steps=st.lists(STEPS, max_size=12))
def test_every_message_reaches_each_recipient_exactly_once(
    world: tuple[Path, Mailbox], steps: list[Step]
) -> None:
    base, mailbox = world
    mailbox.reset()
    scratch = Path(tempfile.mkdtemp(dir=base.parent))
    try:
        copy_workspace(base, scratch / "ws")
        ws = open_workspace(scratch / "ws")
        cases = allocations(ws)
        today = date.today()
        versions: Counter[tuple[int, str]] = Counter()
        for step in steps:
            case = cases[step.number % len(cases)]
            if step.action == "name":
                versions[(case.allocation_id, "name")] += 1
                with raw_database(ws) as conn:
                    n = versions[(case.allocation_id, "name")]
                    name_auditor(conn, case, name=f"Auditor {n}",
                                 email=f"auditor-{case.reference[-3:]}-{n}@example.org")
            elif step.action in ("audit", "reflect"):
                kind = "audit" if step.action == "audit" else "self_reflection"
                versions[(case.allocation_id, kind)] += 1
                store_return(ws, case.allocation_id, kind,
                             versions[(case.allocation_id, kind)])
            elif step.action == "sample":
                draw_sample(ws, today)
            elif step.action == "moderate":
                record_outcomes(ws, step.number)
            elif step.action == "days":
                today += timedelta(days=step.number)
            elif step.action == "refuse":
                mailbox.refuse.add(f"{case.worker_id.lower()}@example.org")
            elif step.action == "drop":
                mailbox.drop_after = len(mailbox.received) + step.number
            else:
                send(ws, step.kind, today)
                mailbox.refuse.clear()
                mailbox.drop_after = None
        mailbox.refuse.clear()
        mailbox.drop_after = None
        # The cycle settles: its due date passes, the sample is drawn or topped up and
        # moderated, so every pack whose audit is back is due.
        today = max(today, date.today() + timedelta(days=DUE_IN_DAYS + 1))
        draw_sample(ws, today)
        record_outcomes(ws, len(steps))
        # The last runs, with a well-behaved relay, send what is left (a reminder is dated
        # by the run's day, so a second reminder falls due only as the simulated days pass).
        # The second round sends what the first made due: reminders of forms it sent.
        for _ in range(2):
            for kind in KINDS:
                send(ws, kind, today)

        with raw_database(ws) as conn:
            rows = conn.execute("SELECT message_id, kind, about, content_hash, recipients, cc"
                                " FROM messages").fetchall()
        what = {mid: (kind, about, digest) for mid, kind, about, digest, _, _ in rows}
        recorded = Counter((mid, a.strip()) for mid, _, _, _, to, cc in rows
                           for a in f"{to},{cc}".split(",") if a.strip())
        received = Counter((r.message_id, a) for r in mailbox.received for a in r.rcpt_tos)
        assert received == recorded  # the record is exactly what the server took
        reached = Counter((*what[mid], address) for mid, address in received.elements())
        assert max(reached.values(), default=1) == 1  # nobody got the same message twice
        with ws.store() as store:  # and nothing due is left
            for kind in KINDS:
                left = send_messages(ws, store, SendRequest(kind, CYCLE, Route.SMTP,
                                                            dry_run=True), today)
                assert left.outcomes == (), (kind, left.outcomes)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --- a batch stopped part-way: Ctrl-C, or the process killed ----------------------------------


@pytest.fixture
def named(world: tuple[Path, Mailbox], tmp_path: Path) -> Iterator[tuple[Workspace, Mailbox]]:
    """A copy of the world with every auditor named, so `send forms` has 16 messages."""
    base, mailbox = world
    mailbox.reset()
    copy_workspace(base, tmp_path / "ws")
    ws = open_workspace(tmp_path / "ws")
    with raw_database(ws) as conn:
        for case in allocations(ws):
            name_auditor(conn, case)
    yield ws, mailbox
    mailbox.reset()


def record_matches_the_server(ws: Workspace, mailbox: Mailbox) -> None:
    with raw_database(ws) as conn:
        rows = conn.execute("SELECT message_id, recipients, cc FROM messages").fetchall()
    recorded = Counter((mid, a.strip()) for mid, to, cc in rows
                       for a in f"{to},{cc}".split(",") if a.strip())
    assert Counter((r.message_id, a) for r in mailbox.received for a in r.rcpt_tos) == recorded


def killed_after_recording(root: Path, number: int, *args: str) -> None:
    """`qaudit ARGS` in a process of its own, killed (as the task manager kills it) the
    moment the ``number``-th message is recorded, before anything else happens."""
    script = (
        "import os, sys\n"
        "from qaudit import cli\n"
        "from qaudit.db.mail import Messages\n"
        "record, done = Messages.record, []\n"
        "def record_then_die(self, *args, **kwargs):\n"
        "    record(self, *args, **kwargs)\n"
        "    done.append(1)\n"
        f"    if len(done) == {number}:\n"
        "        os._exit(9)\n"
        "Messages.record = record_then_die\n"
        "cli.main(sys.argv[1:])\n")
    killed = subprocess.run([sys.executable, "-c", script, "-w", str(root), *args],
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == 9, killed.stderr


def test_ctrl_c_as_the_relay_accepts_a_message_waits_for_its_record(
    named: tuple[Workspace, Mailbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C pressed the moment the relay accepts the third message (while its record is
    being written, where a batch spends most of its time): the batch stops once the third
    is recorded, and the rerun sends the rest, nothing twice."""
    import signal

    from qaudit.mail.smtp import Relay

    ws, mailbox = named
    send_one = Relay.send

    def pressed_at_the_third(self: Relay, *args: object) -> object:
        accepted = send_one(self, *args)  # type: ignore[arg-type]
        if len(mailbox.received) == 3:
            signal.raise_signal(signal.SIGINT)
        return accepted

    monkeypatch.setattr(Relay, "send", pressed_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        send(ws, MessageKind.FORMS, date.today())
    assert len(mailbox.received) == 3
    record_matches_the_server(ws, mailbox)
    monkeypatch.undo()
    assert not send(ws, MessageKind.FORMS, date.today()).failed
    assert len(mailbox.received) == 2 * len(allocations(ws))
    record_matches_the_server(ws, mailbox)


def test_a_run_killed_after_a_message_is_recorded_sends_nothing_twice(
    named: tuple[Workspace, Mailbox]
) -> None:
    """Each message is on disk in the record before the next goes: the process killed
    right after the fourth is recorded, the rerun sends the other twelve."""
    ws, mailbox = named
    killed_after_recording(ws.root, 4, "send", "forms", "--smtp", "--cycle", CYCLE)
    assert len(mailbox.received) == 4
    record_matches_the_server(ws, mailbox)
    assert not send(ws, MessageKind.FORMS, date.today()).failed
    assert len(mailbox.received) == 2 * len(allocations(ws))
    record_matches_the_server(ws, mailbox)
