"""The status job: where a cycle stands, and who holds what.

``cycle_status`` counts per quadrant and per Service Manager (with the feedback shared and
the messages sent). ``holdings`` lists every case by the person holding it (the auditor
named for it, its Service Manager, or its practitioner), and ``overdue`` every late
return with the person to chase: the auditor named for the audit, or, while none is named,
the Service Manager who is to name one; the practitioner for a self-reflection, once its
form has gone (it goes with the audit form, when the auditor is named: until then it is
"forms not sent yet", nobody's to chase). These are the QA team's own views: they name
people, and are never published.

Whom to chase, and at which address, is decided as ``qaudit send reminders`` decides it:
the same rule for an unsent self-reflection, and the sending side's own staff lookup
(``qaudit.mail.addresses.Directory``), so ``status --overdue`` names the address a reminder
would go to, or says why there is none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from qaudit.db import Store
from qaudit.db.people import CaseHolding, SentMessages
from qaudit.errors import QauditError
from qaudit.jobs.shared_files import FilesOnShare, cycle_files, workshop_files
from qaudit.mail.addresses import Directory, Found
from qaudit.mail.kinds import MessageKind
from qaudit.mail.letters import (
    AUDIT,
    REFLECTION,
    form_about,
    reached,
    reached_map,
    workbook_about,
)
from qaudit.moderation import sample_size
from qaudit.reports import StatusRow, status_rows
from qaudit.values import person_key, uk_date

Holder = Literal["auditor", "service-manager", "practitioner"]
ChaseRole = Literal["auditor", "service manager", "practitioner"]
NOT_NAMED = "(no auditor named yet)"
#: The note of a return whose form (or workbook) qaudit never sent: `send reminders` holds
#: it rather than chase something that never reached them.
NEVER_SENT = ("not chased by `qaudit send reminders`: the {what} was never sent to them"
              " (run `qaudit send {kind}`, or chase it by hand if it went another way)")
FORMS_NOT_SENT = ("forms not sent yet: the self-reflection goes with the audit form once the"
                  " Service Manager names an auditor")


@dataclass(frozen=True)
class ModerationProgress:
    """The framework moderates 20% of all the cycle's audits: how far along that is."""

    returned: int
    selected: int
    moderated: int
    target: int  # ceil(rate x returned)
    rate: float

    @property
    def met(self) -> bool:
        return self.returned > 0 and self.moderated >= self.target

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"met": self.met}


@dataclass(frozen=True)
class FeedbackProgress:
    """Returned audits, and those whose feedback conversation with the practitioner is
    recorded (each audit once, however many conversations)."""

    returned: int
    shared: int


@dataclass(frozen=True)
class CycleStatus:
    cycle: str
    due: date
    past_due: bool
    by_quadrant: list[StatusRow]
    by_service_manager: list[StatusRow]
    moderation: ModerationProgress
    feedback: FeedbackProgress
    messages: list[SentMessages]
    files: FilesOnShare | None = None  # the cycle's files qaudit wrote, checked
    workshop_files: FilesOnShare | None = None

    def to_json(self) -> dict[str, Any]:
        def rows(key: str, items: list[StatusRow]) -> list[dict[str, Any]]:
            return [{key: r.group} | {k: v for k, v in asdict(r).items() if k != "group"}
                    for r in items]

        return {"cycle": self.cycle, "due": self.due.isoformat(),
                "by_quadrant": rows("quadrant", self.by_quadrant),
                "by_service_manager": rows("service_manager", self.by_service_manager),
                "moderation": self.moderation.to_json(),
                "feedback": asdict(self.feedback),
                "messages": [asdict(m) for m in self.messages],
                **({} if self.files is None else {"files": self.files.to_json()}),
                **({} if self.workshop_files is None
                   else {"workshop_files": self.workshop_files.to_json()})}


def _cycle(store: Store, cycle: str | None) -> tuple[str, date]:
    """The cycle asked for, else the latest with a current draw; refused if it was
    cancelled (it has no cases to show), saying so."""
    name = cycle or store.draws.latest_cycle()
    if name is None:
        cancelled = [c for c in store.draws.cycles() if c.cancelled]
        if not cancelled:
            raise QauditError("no cycle is drawn yet; run `qaudit allocate` first.")
        name = cancelled[-1].name
    found = store.draws.require_cycle(name)
    if found.cancelled:
        why = f" ({found.cancel_reason})" if found.cancel_reason else ""
        raise QauditError(
            f"cycle {found.name!r} was cancelled on {uk_date((found.cancelled_at or '')[:10])}"
            f"{why}, so it has no cases to show (`qaudit cycle list` shows it);"
            + (" no cycle is drawn now: run `qaudit allocate` to draw one." if cycle is None
               else " give another cycle with --cycle."))
    return found.name, found.due_date


def cycle_status(store: Store, cycle: str | None, today: date, rate: float,
                 root: Path | None = None) -> CycleStatus:
    """The named cycle, or the latest drawn; ``rate`` is the share to moderate unless the
    cycle's sample was drawn at another. With the workspace folder ``root``, the cycle's
    files (and the workshops') on the share against what qaudit wrote."""
    name, due = _cycle(store, cycle)
    progress = store.reporting.allocation_progress(name)
    sample = store.moderation.current_sample(name)
    rate = sample.rate if sample is not None else rate
    returned = sum(p.audit_back for p in progress)
    fed = store.people.fed_references(name)
    moderation = ModerationProgress(
        returned=returned, selected=len(sample.items) if sample else 0,
        moderated=sum(p.moderated for p in progress), target=sample_size(returned, rate),
        rate=rate,
    )
    return CycleStatus(
        cycle=name, due=due, past_due=today > due,
        by_quadrant=status_rows(progress, "quadrant", today, fed),
        by_service_manager=status_rows(progress, "service_manager", today, fed),
        moderation=moderation, feedback=FeedbackProgress(returned, len(fed)),
        messages=store.people.messages_sent(name),
        files=None if root is None else cycle_files(root, store, name),
        workshop_files=None if root is None else workshop_files(root, store),
    )


# --- who holds what ----------------------------------------------------------------------


@dataclass(frozen=True)
class CaseLine:
    """One case of the cycle: who holds each part of it, and how late each is."""

    reference: str
    quadrant: str
    audit_type: str
    practitioner: str
    worker_id: str
    practitioner_email: str
    team: str
    service_manager: str
    service_manager_email: str
    auditor: str  # '' while the Service Manager has named none
    auditor_email: str
    audit_received: str | None  # ISO; None while the audit is out
    self_reflection_back: bool
    forms_sent: bool  # an auditor is named: both forms go then (`send forms`), not before
    feedback_times: int
    last_feedback: str | None  # ISO
    audit_days_overdue: int  # 0 unless the audit is out and the due date passed
    reflection_days_overdue: int

    @property
    def overdue(self) -> bool:
        return bool(self.audit_days_overdue or self.reflection_days_overdue)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"overdue": self.overdue}


@dataclass(frozen=True)
class HolderGroup:
    """One person and the cases they hold."""

    name: str
    email: str
    cases: list[CaseLine]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "email": self.email,
                "cases": [c.to_json() for c in self.cases]}


@dataclass(frozen=True)
class Holdings:
    cycle: str
    due: date
    today: date
    by: Holder
    overdue_only: bool
    groups: list[HolderGroup]

    def to_json(self) -> dict[str, Any]:
        return {"cycle": self.cycle, "due": self.due.isoformat(),
                "today": self.today.isoformat(), "by": self.by,
                "overdue_only": self.overdue_only, "groups": [g.to_json() for g in self.groups]}


@dataclass(frozen=True)
class OverdueItem:
    """A return not in after its due date, and the person to chase for it (nobody, for a
    self-reflection whose form has not gone: ``note`` says so); ``note`` also says why
    there is no address to chase them at."""

    reference: str
    what: Literal["audit", "self-reflection"]
    chase: str  # '' when there is nobody to chase yet
    chase_role: ChaseRole | None
    email: str
    days_overdue: int
    quadrant: str
    service_manager: str
    service_manager_email: str
    note: str = ""

    @property
    def forms_not_sent(self) -> bool:
        return self.chase_role is None


@dataclass(frozen=True)
class Overdue:
    cycle: str
    due: date
    today: date
    items: list[OverdueItem]

    def to_json(self) -> dict[str, Any]:
        return {"cycle": self.cycle, "due": self.due.isoformat(),
                "today": self.today.isoformat(),
                "overdue": [asdict(i) | {"forms_not_sent": i.forms_not_sent}
                            for i in self.items]}


@dataclass(frozen=True)
class _Contacts:
    """The addresses of one case's people, as ``qaudit send`` finds them."""

    practitioner: Found
    service_manager: Found
    auditor: Found


def _contacts(h: CaseHolding, directory: Directory) -> _Contacts:
    return _Contacts(
        practitioner=directory.practitioner(h.worker_id, h.practitioner),
        service_manager=directory.service_manager(h.service_manager, [h.worker_id]),
        auditor=(directory.auditor(h.auditor, h.auditor_email) if h.auditor.strip()
                 else Found(None, "no auditor is named yet")))


def _address(found: Found) -> str:
    return found.addressee.address if found.addressee else ""


def _line(h: CaseHolding, people: _Contacts, today: date) -> CaseLine:
    late = max(0, (today - date.fromisoformat(h.due)).days)
    return CaseLine(
        reference=h.reference, quadrant=h.quadrant, audit_type=h.audit_type,
        practitioner=h.practitioner, worker_id=h.worker_id,
        practitioner_email=_address(people.practitioner), team=h.team,
        service_manager=h.service_manager,
        service_manager_email=_address(people.service_manager),
        auditor=h.auditor, auditor_email=_address(people.auditor),
        audit_received=h.audit_received if h.audit_back else None,
        self_reflection_back=h.reflection_back, forms_sent=bool(h.auditor.strip()),
        feedback_times=h.feedback_times, last_feedback=h.last_feedback,
        audit_days_overdue=0 if h.audit_back else late,
        reflection_days_overdue=0 if h.reflection_back else late,
    )


def _case_lines(store: Store, cycle: str | None, today: date, domains: Sequence[str] = ()
                ) -> tuple[str, date, list[tuple[CaseLine, _Contacts]]]:
    name, due = _cycle(store, cycle)
    directory = Directory(store.messages.contacts(), domains)
    lines = []
    for holding in store.people.case_holdings(name):
        people = _contacts(holding, directory)
        lines.append((_line(holding, people, today), people))
    return name, due, lines


def case_lines(store: Store, cycle: str | None, today: date, domains: Sequence[str] = ()
               ) -> tuple[str, date, list[CaseLine]]:
    """Every case of the cycle (the latest drawn if None), with its people's addresses."""
    name, due, lines = _case_lines(store, cycle, today, domains)
    return name, due, [line for line, _ in lines]


def holdings(store: Store, cycle: str | None, today: date, by: Holder,
             overdue_only: bool = False, domains: Sequence[str] = ()) -> Holdings:
    """Every case of the cycle (or only those with a return overdue), grouped by the
    auditor named for it, its Service Manager, or its practitioner, by name."""
    name, due, lines = case_lines(store, cycle, today, domains)
    groups: dict[str, HolderGroup] = {}
    for line in lines:
        if overdue_only and not line.overdue:
            continue
        if by == "auditor":
            key, who, email = (person_key(line.auditor), line.auditor or NOT_NAMED,
                               line.auditor_email)
        elif by == "service-manager":
            key, who, email = (person_key(line.service_manager), line.service_manager,
                               line.service_manager_email)
        else:
            key, who, email = line.worker_id, line.practitioner, line.practitioner_email
        group = groups.setdefault(key, HolderGroup(who, email, []))
        group.cases.append(line)
    ordered = sorted(groups.values(), key=lambda g: (g.name == NOT_NAMED, g.name.casefold()))
    return Holdings(name, due, today, by, overdue_only, ordered)


def overdue(store: Store, cycle: str | None, today: date, domains: Sequence[str] = ()
            ) -> Overdue:
    """Every return of the cycle not in after its due date, with the person to chase, in
    reference order: an audit before its self-reflection. Who and where is what
    ``qaudit send reminders`` would use; a self-reflection whose form has not gone (no
    auditor named) is listed as such, with nobody to chase."""
    name, due, lines = _case_lines(store, cycle, today, domains)
    record = store.draws.cycle(name)
    went = reached_map((*store.messages.sent(record.id, MessageKind.ALLOCATIONS),
                        *store.messages.sent(record.id, MessageKind.FORMS))
                       ) if record is not None else {}
    items: list[OverdueItem] = []
    for line, people in lines:
        def item(what: Literal["audit", "self-reflection"], role: ChaseRole | None,
                 found: Found | None, chase: str, days: int, line: CaseLine = line
                 ) -> OverdueItem:
            note = FORMS_NOT_SENT if found is None else found.problem
            if found is not None and found.addressee is not None:
                # What `send reminders` would hold: what it chases never reached them.
                about = (workbook_about(line.service_manager) if role == "service manager"
                         else form_about(line.reference, AUDIT if what == "audit"
                                         else REFLECTION))
                if not reached(went, about, found.addressee):
                    note = NEVER_SENT.format(
                        what="Service Manager workbook" if role == "service manager"
                        else f"{what} form", kind="allocations" if role == "service manager"
                        else "forms")
            return OverdueItem(line.reference, what, chase, role,
                               _address(found) if found else "", days, line.quadrant,
                               line.service_manager, line.service_manager_email, note)

        if line.audit_days_overdue and line.auditor:
            items.append(item("audit", "auditor", people.auditor, line.auditor,
                              line.audit_days_overdue))
        elif line.audit_days_overdue:  # no auditor named: the Service Manager is to name one
            items.append(item("audit", "service manager", people.service_manager,
                              line.service_manager, line.audit_days_overdue))
        if line.reflection_days_overdue and line.forms_sent:
            items.append(item("self-reflection", "practitioner", people.practitioner,
                              line.practitioner, line.reflection_days_overdue))
        elif line.reflection_days_overdue:
            items.append(item("self-reflection", None, None, "",
                              line.reflection_days_overdue))
    return Overdue(name, due, today, items)
