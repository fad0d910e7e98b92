"""Who gets which message, decided from the record (``qaudit.mail.letters``): pure and fast."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from qaudit.db.mail import Contact, MailCase, ReturnedForm
from qaudit.mail.addresses import Directory
from qaudit.mail.letters import (
    CycleContext,
    ModerationState,
    Plan,
    allocation_letters,
    feedback_letters,
    form_letters,
    reminder_letters,
    report_letters,
)
from qaudit.mail.message import Attachment, content_hash

DUE = date(2026, 12, 11)
FOLDER = Path("/ws/cycles/2026-27-C3")
CTX = CycleContext(cycle="2026-27 C3", due=DUE, today=date(2026, 12, 1), folder=FOLDER,
                   type_names={"care_act_assessment": "Care Act assessment"},
                   grade_descriptors={"good": "Evidence-based practice."},
                   escalate_after_days=7)
LATE = replace(CTX, today=DUE + timedelta(days=1))


def case(n: int, **changes: Any) -> MailCase:
    base = MailCase(
        allocation_id=n, reference=f"2026-27-C3-{n:03d}", audit_type="care_act_assessment",
        quadrant="Mid", worker_id=f"W{n}", worker_name=f"Pat Worker{n}", team="Team A",
        service_manager="Sam Manager", due_date=DUE, auditor_name=f"Ann Auditor{n}",
        auditor_email=f"auditor{n}@example.org", audit=None, reflection=None, sampled=False,
        moderated_grade=None)
    return replace(base, **changes)


def contact(worker_id: str, name: str, email: str = "", **changes: str) -> Contact:
    base = Contact(worker_id, name, email, "Team A", "Social Worker", "", "", "", "")
    return replace(base, **changes)


def staff(*extra: Contact) -> Directory:
    people = [contact(f"W{n}", f"Pat Worker{n}", f"pat{n}@example.org",
                      line_manager="Lin Lead", line_manager_email="lin@example.org")
              for n in range(1, 6)]
    return Directory([*people, contact("SM1", "Sam Manager", "sam@example.org",
                                       role="Service Manager"), *extra])


def audit(grade: str = "good", **fields: str) -> ReturnedForm:
    return ReturnedForm(1, "2026-11-20T10:00:00+00:00", grade,
                        {"rationale": "Clear analysis.", "strengths": "The person's voice.",
                         "learning": "Record the outcomes.", **fields})


REFLECTION = ReturnedForm(2, "2026-11-21T10:00:00+00:00", None,
                          {"sr_went_well": "I listened.", "sr_grade": "Good"})


#: A moderation sample drawn and complete for the audits back so far.
SAMPLED = ModerationState(drawn=True, selected=2, target=2, returned=6, rate=0.2)


def forms_went(*cases: MailCase, directory: Directory | None = None
               ) -> dict[str, frozenset[str]]:
    """What the record says reached whom when every form of ``cases`` went, and every
    Service Manager's workbook: as the send job reads it for reminders."""
    directory = directory or staff()
    went: dict[str, frozenset[str]] = {}
    for one in cases:
        for letter in form_letters(CTX, [one], directory).letters:
            went[letter.about] = frozenset(a.address.casefold() for a in letter.to)
    for letter in allocation_letters(CTX, cases, directory).letters:
        went[letter.about] = frozenset(a.address.casefold() for a in letter.to)
    return went


def to(plan: Plan) -> list[tuple[str, list[str], list[str]]]:
    return [(letter.about, [a.address for a in letter.to], [a.address for a in letter.cc])
            for letter in plan.letters]


# --- allocations ---------------------------------------------------------------------------


def test_each_service_manager_gets_one_letter_with_their_own_workbook() -> None:
    cases = [case(1), case(2), case(3, service_manager="Kim Other", worker_id="W3")]
    directory = staff(contact("SM2", "kim other", "kim@example.org"))
    plan = allocation_letters(CTX, cases, directory)
    assert to(plan) == [("service manager Kim Other", ["kim@example.org"], []),
                        ("service manager Sam Manager", ["sam@example.org"], [])]
    sam = plan.letters[1]
    assert sam.files == (FOLDER / "service-managers" / "service-manager-02.xlsx",)
    assert sam.facts["references"] == ["2026-27-C3-001", "2026-27-C3-002"]
    assert sam.draft_name == "service-manager-02" and "Sam" not in sam.subject


def test_a_service_manager_without_a_row_is_found_on_their_practitioners_rows() -> None:
    directory = Directory([contact("W1", "Pat Worker1", service_manager="Sam Manager",
                                   service_manager_email="Sam.Manager@Example.org")])
    plan = allocation_letters(CTX, [case(1)], directory)
    assert to(plan) == [("service manager Sam Manager", ["Sam.Manager@example.org"], [])]


def test_two_emails_for_one_service_manager_are_held_not_guessed() -> None:
    directory = Directory([
        contact("W1", "Pat Worker1", service_manager="Sam Manager",
                service_manager_email="sam@example.org"),
        contact("W2", "Pat Worker2", service_manager="Sam Manager",
                service_manager_email="s.manager@example.org")])
    plan = allocation_letters(CTX, [case(1), case(2)], directory)
    assert plan.letters == []
    (held,) = plan.held
    assert "2 different emails for Service Manager 'Sam Manager'" in held.reason


# --- forms ---------------------------------------------------------------------------------


def test_forms_go_to_the_auditor_and_the_practitioner_together() -> None:
    plan = form_letters(CTX, [case(1), case(2, auditor_name="", auditor_email="")], staff())
    assert to(plan) == [("2026-27-C3-001 audit form", ["auditor1@example.org"], []),
                        ("2026-27-C3-001 self-reflection form", ["pat1@example.org"], [])]
    audit_letter, reflection_letter = plan.letters
    assert audit_letter.files == (FOLDER / "audit-forms" / "2026-27-C3-001-audit.xlsx",)
    assert reflection_letter.files == (
        FOLDER / "self-reflection" / "2026-27-C3-001-self-reflection.xlsx",)
    assert plan.waiting == ["1 case waits for their Service Manager's choice of auditor:"
                            " neither form is sent until the auditor is named."]


def test_an_auditor_named_without_an_email_is_found_in_the_staff_list() -> None:
    directory = staff(contact("A1", "Ann Auditor1", "ann@example.org", role="Senior"))
    plan = form_letters(CTX, [case(1, auditor_email="")], directory)
    assert to(plan)[0] == ("2026-27-C3-001 audit form", ["ann@example.org"], [])


def test_both_forms_wait_while_either_has_no_address() -> None:
    plan = form_letters(CTX, [case(1, worker_id="W99")], staff())
    assert plan.letters == []
    (held,) = plan.held
    assert held.about == "2026-27-C3-001 audit form and self-reflection form"
    assert "worker W99 is not in the staff list" in held.reason and "together" in held.reason


# --- reminders -----------------------------------------------------------------------------


def test_nothing_is_chased_before_the_due_date() -> None:
    plan = reminder_letters(CTX, [case(1)], staff(), {}, forms_went(case(1)))
    assert plan.letters == [] and plan.waiting == [
        "Nothing is overdue yet: returns are due 11/12/2026."]


def test_overdue_returns_are_chased_copying_the_service_manager() -> None:
    cases = [case(1), case(2, audit=audit()),
             case(3, auditor_name="", auditor_email="", reflection=REFLECTION)]
    plan = reminder_letters(LATE, cases, staff(), {}, forms_went(*cases))
    assert to(plan) == [
        ("2026-27-C3-001 audit form reminder", ["auditor1@example.org"], ["sam@example.org"]),
        ("2026-27-C3-001 self-reflection form reminder", ["pat1@example.org"],
         ["sam@example.org"]),
        ("2026-27-C3-002 self-reflection form reminder", ["pat2@example.org"],
         ["sam@example.org"]),
        # no auditor named yet: the Service Manager is the one to chase
        ("2026-27-C3-003 audit form reminder", ["sam@example.org"], []),
    ]
    assert plan.letters[0].files == (FOLDER / "audit-forms" / "2026-27-C3-001-audit.xlsx",)


def test_a_second_reminder_goes_to_the_service_manager_alone_after_the_days() -> None:
    reminded = {"2026-27-C3-001 audit form reminder": LATE.today}
    went = forms_went(case(1))
    soon = reminder_letters(replace(LATE, today=LATE.today + timedelta(days=6)),
                            [case(1, reflection=REFLECTION)], staff(), reminded, went)
    assert [a for a, _, _ in to(soon)] == ["2026-27-C3-001 audit form reminder"]
    assert soon.waiting == ["1 second reminder to Service Managers due from 19/12/2026."]
    due = reminder_letters(replace(LATE, today=LATE.today + timedelta(days=7)),
                           [case(1, reflection=REFLECTION)], staff(), reminded, went)
    assert to(due)[1] == ("2026-27-C3-001 audit form escalation", ["sam@example.org"], [])
    assert due.letters[1].facts["reminded_on"] == "12/12/2026"


def test_a_self_reflection_whose_form_never_went_is_not_chased() -> None:
    unnamed = case(1, auditor_name="", auditor_email="", audit=audit())
    plan = reminder_letters(LATE, [unnamed], staff(), {}, forms_went(unnamed))
    assert plan.letters == []
    assert plan.waiting[0].startswith("1 self-reflection not chased")


def test_forms_never_sent_are_not_chased_and_say_to_send_them_first() -> None:
    cases = [case(1), case(2, reflection=REFLECTION)]
    plan = reminder_letters(LATE, cases, staff(), {}, {})
    assert plan.letters == []
    assert plan.waiting == [
        "3 overdue forms not chased (2026-27-C3-001 audit form, 2026-27-C3-001"
        " self-reflection form, 2026-27-C3-002 audit form): the forms were never sent: run"
        " `qaudit send forms --cycle '2026-27 C3'` first; the next `qaudit send reminders`"
        " chases them."]


def test_a_form_that_went_to_someone_else_is_not_chased_from_the_new_auditor() -> None:
    """The Service Manager named another auditor after the form went: the new auditor has
    not had it, so they are not reminded of it (the practitioner, who had theirs, is)."""
    went = forms_went(case(1))
    renamed = case(1, auditor_name="Al Other", auditor_email="al@example.org")
    plan = reminder_letters(LATE, [renamed], staff(), {}, went)
    assert [a for a, _, _ in to(plan)] == ["2026-27-C3-001 self-reflection form reminder"]
    assert "2026-27-C3-001 audit form): the forms were never sent" in plan.waiting[0]


def test_no_second_reminder_for_a_form_that_never_reached_its_holder() -> None:
    reminded = {"2026-27-C3-001 audit form reminder": LATE.today - timedelta(days=30)}
    plan = reminder_letters(LATE, [case(1, reflection=REFLECTION)], staff(), reminded, {})
    assert plan.letters == []


def test_an_unnamed_audit_is_chased_with_its_service_manager_only_once_their_workbook_went(
) -> None:
    unnamed = case(1, auditor_name="", auditor_email="", reflection=REFLECTION)
    before = reminder_letters(LATE, [unnamed], staff(), {}, {})
    assert before.letters == []
    assert before.waiting == [
        "1 overdue audit with no auditor named not chased (2026-27-C3-001): the Service"
        " Manager's workbook was never sent: run `qaudit send allocations --cycle"
        " '2026-27 C3'` first; the next `qaudit send reminders` chases them."]
    after = reminder_letters(LATE, [unnamed], staff(), {}, forms_went(unnamed))
    assert to(after) == [("2026-27-C3-001 audit form reminder", ["sam@example.org"], [])]


# --- feedback ------------------------------------------------------------------------------


def test_feedback_goes_to_the_practitioner_and_line_manager_with_the_grade_of_record() -> None:
    cases = [case(1, audit=audit("good"), reflection=REFLECTION, sampled=True,
                  moderated_grade="adequate"),
             case(2, audit=audit(), reflection=REFLECTION, sampled=True),
             case(3, audit=audit()), case(4)]
    plan = feedback_letters(CTX, cases, staff(), SAMPLED)
    assert to(plan) == [("2026-27-C3-001 feedback", ["pat1@example.org", "lin@example.org"],
                         [])]
    facts = plan.letters[0].facts
    assert (facts["grade"], facts["auditor_grade"], facts["moderated"]) == (
        "Adequate", "Good", True)
    assert facts["reflection"]["went_well"] == "I listened."
    assert plan.letters[0].pack_name == "2026-27-C3-001-feedback.html"
    assert plan.waiting == [
        "1 audit not back yet: no feedback sent.",
        "1 audit in the moderation sample and not moderated yet: no feedback sent until"
        " `qaudit moderate ingest` takes their outcomes.",
        "1 audit waiting for the practitioner's self-reflection (until it is back, or the"
        " due date has passed): no feedback sent."]


def test_feedback_goes_without_the_self_reflection_once_the_due_date_has_passed() -> None:
    plan = feedback_letters(LATE, [case(1, audit=audit())], staff(), SAMPLED)
    assert plan.letters[0].facts["reflection"] is None


def test_no_feedback_pack_goes_before_the_cycle_has_a_moderation_sample() -> None:
    """The sample may pick any returned audit, and a picked audit takes the moderators'
    grade: a pack sent first would be followed by a second with another grade."""
    cases = [case(1, audit=audit(), reflection=REFLECTION), case(2, audit=audit()), case(3)]
    plan = feedback_letters(LATE, cases, staff(), ModerationState(drawn=False, returned=2))
    assert plan.letters == []
    assert plan.waiting == [
        "1 audit not back yet: no feedback sent.",
        "2 audits back, waiting for the cycle's moderation sample: no feedback goes before it"
        " is drawn, as an audit it picks takes the moderators' grade. Run `qaudit moderate"
        " select --cycle '2026-27 C3'`, then `qaudit moderate ingest` the moderators'"
        " workbook."]


def test_packs_outside_the_sample_wait_while_a_top_up_is_due() -> None:
    """More audits came back since the sample was drawn: `moderate select` would add one.
    Until it has, no pack goes for an audit it might pick; a moderated one goes, and one
    that went before is left to the record (unchanged, it does not go again)."""
    short = ModerationState(drawn=True, selected=2, target=3, returned=11, rate=0.2)
    cases = [case(1, audit=audit("good"), sampled=True, moderated_grade="outstanding"),
             case(2, audit=audit()), case(3, audit=audit()), case(4, audit=audit())]
    plan = feedback_letters(LATE, cases, staff(), short, sent={"2026-27-C3-004 feedback"})
    assert [a for a, _, _ in to(plan)] == ["2026-27-C3-001 feedback", "2026-27-C3-004 feedback"]
    assert plan.letters[0].facts["grade"] == "Outstanding"
    assert plan.waiting == [
        "2 audits outside the moderation sample, waiting for it to be topped up (it holds 2"
        " audits; 20% of the 11 returned is 3): no feedback sent, as the top-up may pick any"
        " of them. Run `qaudit moderate select --cycle '2026-27 C3'` to top it up, then"
        " `qaudit moderate ingest` the new round's workbook."]
    topped_up = feedback_letters(LATE, [*cases[:2], replace(cases[2], sampled=True)],
                                 staff(), replace(short, selected=3), sent=())
    assert [a for a, _, _ in to(topped_up)] == ["2026-27-C3-001 feedback",
                                                "2026-27-C3-002 feedback"]
    assert "in the moderation sample and not moderated yet" in topped_up.waiting[0]


def test_feedback_reaches_the_line_manager_when_the_practitioner_has_no_email() -> None:
    directory = Directory([contact("W1", "Pat Worker1", line_manager="Lin Lead"),
                           contact("L1", "Lin Lead", "lin@example.org")])
    plan = feedback_letters(LATE, [case(1, audit=audit())], directory, SAMPLED)
    assert to(plan) == [("2026-27-C3-001 feedback", ["lin@example.org"], [])]
    assert "the practitioner: the staff list has no email for worker W1" in (
        plan.held[0].reason)


# --- reports -------------------------------------------------------------------------------


def test_reports_go_to_directors_and_service_managers_and_highlights_to_the_network() -> None:
    files = {"Mid": (Path("/r/mid.html"),), "West": (Path("/r/west.html"),),
             "highlights": (Path("/r/highlights.html"),)}
    plan = report_letters(
        CTX, [case(1), case(2, quadrant="West", service_manager="Nobody Known")], staff(),
        quadrants=["Mid", "West"], directors={"Mid": ["dir@example.org", "not an address"]},
        countywide=["county@example.org"], network=[], files=files)
    assert to(plan) == [
        ("quadrant Mid", ["dir@example.org", "sam@example.org"], ["county@example.org"]),
        ("quadrant West", ["county@example.org"], []),
    ]
    reasons = {h.about: h.reason for h in plan.held}
    assert "'not an address' in qaudit.toml is not an email address" in reasons["quadrant Mid"]
    assert "Service Manager not sent the report" in reasons["quadrant West"]
    assert "network_list in qaudit.toml is empty" in reasons["highlights"]


# --- what a letter's content hash covers ----------------------------------------------------


def hashes(plans: list[Plan]) -> dict[str, str]:
    """about -> content hash, each file attached as the same bytes."""
    return {letter.about: content_hash(letter, [Attachment(p.name, b"PK same bytes")
                                                for p in letter.files])
            for plan in plans for letter in plan.letters}


def every_kind(ctx: CycleContext, directory: Directory, one: MailCase) -> list[Plan]:
    back = replace(one, audit=audit(), reflection=REFLECTION, sampled=True,
                   moderated_grade="good")
    late = replace(ctx, today=ctx.due + timedelta(days=30))
    return [allocation_letters(ctx, [one], directory),
            form_letters(ctx, [one], directory),
            reminder_letters(late, [one], directory,
                             {f"{one.reference} audit form reminder": ctx.due},
                             forms_went(one, directory=directory)),
            feedback_letters(ctx, [back], directory, SAMPLED)]


def test_a_corrected_name_or_setting_wording_sends_no_letter_again() -> None:
    """Names as the staff list spells them, a type's display name and a grade's descriptor
    are shown in messages but are not news: correcting them changes no content hash."""
    one = case(1, auditor_email="")
    directory = staff(contact("A1", "Ann Auditor1", "ann@example.org"))
    first = hashes(every_kind(CTX, directory, one))
    assert len(first) == 7  # workbook, 2 forms, 2 reminders and an escalation, the pack
    respelt = Directory([
        contact("W1", "Patricia  WORKER-ONE", "pat1@example.org",
                line_manager="Lin Leader", line_manager_email="lin@example.org"),
        contact("SM1", "Sam  Manager", "sam@example.org", role="Service Manager"),
        contact("A1", "ANN AUDITOR1", "ann@example.org")])
    reworded = replace(CTX, type_names={"care_act_assessment": "Care Act 2014 assessment"},
                       grade_descriptors={"good": "Good, evidence-based practice."})
    plans = every_kind(reworded, respelt, replace(one, worker_name="Patricia Worker",
                                                  auditor_name="Ann  Auditor1"))
    assert plans[3].letters[0].facts["practitioner"] == "Patricia WORKER-ONE"
    assert hashes(plans) == first


def test_what_a_message_says_that_matters_changes_its_hash() -> None:
    one = case(1)
    first = hashes(every_kind(CTX, staff(), one))
    week = timedelta(days=7)
    later = hashes(every_kind(replace(CTX, due=DUE + week), staff(),
                              replace(one, due_date=DUE + week)))
    assert all(later[about] != first[about] for about in first if "feedback" not in about)
    back = replace(one, audit=audit(), reflection=REFLECTION, sampled=True,
                   moderated_grade="good")
    pack = hashes([feedback_letters(CTX, [back], staff(), SAMPLED)])
    for changed in (replace(back, moderated_grade="outstanding"),
                    replace(back, audit=audit(rationale="Clearer analysis.")),
                    replace(back, reflection=None)):
        assert hashes([feedback_letters(LATE, [changed], staff(), SAMPLED)]) != pack


# --- subjects ------------------------------------------------------------------------------

NAMES = st.from_regex(r"[A-Z][a-z]{2,8}-[A-Z][a-z]{2,8} [A-Z][a-z]{3,9}", fullmatch=True)
IDS = st.from_regex(r"P[0-9]{5,8}", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(names=st.lists(NAMES, min_size=3, max_size=3, unique=True), worker_id=IDS)
def test_no_subject_names_a_person_or_holds_their_id(names: list[str], worker_id: str) -> None:
    practitioner, auditor, manager = names
    people = (practitioner, auditor, manager, worker_id)
    one = case(1, worker_id=worker_id, worker_name=practitioner, auditor_name=auditor,
               auditor_email="", service_manager=manager)
    directory = Directory([
        contact(worker_id, practitioner, "p@example.org", line_manager=manager,
                line_manager_email="m@example.org"),
        contact("A", auditor, "a@example.org"), contact("M", manager, "m@example.org")])
    back = replace(one, audit=audit(), reflection=REFLECTION)
    plans = [
        allocation_letters(CTX, [one], directory),
        form_letters(CTX, [one], directory),
        reminder_letters(LATE, [one], directory, {f"{one.reference} audit form reminder":
                                                  LATE.today - timedelta(days=9)},
                         forms_went(one, directory=directory)),
        reminder_letters(LATE, [replace(one, auditor_name="")], directory, {},
                         forms_went(one, directory=directory)),
        feedback_letters(CTX, [back], directory, SAMPLED),
        report_letters(CTX, [one], directory, quadrants=["Mid"], directors={},
                       countywide=[], network=["n@example.org"],
                       files={"Mid": (), "highlights": ()}),
    ]
    letters = [letter for plan in plans for letter in plan.letters]
    assert len(letters) == 10
    for letter in letters:
        assert not [p for p in people if p in letter.subject or p in letter.draft_name]
