"""The status job: where a cycle stands, and who holds what.

``cycle_status`` counts per quadrant and per Service Manager (with the feedback shared and
the messages sent). ``holdings`` lists every case by the person holding it (the auditor
named for it, its Service Manager, or its practitioner), and ``overdue`` every late
return with the person to chase: the auditor named for the audit, or, while none is named,
the Service Manager who is to name one; the practitioner for a self-reflection. These are
the QA team's own views: they name people, and are never published.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

from qaudit.db import Store
from qaudit.db.people import CaseHolding, SentMessages, StaffMember
from qaudit.errors import QauditError
from qaudit.moderation import sample_size
from qaudit.reports import StatusRow, status_rows
from qaudit.values import person_key

Holder = Literal["auditor", "service-manager", "practitioner"]
NOT_NAMED = "(no auditor named yet)"


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

    def to_json(self) -> dict[str, Any]:
        def rows(key: str, items: list[StatusRow]) -> list[dict[str, Any]]:
            return [{key: r.group} | {k: v for k, v in asdict(r).items() if k != "group"}
                    for r in items]

        return {"cycle": self.cycle, "due": self.due.isoformat(),
                "by_quadrant": rows("quadrant", self.by_quadrant),
                "by_service_manager": rows("service_manager", self.by_service_manager),
                "moderation": self.moderation.to_json(),
                "feedback": asdict(self.feedback),
                "messages": [asdict(m) for m in self.messages]}


def _cycle(store: Store, cycle: str | None) -> tuple[str, date]:
    name = cycle or store.draws.latest_cycle()
    if name is None:
        raise QauditError("no cycle is drawn yet; run `qaudit allocate` first.")
    found = store.draws.require_cycle(name)
    return found.name, found.due_date


def cycle_status(store: Store, cycle: str | None, today: date, rate: float) -> CycleStatus:
    """The named cycle, or the latest drawn; ``rate`` is the share to moderate unless the
    cycle's sample was drawn at another."""
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
    """A return not in after its due date, and the person to chase for it."""

    reference: str
    what: Literal["audit", "self-reflection"]
    chase: str
    chase_role: Literal["auditor", "service manager", "practitioner"]
    email: str
    days_overdue: int
    quadrant: str
    service_manager: str
    service_manager_email: str


@dataclass(frozen=True)
class Overdue:
    cycle: str
    due: date
    today: date
    items: list[OverdueItem]

    def to_json(self) -> dict[str, Any]:
        return {"cycle": self.cycle, "due": self.due.isoformat(),
                "today": self.today.isoformat(), "overdue": [asdict(i) for i in self.items]}


class _Directory:
    """Email addresses from the staff list: by worker id, and by name where the name is
    one person's. A person's own row is believed before what other rows say of them as a
    line or Service Manager; a name with two addresses gives none."""

    def __init__(self, staff: list[StaffMember]) -> None:
        self.by_id = {m.worker_id: m for m in staff}
        own: dict[str, set[str]] = {}
        said: dict[str, set[str]] = {}
        for m in staff:
            if m.email:
                own.setdefault(person_key(m.name), set()).add(m.email)
            for manager, email in ((m.service_manager, m.service_manager_email),
                                   (m.line_manager, m.line_manager_email)):
                if manager and email:
                    said.setdefault(person_key(manager), set()).add(email)
        self.by_name = {k: next(iter(v)) for k, v in said.items() if len(v) == 1}
        self.by_name.update({k: next(iter(v)) for k, v in own.items() if len(v) == 1})
        for k, v in own.items():
            if len(v) > 1:
                self.by_name.pop(k, None)

    def of_worker(self, worker_id: str) -> str:
        member = self.by_id.get(worker_id)
        return member.email if member else ""

    def of_name(self, name: str) -> str:
        return self.by_name.get(person_key(name), "") if name else ""


def _line(h: CaseHolding, people: _Directory, today: date) -> CaseLine:
    late = max(0, (today - date.fromisoformat(h.due)).days)
    return CaseLine(
        reference=h.reference, quadrant=h.quadrant, audit_type=h.audit_type,
        practitioner=h.practitioner, worker_id=h.worker_id,
        practitioner_email=people.of_worker(h.worker_id), team=h.team,
        service_manager=h.service_manager, service_manager_email=people.of_name(
            h.service_manager),
        auditor=h.auditor, auditor_email=h.auditor_email or people.of_name(h.auditor),
        audit_received=h.audit_received if h.audit_back else None,
        self_reflection_back=h.reflection_back, feedback_times=h.feedback_times,
        last_feedback=h.last_feedback,
        audit_days_overdue=0 if h.audit_back else late,
        reflection_days_overdue=0 if h.reflection_back else late,
    )


def case_lines(store: Store, cycle: str | None, today: date) -> tuple[str, date, list[CaseLine]]:
    name, due = _cycle(store, cycle)
    people = _Directory([r.member for r in store.people.staff()])
    return name, due, [_line(h, people, today) for h in store.people.case_holdings(name)]


def holdings(store: Store, cycle: str | None, today: date, by: Holder,
             overdue_only: bool = False) -> Holdings:
    """Every case of the cycle (or only those with a return overdue), grouped by the
    auditor named for it, its Service Manager, or its practitioner, by name."""
    name, due, lines = case_lines(store, cycle, today)
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


def overdue(store: Store, cycle: str | None, today: date) -> Overdue:
    """Every return of the cycle not in after its due date, with the person to chase, in
    reference order: an audit before its self-reflection."""
    name, due, lines = case_lines(store, cycle, today)
    items: list[OverdueItem] = []
    for line in lines:
        def item(what: Literal["audit", "self-reflection"], chase: str,
                 role: Literal["auditor", "service manager", "practitioner"], email: str,
                 days: int, line: CaseLine = line) -> OverdueItem:
            return OverdueItem(line.reference, what, chase, role, email, days, line.quadrant,
                               line.service_manager, line.service_manager_email)

        if line.audit_days_overdue and line.auditor:
            items.append(item("audit", line.auditor, "auditor", line.auditor_email,
                              line.audit_days_overdue))
        elif line.audit_days_overdue:  # no auditor named: the Service Manager is to name one
            items.append(item("audit", line.service_manager, "service manager",
                              line.service_manager_email, line.audit_days_overdue))
        if line.reflection_days_overdue:
            items.append(item("self-reflection", line.practitioner, "practitioner",
                              line.practitioner_email, line.reflection_days_overdue))
    return Overdue(name, due, today, items)
