"""Which messages a kind needs, and to whom: decided from the record, nothing sent.

Pure: each planner takes the cycle's cases (``db.mail.MailCase``), the staff list
(``addresses.Directory``) and the settings that matter, and returns a ``Plan``: the
letters due now, what cannot go and why (``Held``: never skipped in silence), and what is
waiting on someone (a Service Manager's choice, a moderation, a form not sent yet).
Whether a letter already went is not decided here but by ``message.still_to_send``
against the record; what of the record a planner needs (the reminders: which forms went,
and when each first reminder went) it is given.

A letter's ``facts`` are the template's data; the part of them its content hash covers
(``Letter.essentials``) is what the message says that matters, never a person's name as
the staff list spells it. Its ``subject`` never holds a name or a person id, only the
cycle, the reference or the quadrant.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from qaudit import layout
from qaudit.db.draws import DEEP_DIVE, REAUDIT, REGULAR, describe_kind
from qaudit.db.mail import MailCase, SentMessage
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

AUDIT = "audit form"
REFLECTION = "self-reflection form"

#: What a letter says that matters, by kind: the facts its content hash covers, beside the
#: bytes of every file attached. A changed one makes the letter "changed" and sends it
#: again. Left out on purpose: people's names (a corrected spelling in the staff list is not
#: news to anyone, and a new person is a new address, which ``still_to_send`` handles), and
#: what the settings word (a type's display name, a grade's descriptor, the team's name).
ESSENTIAL_FACTS: Mapping[MessageKind, frozenset[str]] = {
    MessageKind.ALLOCATIONS: frozenset({"references", "due"}),
    MessageKind.FORMS: frozenset({"audience", "reference", "due"}),
    MessageKind.REMINDERS: frozenset({"stage", "audience", "reference", "form", "due",
                                      "reminded_on", "holder"}),
    MessageKind.FEEDBACK: frozenset({"reference", "grade", "auditor_grade", "rationale",
                                     "strengths", "learning", "reflection"}),
    MessageKind.REPORTS: frozenset({"audience", "quadrant"}),
}


#: The kinds a regular cycle alone sends: the quadrant outcome reports and the highlights
#: are the regular cycle's figures, for the directors and the Senior Practitioners' Network.
#: Every other kind (allocations, forms, reminders, feedback) goes for a cycle of any kind.
REGULAR_ONLY: frozenset[MessageKind] = frozenset({MessageKind.REPORTS})

#: Where the findings of a cycle of another kind go instead of ``qaudit send reports``.
_REPORTED_ELSEWHERE = {
    DEEP_DIVE: "A deep dive's report goes to the Practice Governance Board:"
               " `qaudit report --deep-dive '{name}'` writes it",
    REAUDIT: "A re-audit round's findings are in `qaudit reaudit stats` and the year report"
             " (`qaudit report --kind year --year YEAR`)",
}


def not_sent_for(kind: MessageKind, cycle: str, cycle_kind: str) -> str | None:
    """Why ``kind`` is never sent for the cycle ``cycle`` of kind ``cycle_kind``
    (``db.draws.REGULAR``, ``DEEP_DIVE`` or ``REAUDIT``), or None if it may be."""
    if kind not in REGULAR_ONLY or cycle_kind == REGULAR:
        return None
    elsewhere = _REPORTED_ELSEWHERE.get(
        cycle_kind, "Only a regular cycle's figures go to the directors and the network")
    return (f"{cycle!r} is a {describe_kind(cycle_kind)}: `qaudit send {kind}` sends a"
            " regular cycle's quadrant outcome reports and highlights. "
            f"{elsewhere.format(name=cycle)}. Its allocations, forms, reminders"
            " and feedback are sent as any cycle's. Nothing was sent.")


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
    facts: dict[str, Any]  # the template's data
    files: tuple[Path, ...]  # attached as they are on disk
    draft_name: str  # the draft's file name, without .eml: no names in it
    pack_name: str = ""  # feedback: the HTML pack rendered from the facts and attached

    @property
    def addressees(self) -> tuple[Addressee, ...]:
        return (*self.to, *self.cc)

    @property
    def essentials(self) -> dict[str, Any]:
        """The facts its content hash covers (``ESSENTIAL_FACTS``)."""
        keep = ESSENTIAL_FACTS[self.kind]
        return {key: value for key, value in self.facts.items() if key in keep}


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
        about = workbook_about(manager)
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
            kind=MessageKind.FORMS, about=form_about(ref, AUDIT), reference=ref, handles=(ref,),
            subject=ctx.subject(f"audit form {ref}, due {uk(case.due_date)}"),
            to=(auditor.addressee,), cc=(),
            facts={"audience": "auditor", "auditor": auditor.addressee.name,
                   "form": audit.name, **common},
            files=(audit,), draft_name=layout.form_draft(ref, AUDIT),
        ))
        plan.letters.append(Letter(
            kind=MessageKind.FORMS, about=form_about(ref, REFLECTION), reference=ref,
            handles=(ref,),
            subject=ctx.subject(f"your self-reflection for {ref}, due {uk(case.due_date)}"),
            to=(practitioner.addressee,), cc=(),
            facts={"audience": "practitioner", "practitioner": practitioner.addressee.name,
                   "form": reflection.name, **common},
            files=(reflection,), draft_name=layout.form_draft(ref, REFLECTION),
        ))
    if unnamed:
        plan.waiting.append(f"{_plural(unnamed, 'case')} {'waits' if unnamed == 1 else 'wait'}"
                            " for their Service Manager's choice of auditor: neither form is"
                            " sent until the auditor is named.")
    return plan


# --- reminders -----------------------------------------------------------------------------


@dataclass
class _NotSent:
    """Overdue returns not chased because what they would chase never went out."""

    forms: list[str] = field(default_factory=list)  # '<ref> audit form', ...
    workbooks: list[str] = field(default_factory=list)  # references


def reached_map(records: Iterable[SentMessage]) -> dict[str, frozenset[str]]:
    """What each recorded message was about -> every address it reached (casefolded): the
    record ``reminder_letters`` and ``qaudit status --overdue`` both read."""
    went: dict[str, frozenset[str]] = {}
    for record in records:
        went[record.about] = went.get(record.about, frozenset()) | record.addresses
    return went


def reached(went: Mapping[str, frozenset[str]], about: str, person: Addressee) -> bool:
    """The message about ``about`` reached this person's address."""
    return person.address.casefold() in went.get(about, frozenset())


def form_about(reference: str, form: str) -> str:
    """What a forms message is about: '<reference> audit form' or '... self-reflection form'."""
    return f"{reference} {form}"


def workbook_about(service_manager: str) -> str:
    """What an allocations message is about: the Service Manager it went to."""
    return f"service manager {service_manager}"





def listed(items: Sequence[str], at_most: int = 5) -> str:
    """The first few of a list, and how many more."""
    more = len(items) - at_most
    return ", ".join(items[:at_most]) + (f" and {more} more" if more > 0 else "")


def reminder_letters(ctx: CycleContext, cases: Sequence[MailCase], directory: Directory,
                     reminded: Mapping[str, date],
                     went: Mapping[str, frozenset[str]]) -> Plan:
    """For every overdue return whose form went out: a reminder to the person it went to
    (the auditor, or the practitioner for a self-reflection), copying their Service
    Manager; while no auditor is named, to the Service Manager whose workbook went.
    ``escalate_after_days`` after the first reminder (``reminded``: reminder ``about`` ->
    the day it first went, by the send job's clock), a second reminder to the Service
    Manager alone.

    ``went``: the ``about`` of every forms and allocations message recorded -> the
    addresses it reached (casefolded). A form that never reached the person a reminder
    would chase is not chased: it waits, and the plan says what to run first."""
    plan = Plan()
    if ctx.today <= ctx.due:
        plan.waiting.append(f"Nothing is overdue yet: returns are due {uk(ctx.due)}.")
        return plan
    unsent_reflections = 0
    not_sent = _NotSent()
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
            if not _remind(ctx, plan, case, form, about, directory, manager, went, not_sent):
                continue
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
    if not_sent.forms:
        plan.waiting.append(
            f"{_plural(len(not_sent.forms), 'overdue form')} not chased"
            f" ({listed(not_sent.forms)}): the forms were never sent: run `qaudit send forms"
            f" --cycle '{ctx.cycle}'` first; the next `qaudit send reminders` chases them.")
    if not_sent.workbooks:
        plan.waiting.append(
            f"{_plural(len(not_sent.workbooks), 'overdue audit')} with no auditor named not"
            f" chased ({listed(not_sent.workbooks)}): the Service Manager's workbook was never"
            f" sent: run `qaudit send allocations --cycle '{ctx.cycle}'` first; the next"
            " `qaudit send reminders` chases them.")
    if later:
        plan.waiting.append(f"{_plural(len(later), 'second reminder')} to Service Managers"
                            f" due from {uk(min(later))}.")
    return plan


def _remind(ctx: CycleContext, plan: Plan, case: MailCase, form: str, about: str,
            directory: Directory, manager: Found, went: Mapping[str, frozenset[str]],
            not_sent: _NotSent) -> bool:
    """The reminder of one overdue return, or why it cannot go. False when what it would
    chase never reached the person it chases: then nothing about it goes, not even a
    second reminder."""
    ref = case.reference
    facts: dict[str, Any] = {"stage": "reminder", "reference": ref, "form": form,
                             "due": uk(case.due_date),
                             "manager": one_line(case.service_manager)}
    if form == AUDIT and not case.auditor_name.strip():
        # No auditor named yet: the Service Manager is the one to chase.
        if manager.addressee is None:
            plan.held.append(Held(about, f"the Service Manager: {manager.problem}"))
            return True
        if not reached(went, workbook_about(case.service_manager), manager.addressee):
            not_sent.workbooks.append(ref)
            return False
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
            return True
        if not reached(went, form_about(ref, form), found.addressee):
            not_sent.forms.append(form_about(ref, form))
            return False
        to = (found.addressee,)
        cc = _unique([manager.addressee] if manager.addressee else [], skip=to)
        if manager.addressee is None:
            plan.held.append(Held(about, "the Service Manager is not copied:"
                                  f" {manager.problem}"))
    plan.letters.append(Letter(
        kind=MessageKind.REMINDERS, about=about, reference=ref, handles=(ref,),
        subject=ctx.subject(f"reminder: {form} {ref} was due {uk(case.due_date)}"),
        to=to, cc=cc, facts=facts, files=files,
        draft_name=layout.form_draft(ref, form, "reminder"),
    ))
    return True


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
        files=(), draft_name=layout.form_draft(ref, form, "escalation"),
    ))


# --- feedback ------------------------------------------------------------------------------

_REFLECTION_FIELDS = (("went_well", "sr_went_well"), ("differently", "sr_differently"),
                      ("support", "sr_support"), ("own_grade", "sr_grade"))


@dataclass(frozen=True)
class ModerationState:
    """Where the cycle's moderation sample stands, as feedback needs it: whether one is
    drawn, and how many audits it holds against how many a top-up would bring it to now
    (``rate`` x the audits returned, as ``qaudit moderate select`` counts)."""

    drawn: bool
    selected: int = 0
    target: int = 0
    returned: int = 0
    rate: float = 0.0

    @property
    def short(self) -> int:
        """How many audits a top-up would add now (0: the sample is complete for now)."""
        return max(0, self.target - self.selected) if self.drawn else 0


def feedback_letters(ctx: CycleContext, cases: Sequence[MailCase], directory: Directory,
                     moderation: ModerationState, sent: Collection[str] = ()) -> Plan:
    """For each returned audit whose grade of record is settled and whose practitioner's
    self-reflection is back or overdue: the feedback pack, to the practitioner and their
    line manager.

    A grade is settled once the cycle's moderation sample is drawn and complete for the
    audits returned so far, and, for an audit in it, once its outcome is recorded: a pack
    never goes ahead of the sample that might pick its audit and change its grade. Until
    the sample is drawn every pack waits; while it is short of its rate of the audits
    returned (a top-up is due), the packs not yet sent (``sent``: the ``about`` of every
    pack recorded) of audits outside it wait too."""
    plan = Plan()
    not_back = no_sample = top_up = moderation_due = reflection = 0
    for case in cases:
        audit = case.audit
        if audit is None:
            not_back += 1
            continue
        if not moderation.drawn:
            no_sample += 1
            continue
        if case.sampled and case.moderated_grade is None:
            moderation_due += 1
            continue
        if not case.sampled and moderation.short and f"{case.reference} feedback" not in sent:
            top_up += 1
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
            files=(), draft_name=layout.form_draft(ref, "feedback"),
            pack_name=layout.feedback_pack(ref),
        ))
    select = f"`qaudit moderate select --cycle '{ctx.cycle}'`"
    for count, text in (
        (not_back, "not back yet: no feedback sent."),
        (no_sample, "back, waiting for the cycle's moderation sample: no feedback goes"
                    " before it is drawn, as an audit it picks takes the moderators' grade."
                    f" Run {select}, then `qaudit moderate ingest` the moderators' workbook."),
        (top_up, "outside the moderation sample, waiting for it to be topped up (it holds"
                 f" {_plural(moderation.selected, 'audit')}; {moderation.rate:.0%} of the"
                 f" {moderation.returned} returned is {moderation.target}): no feedback sent,"
                 f" as the top-up may pick any of them. Run {select} to top it up, then"
                 " `qaudit moderate ingest` the new round's workbook."),
        (moderation_due, "in the moderation sample and not moderated yet: no feedback sent"
                         " until `qaudit moderate ingest` takes their outcomes."),
        (reflection, "waiting for the practitioner's self-reflection (until it is back, or"
                     " the due date has passed): no feedback sent."),
    ):
        if count:
            plan.waiting.append(f"{_plural(count, 'audit')} {text}")
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
            files=attached, draft_name=layout.quadrant_draft(quadrant),
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
