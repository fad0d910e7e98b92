"""The send job: the messages a kind needs for a cycle, as drafts in the outbox or through
the SMTP relay, each recorded as it goes (``qaudit send``).

Who gets what is decided by ``qaudit.mail.letters`` from the record; what of it is new,
changed or already sent by ``qaudit.mail.message.still_to_send`` against the messages
table. Every body goes through a template of ``templates/messages/`` (a workspace's own
``templates/messages/`` wins), rendered in the same immutable sandbox as the reports, then
the protective marking is put above and below it. Everything is rendered before anything
goes, so a broken template sends nothing.

Delivery and its record are ``qaudit.mail.delivery``'s. Nothing sent twice, nothing
missed: a rerun sends only what is new, changed, or not yet received by one of its
recipients; ``--resend`` sends again only what went before.

What a planner needs of the record beside the cycle's cases is read here: for reminders,
which forms and workbooks reached whom and when each first reminder went (on the job's
clock); for feedback, where the cycle's moderation sample stands.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from markupsafe import escape

from qaudit import layout
from qaudit.db import Store
from qaudit.db.draws import Cycle
from qaudit.db.files import NotRegular
from qaudit.db.mail import MailCase, SentMessage
from qaudit.errors import BrokenTemplateError, CycleError, QauditError
from qaudit.jobs.purged import check_not_purged
from qaudit.jobs.shared_files import SendFiles
from qaudit.mail.addresses import Directory
from qaudit.mail.delivery import (
    Destination,
    Outcome,
    Ready,
    draft_all,
    outcome,
    relative,
    send_all,
    sent_on,
)
from qaudit.mail.kinds import MessageKind, Route
from qaudit.mail.letters import (
    CycleContext,
    Held,
    Letter,
    ModerationState,
    Plan,
    allocation_letters,
    feedback_letters,
    form_letters,
    listed,
    not_sent_for,
    reached_map,
    reminder_letters,
    report_letters,
)
from qaudit.mail.message import (
    Attachment,
    content_hash,
    marked_body,
    names_letter,
    sender_from,
    still_to_send,
    subject_line,
)
from qaudit.moderation import sample_size
from qaudit.rendering import Templates
from qaudit.workspace import Workspace

PACK_TEMPLATE = "feedback-pack.html.j2"


@dataclass(frozen=True)
class SendRequest:
    kind: MessageKind
    cycle: str
    route: Route = Route.DRAFT
    dry_run: bool = False
    resend: str | None = None  # a reference (Service Manager, quadrant) or an address
    accept: tuple[str, ...] = ()  # files whose change on the share is accepted on purpose


@dataclass(frozen=True)
class SendReport:
    kind: MessageKind
    cycle: str
    route: Route
    dry_run: bool
    outcomes: tuple[Outcome, ...]
    unchanged: int  # letters already sent, unchanged, to everyone
    held: tuple[Held, ...]
    waiting: tuple[str, ...]
    outbox: str | None  # where drafts go
    stopped: str = ""  # why the batch stopped before its end

    @property
    def failed(self) -> bool:
        return bool(self.stopped) or any(o.failed for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "cycle": self.cycle, "route": str(self.route),
                "dry_run": self.dry_run, "outbox": self.outbox,
                "messages": [o.to_json() for o in self.outcomes],
                "unchanged": self.unchanged,
                "held": [{"about": h.about, "reason": h.reason} for h in self.held],
                "waiting": list(self.waiting), "stopped": self.stopped,
                "failed": self.failed}


def _render(templates: Templates, name: str, data: dict[str, Any]) -> str:
    """One message template rendered; a broken one stops the run before anything goes."""
    try:
        return templates.render(name, data)
    except BrokenTemplateError as exc:
        raise BrokenTemplateError(f"{exc} Nothing was sent.") from exc


def send_messages(ws: Workspace, store: Store, request: SendRequest, today: date,
                  environ: Mapping[str, str] | None = None) -> SendReport:
    """Plan the kind's letters, keep what is still to go, render it all, then draft or
    send each, recording it as it goes. ``dry_run`` stops before anything is written."""
    cycle = store.draws.require_cycle(request.cycle)
    check_not_purged(store, cycle.name, f"send its {request.kind}")
    refused = not_sent_for(request.kind, cycle.name, cycle.kind)
    if refused is not None:
        raise CycleError(refused)
    if cycle.cancelled:
        raise CycleError(f"cycle {cycle.name!r} was cancelled on {cycle.cancelled_at}:"
                         " nothing is sent for it.")
    cases = store.messages.cases(cycle.name)
    if not cases:
        raise CycleError(f"cycle {cycle.name!r} has no draw, so there is nothing to send;"
                         " run `qaudit allocate` first.")
    files = SendFiles.of(ws.root, store, cycle, request.accept)
    records = store.messages.sent(cycle.id, request.kind)
    plan = _plan(ws, store, request.kind, cycle, cases, records, today)
    sent: dict[str, list[SentMessage]] = {}
    for record in records:
        sent.setdefault(record.about, []).append(record)
    settings = ws.settings
    sender = sender_from(settings.mail, settings.organisation)
    templates = Templates(ws.templates, "messages")
    common = {"cycle": cycle.name, "marking": sender.marking,
              "team": settings.organisation.team, "return_to": settings.organisation.return_to,
              "sender_name": sender.name}
    held = list(plan.held)
    waiting = list(plan.waiting)
    ready: list[Ready] = []
    unchanged = 0
    named: list[str] = []  # what --resend names
    for letter in plan.letters:
        attachments = _attachments(ws, letter, held, files)
        if attachments is None:
            continue
        if letter.pack_name:
            attachments += (_pack(templates, letter, common, sender.marking),)
        if request.resend is not None and names_letter(letter, request.resend):
            named.append(letter.about)
        digest = content_hash(letter, attachments)
        pending = still_to_send(letter, digest, sent.get(letter.about, []), request.resend)
        if pending is None:
            unchanged += request.resend is None
            continue
        body = _render(templates, f"{request.kind}.txt.j2", {**common, **letter.facts})
        ready.append(Ready(pending, subject_line(sender.marking, letter.subject),
                            marked_body(sender.marking, body), attachments))
    if request.resend is not None:
        waiting += _resend_check(request, cycle.name, cases, named, ready)
    folder = ws.cycle_dir(cycle.name)
    outbox = layout.outbox(folder, str(request.kind))
    if request.route is Route.DRAFT:
        files.check_drafts(outbox)
    files.settle(store, request.dry_run)  # before anything is written or sent
    report = SendReport(request.kind, cycle.name, request.route, request.dry_run, (),
                        unchanged, tuple(held), tuple(waiting),
                        str(outbox) if request.route is Route.DRAFT else None)
    if request.dry_run:
        return _with(report, [outcome(r, "would go") for r in ready])
    where = Destination(ws.root, outbox, layout.feedback_packs(folder), today)
    if request.route is Route.DRAFT:
        return _with(report, draft_all(store, cycle.id, sender, ready, where))
    outcomes, stopped = send_all(store, cycle.id, sender, ready, settings.mail,
                                 os.environ if environ is None else environ, where)
    return _with(report, outcomes, stopped)


def _resend_check(request: SendRequest, cycle: str, cases: Sequence[MailCase],
                  named: Sequence[str], ready: Sequence[Ready]) -> list[str]:
    """A resend sends again only what went before. Refused when it names nothing, or only
    what never went (to the address it names); what it names that never went is listed."""
    token, kind = request.resend or "", request.kind
    if not named:
        raise QauditError(
            f"--resend {token!r} names no {kind} message of cycle {cycle!r}: give a"
            f" reference (such as {cases[0].reference}), or an address one of them goes to."
            " Nothing was sent.")
    going = {r.pending.letter.about for r in ready}
    never = [about for about in named if about not in going]
    if not never:
        return []
    never_went = "never went" + (f" to {token}" if "@" in token else "")
    run = f"`qaudit send {kind} --cycle '{cycle}'` without --resend"
    if not going:
        raise QauditError(
            f"--resend {token!r} names only {kind} messages that {never_went}"
            f" ({listed(never)}): --resend sends again only what went before. Run {run} to"
            " send them. Nothing was sent.")
    return [f"Not resent, as it {never_went}: {listed(never)}. Run {run} to send"
            f" {'it' if len(never) == 1 else 'them'}."]


def _with(report: SendReport, outcomes: Sequence[Outcome], stopped: str = "") -> SendReport:
    return SendReport(report.kind, report.cycle, report.route, report.dry_run,
                      tuple(outcomes), report.unchanged, report.held, report.waiting,
                      report.outbox, stopped)


# --- planning ------------------------------------------------------------------------------


def _plan(ws: Workspace, store: Store, kind: MessageKind, cycle: Cycle,
          cases: Sequence[MailCase], records: Sequence[SentMessage], today: date) -> Plan:
    settings = ws.settings
    ctx = CycleContext(
        cycle=cycle.name, due=cycle.due_date, today=today, folder=ws.cycle_dir(cycle.name),
        type_names=settings.type_names(), grade_descriptors=settings.grades,
        escalate_after_days=settings.mail.escalate_after_days)
    directory = Directory(store.messages.contacts(), settings.mail.allowed_domains)
    if kind is MessageKind.ALLOCATIONS:
        return allocation_letters(ctx, cases, directory)
    if kind is MessageKind.FORMS:
        return form_letters(ctx, cases, directory)
    if kind is MessageKind.REMINDERS:
        reminded: dict[str, date] = {}
        for record in records:  # oldest first: the first reminder's day
            if record.about.endswith(" reminder") and record.about not in reminded:
                reminded[record.about] = sent_on(record.at)
        went = reached_map((*store.messages.sent(cycle.id, MessageKind.ALLOCATIONS),
                            *store.messages.sent(cycle.id, MessageKind.FORMS)))
        return reminder_letters(ctx, cases, directory, reminded, went)
    if kind is MessageKind.FEEDBACK:
        return feedback_letters(ctx, cases, directory, _moderation_state(store, cycle, cases),
                                frozenset(r.about for r in records))
    people = settings.people
    return report_letters(
        ctx, cases, directory, quadrants=settings.quadrants, directors=people.directors,
        countywide=people.countywide_directors, network=people.network_list,
        files=_report_files(ws, cycle.name, settings.quadrants))


def _moderation_state(store: Store, cycle: Cycle, cases: Sequence[MailCase]
                      ) -> ModerationState:
    """Where the cycle's moderation sample stands against the audits returned now, counted
    as ``qaudit moderate select`` and ``qaudit status`` count it (at the sample's rate)."""
    sample = store.moderation.current_sample(cycle.name)
    returned = sum(1 for c in cases if c.audit is not None)
    if sample is None:
        return ModerationState(drawn=False, returned=returned)
    return ModerationState(drawn=True, selected=len(sample.items),
                           target=sample_size(returned, sample.rate), returned=returned,
                           rate=sample.rate)


def _report_files(ws: Workspace, cycle: str, quadrants: Sequence[str]
                  ) -> dict[str, tuple[Path, ...]]:
    """The published reports ``qaudit report`` wrote: each quadrant's, and the highlights
    (the HTML page, else the Markdown with its charts). Refused if any is not there."""
    folder = layout.report_folder(ws.cycle_dir(cycle))
    stems = {q: layout.quadrant_stem(cycle, q) for q in quadrants}
    stems["highlights"] = layout.highlights_stem(cycle)
    found: dict[str, tuple[Path, ...]] = {}
    missing: list[str] = []
    for key, stem in stems.items():
        html, markdown = folder / f"{stem}.html", folder / f"{stem}.md"
        if html.is_file():
            found[key] = (html,)
        elif markdown.is_file():
            charts = (folder / layout.chart_file(stem, chart) for chart in layout.CHARTS)
            found[key] = (markdown, *(p for p in charts if p.is_file()))
        else:
            missing.append(key)
    if missing:
        raise QauditError(
            f"the reports of cycle {cycle!r} have not been written yet (no"
            f" {', '.join(missing)} report in {folder}); run `qaudit report --cycle"
            f" '{cycle}'` first, then send them.")
    return found


def _attachments(ws: Workspace, letter: Letter, held: list[Held], files: SendFiles
                 ) -> tuple[Attachment, ...] | None:
    """The letter's files, read once, byte for byte, each checked against what qaudit
    wrote (``files``: one not as it was written refuses the run); None (and why, in
    ``held``) if one is not there."""
    attached: list[Attachment] = []
    for path in letter.files:
        problems = len(files.problems)
        try:
            data = files.read(path)
        except NotRegular as exc:
            held.append(Held(letter.about, f"{relative(ws.root, path)} is {exc.state}, so it"
                             " cannot be attached: put the file back"))
            return None
        if data is None:
            if len(files.problems) == problems:
                held.append(Held(letter.about, f"{relative(ws.root, path)} is not there, so it"
                                 " cannot be attached. It was written by `qaudit allocate` (or"
                                 " `qaudit report`): put the cycle's folder back where it was"
                                 " written"))
            return None
        attached.append(Attachment(path.name, data))
    return tuple(attached)


def _pack(templates: Templates, letter: Letter, common: dict[str, Any],
          marking: str) -> Attachment:
    """The feedback pack: one self-contained HTML page made from the letter's facts."""
    html = _render(templates, PACK_TEMPLATE, {**common, **letter.facts})
    if marking and marking not in html and str(escape(marking)) not in html:
        raise BrokenTemplateError(
            f"message template {PACK_TEMPLATE} does not show the protective marking"
            f" ({marking}); every attachment must. Add"
            " {{ marking }} to it. Nothing was sent.")
    return Attachment(letter.pack_name, html.encode("utf-8"), rendered=True)
