"""Which messages a kind needs, and to whom: decided from the record, nothing sent.

Pure: each planner takes the cycle's cases (``db.mail.MailCase``), the staff list
(``addresses.Directory``) and the settings that matter, and returns a ``Plan``: the
letters due now, what cannot go and why (``Held``: never skipped in silence), and what is
waiting on someone (a Service Manager's choice, a moderation). Whether a letter already
went is not decided here but by ``message.still_to_send`` against the record.

A letter's ``facts`` are what it says (the template's data, and what its content hash
covers); its ``subject`` never holds a name or a person id, only the cycle, the reference
or the quadrant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from qaudit import layout
from qaudit.db.mail import MailCase
from qaudit.grading import LABEL, grade_of_record
from qaudit.mail.addresses import (
    Addressee,
    Directory,
    Found,
    checked_address,
    clean_text,
    one_line,
)
from qaudit.mail.kinds import MessageKind
from qaudit.values import cycle_slug

AUDIT = "audit form"
REFLECTION = "self-reflection form"


@dataclass(frozen=True)
class Letter:
    """One message a kind needs now: to whom, what it says, what is attached."""

    kind: MessageKind
    about: str  # recorded; unique within the cycle and kind
    reference: str | None
    handles: tuple[str, ...]  # what --resend may name besides an address
    subject: str  # without the protective marking
    to: tuple[Addressee, ...]
    cc: tuple[Addressee, ...]
    facts: dict[str, Any]  # the template's data; the content hash covers it
    files: tuple[Path, ...]  # attached as they are on disk
    draft_name: str  # the draft's file name, without .eml: no names in it
    pack_name: str = ""  # feedback: the HTML pack rendered from the facts and attached

    @property
    def addressees(self) -> tuple[Addressee, ...]:
        return (*self.to, *self.cc)


@dataclass(frozen=True)
class Held:
    """A letter, or one of its recipients, that cannot go now, and why."""

    about: str
    reason: str


@dataclass
class Plan:
    letters: list[Letter] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CycleContext:
    """What every planner needs to know about the cycle and the day."""

    cycle: str
    due: date
    today: date
    folder: Path  # the cycle's folder: its workbooks and forms
    type_names: Mapping[str, str]
    grade_descriptors: Mapping[str, str]
    escalate_after_days: int

    def subject(self, text: str) -> str:
        return f"Case audit {self.cycle}: {text}"


def uk(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _plural(n: int, word: str, plural: str = "") -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _unique(people: Iterable[Addressee], skip: Iterable[Addressee] = ()) -> tuple[Addressee, ...]:
    seen = {a.address.casefold() for a in skip}
    kept: list[Addressee] = []
    for person in people:
        if person.address.casefold() not in seen:
            seen.add(person.address.casefold())
            kept.append(person)
    return tuple(kept)


# --- allocations ---------------------------------------------------------------------------


def allocation_letters(ctx: CycleContext, cases: Sequence[MailCase],
                       directory: Directory) -> Plan:
    """One letter per Service Manager, their workbook attached (named as ``qaudit
    allocate`` named it, from every Service Manager of the draw)."""
    plan = Plan()
    workbooks = layout.manager_workbooks(c.service_manager for c in cases)
    by_manager: dict[str, list[MailCase]] = {}
    for case in cases:
        by_manager.setdefault(case.service_manager, []).append(case)
    for manager in sorted(by_manager, key=str.casefold):
        its = by_manager[manager]
        about = f"service manager {manager}"
        workbook = workbooks[manager]
        if not manager.strip():
            plan.held.append(Held(about, "no Service Manager is recorded for"
                                  f" {', '.join(c.reference for c in its)}"))
            continue
        found = directory.service_manager(manager, [c.worker_id for c in its])
        if found.addressee is None:
            plan.held.append(Held(about, found.problem))
            continue
        plan.letters.append(Letter(
            kind=MessageKind.ALLOCATIONS, about=about, reference=None, handles=(manager,),
            subject=ctx.subject("cases for you to allocate to auditors"),
            to=(found.addressee,), cc=(),
            facts={"audience": "service manager", "manager": found.addressee.name,
                   "cases": len(its), "references": [c.reference for c in its],
                   "due": uk(ctx.due), "workbook": workbook},
            files=(layout.manager_workbook(ctx.folder, workbook),),
            draft_name=Path(workbook).stem,
        ))
    return plan


# --- forms ---------------------------------------------------------------------------------


def form_letters(ctx: CycleContext, cases: Sequence[MailCase], directory: Directory) -> Plan:
    """For each case with a named auditor: the audit form to the auditor and, at the same
    time, the self-reflection form to the practitioner. The two go together: while either
    has no address, both are held."""
    plan = Plan()
    unnamed = 0
    for case in cases:
        ref = case.reference
        if not case.auditor_name.strip():
            unnamed += 1
            continue
        auditor = directory.auditor(case.auditor_name, case.auditor_email)
        practitioner = directory.practitioner(case.worker_id, case.worker_name)
        if auditor.addressee is None or practitioner.addressee is None:
            for who, found in (("the auditor", auditor), ("the practitioner", practitioner)):
                if found.addressee is None:
                    plan.held.append(Held(f"{ref} {AUDIT} and {REFLECTION}",
                                          f"{who}: {found.problem}; both forms wait so that"
                                          " they go together"))
            continue
        common = {"reference": ref, "audit_type": ctx.type_names.get(case.audit_type,
                                                                      case.audit_type),
                  "due": uk(case.due_date)}
        audit = layout.audit_form(ctx.folder, ref)
        reflection = layout.reflection_form(ctx.folder, ref)
        plan.letters.append(Letter(
            kind=MessageKind.FORMS, about=f"{ref} {AUDIT}", reference=ref, handles=(ref,),
            subject=ctx.subject(f"audit form {ref}, due {uk(case.due_date)}"),
            to=(auditor.addressee,), cc=(),
            facts={"audience": "auditor", "auditor": auditor.addressee.name,
                   "form": audit.name, **common},
            files=(audit,), draft_name=f"{ref}-audit-form",
        ))
        plan.letters.append(Letter(
            kind=MessageKind.FORMS, about=f"{ref} {REFLECTION}", reference=ref, handles=(ref,),
            subject=ctx.subject(f"your self-reflection for {ref}, due {uk(case.due_date)}"),
            to=(practitioner.addressee,), cc=(),
            facts={"audience": "practitioner", "practitioner": practitioner.addressee.name,
                   "form": reflection.name, **common},
            files=(reflection,), draft_name=f"{ref}-self-reflection-form",
        ))
    if unnamed:
        plan.waiting.append(f"{_plural(unnamed, 'case')} {'waits' if unnamed == 1 else 'wait'}"
                            " for their Service Manager's choice of auditor: neither form is"
                            " sent until the auditor is named.")
    return plan


# --- reminders -----------------------------------------------------------------------------


def reminder_letters(ctx: CycleContext, cases: Sequence[MailCase], directory: Directory,
                     reminded: Mapping[str, date]) -> Plan:
    """For every overdue return: a reminder to the auditor (the practitioner for a
    self-reflection) copying their Service Manager; ``escalate_after_days`` after the first
    reminder went (``reminded``: reminder ``about`` -> the day it first went), a second
    reminder to the Service Manager alone."""
    plan = Plan()
    if ctx.today <= ctx.due:
        plan.waiting.append(f"Nothing is overdue yet: returns are due {uk(ctx.due)}.")
        return plan
    unsent_reflections = 0
    later: list[date] = []
    for case in cases:
        manager = directory.service_manager(case.service_manager, [case.worker_id])
        for form, back in ((AUDIT, case.audit), (REFLECTION, case.reflection)):
            if back is not None:
                continue
            if form == REFLECTION and not case.auditor_name.strip():
                unsent_reflections += 1  # its form has not gone out: nothing to chase
                continue
            about = f"{case.reference} {form} reminder"
            _remind(ctx, plan, case, form, about, directory, manager)
            first = reminded.get(about)
            if first is None:
                continue
            escalate_on = first + timedelta(days=ctx.escalate_after_days)
            if ctx.today < escalate_on:
                later.append(escalate_on)
                continue
            _escalate(ctx, plan, case, form, first, manager)
    if unsent_reflections:
        plan.waiting.append(
            f"{_plural(unsent_reflections, 'self-reflection')} not chased: their forms wait"
            " with the audit forms for the Service Manager's choice of auditor.")
    if later:
        plan.waiting.append(f"{_plural(len(later), 'second reminder')} to Service Managers"
                            f" due from {uk(min(later))}.")
    return plan


def _remind(ctx: CycleContext, plan: Plan, case: MailCase, form: str, about: str,
            directory: Directory, manager: Found) -> None:
    ref = case.reference
    facts: dict[str, Any] = {"stage": "reminder", "reference": ref, "form": form,
                             "due": uk(case.due_date),
                             "manager": one_line(case.service_manager)}
    if form == AUDIT and not case.auditor_name.strip():
        # No auditor named yet: the Service Manager is the one to chase.
        if manager.addressee is None:
            plan.held.append(Held(about, f"the Service Manager: {manager.problem}"))
            return
        to: tuple[Addressee, ...] = (manager.addressee,)
        cc: tuple[Addressee, ...] = ()
        facts |= {"audience": "service manager", "person": ""}
        files: tuple[Path, ...] = ()
    else:
        if form == AUDIT:
            found = directory.auditor(case.auditor_name, case.auditor_email)
            facts |= {"audience": "auditor", "person": found.addressee.name
                      if found.addressee else one_line(case.auditor_name)}
            files = (layout.audit_form(ctx.folder, ref),)
        else:
            found = directory.practitioner(case.worker_id, case.worker_name)
            facts |= {"audience": "practitioner", "person": found.addressee.name
                      if found.addressee else ""}
            files = (layout.reflection_form(ctx.folder, ref),)
        if found.addressee is None:
            plan.held.append(Held(about, f"the {facts['audience']}: {found.problem}"))
            return
        to = (found.addressee,)
        cc = _unique([manager.addressee] if manager.addressee else [], skip=to)
        if manager.addressee is None:
            plan.held.append(Held(about, "the Service Manager is not copied:"
                                  f" {manager.problem}"))
    plan.letters.append(Letter(
        kind=MessageKind.REMINDERS, about=about, reference=ref, handles=(ref,),
        subject=ctx.subject(f"reminder: {form} {ref} was due {uk(case.due_date)}"),
        to=to, cc=cc, facts=facts, files=files,
        draft_name=f"{ref}-{form.replace(' ', '-')}-reminder",
    ))


def _escalate(ctx: CycleContext, plan: Plan, case: MailCase, form: str, first: date,
              manager: Found) -> None:
    ref = case.reference
    about = f"{ref} {form} escalation"
    if manager.addressee is None:
        plan.held.append(Held(about, f"the Service Manager: {manager.problem}"))
        return
    holder = ("practitioner" if form == REFLECTION
              else "auditor" if case.auditor_name.strip() else "")
    plan.letters.append(Letter(
        kind=MessageKind.REMINDERS, about=about, reference=ref, handles=(ref,),
        subject=ctx.subject(f"{form} {ref} still overdue, second reminder"),
        to=(manager.addressee,), cc=(),
        facts={"stage": "escalation", "audience": "service manager", "reference": ref,
               "form": form, "due": uk(case.due_date), "reminded_on": uk(first),
               "manager": manager.addressee.name, "holder": holder,
               "person": one_line(case.auditor_name if holder == "auditor"
                                  else case.worker_name if holder else "")},
        files=(), draft_name=f"{ref}-{form.replace(' ', '-')}-escalation",
    ))


# --- feedback ------------------------------------------------------------------------------

_REFLECTION_FIELDS = (("went_well", "sr_went_well"), ("differently", "sr_differently"),
                      ("support", "sr_support"), ("own_grade", "sr_grade"))


def feedback_letters(ctx: CycleContext, cases: Sequence[MailCase],
                     directory: Directory) -> Plan:
    """For each returned audit (moderated, if it is in the moderation sample) whose
    practitioner's self-reflection is back or overdue: the feedback pack, to the
    practitioner and their line manager."""
    plan = Plan()
    not_back = moderation = reflection = 0
    for case in cases:
        audit = case.audit
        if audit is None:
            not_back += 1
            continue
        if case.sampled and case.moderated_grade is None:
            moderation += 1
            continue
        if case.reflection is None and ctx.today <= case.due_date:
            reflection += 1
            continue
        ref = case.reference
        about = f"{ref} feedback"
        practitioner = directory.practitioner(case.worker_id, case.worker_name)
        manager = directory.line_manager(case.worker_id)
        to = _unique(f.addressee for f in (practitioner, manager) if f.addressee)
        for who, found in (("the practitioner", practitioner), ("the line manager", manager)):
            if found.addressee is None:
                plan.held.append(Held(about, f"{who}: {found.problem}"
                                      + ("" if to else "; nobody else to send it to")))
        if not to:
            continue
        auditor_grade = audit.grade or ""
        grade = grade_of_record(auditor_grade, case.moderated_grade)
        fields = audit.fields
        own = case.reflection.fields if case.reflection else None
        plan.letters.append(Letter(
            kind=MessageKind.FEEDBACK, about=about, reference=ref, handles=(ref,),
            subject=ctx.subject(f"feedback on audit {ref}"),
            to=to, cc=(),
            facts={
                "audience": "practitioner", "reference": ref,
                "audit_type": ctx.type_names.get(case.audit_type, case.audit_type),
                "practitioner": practitioner.addressee.name if practitioner.addressee else "",
                "line_manager": manager.addressee.name if manager.addressee else "",
                "grade": LABEL.get(grade, grade),
                "grade_descriptor": ctx.grade_descriptors.get(grade, ""),
                "moderated": case.moderated_grade is not None,
                "auditor_grade": LABEL.get(auditor_grade, auditor_grade),
                "rationale": clean_text(fields.get("rationale", "")),
                "strengths": clean_text(fields.get("strengths", "")),
                "learning": clean_text(fields.get("learning", "")),
                "reflection": None if own is None else {
                    key: clean_text(own.get(name, "")) for key, name in _REFLECTION_FIELDS},
                "returned": uk(date.fromisoformat(audit.received_at[:10])),
            },
            files=(), draft_name=f"{ref}-feedback", pack_name=f"{ref}-feedback.html",
        ))
    for count, text in ((not_back, "not back yet"),
                        (moderation, "in the moderation sample and not moderated yet"),
                        (reflection, "waiting for the practitioner's self-reflection (until"
                                     " it is back, or the due date has passed)")):
        if count:
            plan.waiting.append(f"{_plural(count, 'audit')} {text}: no feedback sent.")
    return plan


# --- reports -------------------------------------------------------------------------------


def report_letters(ctx: CycleContext, cases: Sequence[MailCase], directory: Directory, *,
                   quadrants: Sequence[str], directors: Mapping[str, Sequence[str]],
                   countywide: Sequence[str], network: Sequence[str],
                   files: Mapping[str, tuple[Path, ...]]) -> Plan:
    """Each quadrant's outcome report to its directors and Service Managers (Countywide
    Directors copied), and the highlights to the Senior Practitioners' Network list.
    ``files``: quadrant (or 'highlights') -> the report's files."""
    plan = Plan()
    everywhere = _settings_addresses(plan, "countywide directors", countywide, "director")
    for quadrant in quadrants:
        about = f"quadrant {quadrant}"
        to = list(_settings_addresses(plan, about, directors.get(quadrant, ()), "director"))
        managers = sorted({c.service_manager for c in cases if c.quadrant == quadrant},
                          key=str.casefold)
        for manager in managers:
            found = directory.service_manager(
                manager, [c.worker_id for c in cases if c.service_manager == manager])
            if found.addressee is None:
                plan.held.append(Held(about, f"Service Manager not sent the report:"
                                      f" {found.problem}"))
            else:
                to.append(found.addressee)
        to_people = _unique(to)
        cc = _unique(everywhere, skip=to_people)
        if not to_people:
            to_people, cc = cc, ()
        if not to_people:
            plan.held.append(Held(about, "no director or Service Manager address: set"
                                  f" [people] directors for {quadrant!r} in qaudit.toml and"
                                  " import the staff list"))
            continue
        attached = files[quadrant]
        plan.letters.append(Letter(
            kind=MessageKind.REPORTS, about=about, reference=None, handles=(quadrant,),
            subject=ctx.subject(f"outcome report for {quadrant}"),
            to=to_people, cc=cc,
            facts={"audience": "directors", "quadrant": quadrant,
                   "files": [p.name for p in attached]},
            files=attached, draft_name=f"quadrant-{cycle_slug(quadrant).lower()}",
        ))
    readers = _unique(_settings_addresses(plan, "highlights", network, "network"))
    if not readers:
        plan.held.append(Held("highlights", "[people] network_list in qaudit.toml is empty:"
                              " add the Senior Practitioners' Network addresses"))
    else:
        attached = files["highlights"]
        plan.letters.append(Letter(
            kind=MessageKind.REPORTS, about="highlights", reference=None,
            handles=("highlights",),
            subject=ctx.subject("highlights for the Senior Practitioners' Network"),
            to=readers, cc=(),
            facts={"audience": "network", "files": [p.name for p in attached]},
            files=attached, draft_name="highlights",
        ))
    return plan


def _settings_addresses(plan: Plan, about: str, addresses: Iterable[str],
                        role: str) -> tuple[Addressee, ...]:
    found: list[Addressee] = []
    for text in addresses:
        address = checked_address(text)
        if address is None:
            plan.held.append(Held(about, f"{text!r} in qaudit.toml is not an email address"))
        else:
            found.append(Addressee("", address, role))
    return tuple(found)
