"""Re-audits, as the framework has them: *further audits will be completed to analyse
whether changes have been implemented and improvements have been made*. Only an audit
whose corrective action is recorded is followed up, only after the required cycles, never
twice, one per practitioner (or team) a round; and the pairs' figures add up."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from qaudit.grading import GRADE_KEYS, REQUIRES_IMPROVEMENT
from qaudit.reaudits import (
    CORRECTIVE_ACTION,
    AuditOnRecord,
    ReauditPair,
    answer_changes,
    corrective_action_step,
    cycles_after,
    due_for_reaudit,
    outcomes,
)

CYCLES = tuple(f"2026-27 C{n}" for n in range(1, 7))
STEPS = (CORRECTIVE_ACTION, "psw-meeting", "esca-referral")


@st.composite
def audits(draw: st.DrawFn) -> list[AuditOnRecord]:
    count = draw(st.integers(0, 25))
    found = []
    for n in range(count):
        found.append(AuditOnRecord(
            reference=f"2026-27-C{n % 6 + 1}-{n:03d}",
            cycle=draw(st.sampled_from(CYCLES)),
            worker_id=draw(st.sampled_from(("W1", "W2", "W3", "W4"))),
            team=draw(st.sampled_from(("North Team", "north  team", "South Team"))),
            audit_type=draw(st.sampled_from(("care_act_review", "mca_assessment"))),
            quadrant=draw(st.sampled_from(("North", "South"))),
            completed_date=date(2026, 9, 1) + timedelta(days=draw(st.integers(0, 200))),
            grade=draw(st.sampled_from(GRADE_KEYS)),
            steps_done=frozenset(steps := draw(st.sets(st.sampled_from(STEPS)))),
            followed_up_by=draw(st.sampled_from(("", "", "", "2026-27-C3-re-audits-001"))),
            allocation_id=n + 1,
            steps_on=tuple((s, date(2026, 9, 1) + timedelta(days=draw(st.integers(0, 200))))
                           for s in sorted(steps)),
        ))
    return found


rounds = st.fixed_dictionaries({
    "after": st.sampled_from(CYCLES),
    "grades": st.sets(st.sampled_from(GRADE_KEYS), min_size=1).map(tuple)
    | st.just((REQUIRES_IMPROVEMENT,)),
    "min_cycles": st.integers(0, 4),
    "by": st.sampled_from(("practitioner", "team")),
})


def ready(audit: AuditOnRecord, after: str, grades: tuple[str, ...], min_cycles: int) -> bool:
    """The rule, said plainly: graded as asked, not followed up, its corrective action
    recorded (an RI audit), and enough regular cycles drawn after its own."""
    since = cycles_after(CYCLES, audit.cycle, after)
    return (audit.grade in grades and not audit.followed_up_by
            and (audit.grade != REQUIRES_IMPROVEMENT or CORRECTIVE_ACTION in audit.steps_done)
            and since is not None and since >= min_cycles)


@settings(max_examples=80, deadline=None)
@given(audits(), rounds)
def test_only_closed_action_audits_are_followed_up_after_the_cycles_and_never_twice(
        found: list[AuditOnRecord], r: dict) -> None:
    result = due_for_reaudit(found, cycles=CYCLES, **r)
    for audit in result.due:
        assert ready(audit, r["after"], r["grades"], r["min_cycles"])
        if audit.grade == REQUIRES_IMPROVEMENT:
            assert CORRECTIVE_ACTION in audit.steps_done
        assert cycles_after(CYCLES, audit.cycle, r["after"]) >= r["min_cycles"]
        assert not audit.followed_up_by
    references = [a.reference for a in result.due]
    assert len(references) == len(set(references))
    for n in result.not_due:
        if n.audit.followed_up_by:
            assert n.reason.startswith("already followed up by the re-audit")
    # every audit in the grades is due or says why not; no other is listed
    listed = references + [n.audit.reference for n in result.not_due]
    assert sorted(listed) == sorted(a.reference for a in found if a.grade in r["grades"])
    assert all(n.reason for n in result.not_due)


@settings(max_examples=80, deadline=None)
@given(audits(), rounds)
def test_one_reaudit_per_practitioner_or_team_and_none_left_out(
        found: list[AuditOnRecord], r: dict) -> None:
    result = due_for_reaudit(found, cycles=CYCLES, **r)
    groups = [a.group(r["by"]) for a in result.due]
    assert len(groups) == len(set(groups))
    # every practitioner (team) with an audit ready has exactly one followed up, the earliest
    ready_by_group: dict[str, list[AuditOnRecord]] = {}
    for a in found:
        if ready(a, r["after"], r["grades"], r["min_cycles"]):
            ready_by_group.setdefault(a.group(r["by"]), []).append(a)
    assert set(groups) == set(ready_by_group)
    for a in result.due:
        earliest = min(ready_by_group[a.group(r["by"])],
                       key=lambda x: (CYCLES.index(x.cycle), x.reference))
        assert a == earliest


def test_the_reasons_read_as_the_officer_needs_them() -> None:
    base = AuditOnRecord("2026-27-C1-004", "2026-27 C1", "W1", "North Team", "care_act_review",
                         "North", date(2026, 9, 3), REQUIRES_IMPROVEMENT)
    no_action = due_for_reaudit([base], cycles=CYCLES, after="2026-27 C4")
    assert no_action.not_due[0].reason == (
        "corrective action not recorded yet (qaudit ri record 2026-27-C1-004 --step"
        " corrective-action --on DATE)")
    acted = AuditOnRecord(**{**base.__dict__, "steps_done": frozenset({CORRECTIVE_ACTION})})
    early = due_for_reaudit([acted], cycles=CYCLES, after="2026-27 C2")
    assert early.not_due[0].reason == ("1 regular cycle(s) drawn after 2026-27 C1 up to"
                                       " 2026-27 C2; 2 needed")
    assert due_for_reaudit([acted], cycles=CYCLES, after="2026-27 C3").due == (acted,)
    before = due_for_reaudit([acted], cycles=CYCLES, after="2026-27 C1", min_cycles=0)
    assert before.due == (acted,)
    adequate = AuditOnRecord(**{**base.__dict__, "grade": "adequate"})
    assert due_for_reaudit([adequate], cycles=CYCLES, after="2026-27 C4").due == ()
    assert due_for_reaudit([adequate], cycles=CYCLES, after="2026-27 C4",
                           grades=("adequate",)).due == (adequate,)


def test_the_corrective_action_step_is_the_workspaces_own() -> None:
    assert corrective_action_step({"psw-meeting": "x", CORRECTIVE_ACTION: "y"}) == (
        CORRECTIVE_ACTION)
    assert corrective_action_step({"manager-action": "x", "psw-meeting": "y"}) == (
        "manager-action")


answers = st.dictionaries(st.sampled_from([f"V{n}" for n in range(1, 8)]),
                          st.sampled_from(("Yes", "No", "N/A")), max_size=7)


@given(answers, answers)
def test_a_question_changes_only_from_no_to_yes_or_yes_to_no(before: dict[str, str],
                                                           after: dict[str, str]) -> None:
    up, down = answer_changes(before, after)
    assert all(before[q] == "No" and after[q] == "Yes" for q in up)
    assert all(before[q] == "Yes" and after[q] == "No" for q in down)
    assert not set(up) & set(down)
    assert len(up) == sum(1 for q in before if before[q] == "No" and after.get(q) == "Yes")


pairs_strategy = st.lists(st.builds(
    ReauditPair,
    first_reference=st.just("2026-27-C1-001"), first_cycle=st.just("2026-27 C1"),
    first_grade=st.sampled_from((*GRADE_KEYS, "")), reference=st.just("R-001"),
    cycle=st.just("2026-27 C3 re-audits"), grade=st.none() | st.sampled_from(GRADE_KEYS),
    no_then_yes=st.lists(st.sampled_from(("V1", "V2", "V3")), unique=True).map(tuple),
    yes_then_no=st.lists(st.sampled_from(("V4", "V5")), unique=True).map(tuple),
), max_size=30)


@given(pairs_strategy)
def test_the_outcomes_add_up_over_the_returned_pairs(pairs: list[ReauditPair]) -> None:
    o = outcomes(pairs)
    returned = [p for p in pairs if p.grade is not None]
    assert o.pairs == len(pairs) and o.returned == len(returned)
    assert o.improved + o.same + o.worse == o.compared == sum(
        p.first_grade in GRADE_KEYS for p in returned)
    assert sum(n for _, _, n in o.grades) == o.compared
    if o.compared:
        assert o.interval is not None and o.share_improved is not None
        assert o.interval[0] - 1e-12 <= o.share_improved <= o.interval[1] + 1e-12
    else:
        assert o.interval is None and o.share_improved is None
    compared = [p for p in returned if p.first_grade]
    for q in o.questions:
        assert q.no_then_yes == sum(q.question_id in p.no_then_yes for p in compared)
        assert q.yes_then_no == sum(q.question_id in p.yes_then_no for p in compared)
    counts = [q.no_then_yes for q in o.questions]
    assert counts == sorted(counts, reverse=True)


def test_an_improvement_is_a_better_grade_than_before() -> None:
    pair = ReauditPair("A-001", "C1", REQUIRES_IMPROVEMENT, "R-001", "C3 re-audits", "good",
                       ("V2",), ())
    waiting = ReauditPair("A-002", "C1", REQUIRES_IMPROVEMENT, "R-002", "C3 re-audits", None)
    same = ReauditPair("A-003", "C1", REQUIRES_IMPROVEMENT, "R-003", "C3 re-audits",
                       REQUIRES_IMPROVEMENT)
    assert pair.change == "improved" and same.change == "same" and waiting.change is None
    assert pair.outcome() == "R-001, graded Good"
    assert waiting.outcome() == "R-002, drawn, not returned"
    o = outcomes([pair, waiting, same])
    assert (o.pairs, o.returned, o.improved, o.same) == (3, 2, 1, 1)
    assert o.share_improved == 0.5
    assert o.grades == ((REQUIRES_IMPROVEMENT, REQUIRES_IMPROVEMENT, 1),
                        (REQUIRES_IMPROVEMENT, "good", 1))


def test_a_reaudit_whose_audit_has_no_grade_is_never_improved() -> None:
    """An audit with no grade of record (shown "—") is not compared: neither improved nor
    counted in the share."""
    ungraded = ReauditPair("A-001", "C1", "", "R-001", "C3 re-audits", "good")
    assert ungraded.returned and ungraded.change is None
    graded = ReauditPair("A-002", "C1", REQUIRES_IMPROVEMENT, "R-002", "C3 re-audits", "good")
    o = outcomes([ungraded, graded])
    assert (o.pairs, o.returned, o.compared, o.not_compared, o.improved) == (2, 2, 1, 1, 1)
    assert o.share_improved == 1.0 and o.grades == ((REQUIRES_IMPROVEMENT, "good", 1),)
    assert o.to_json()["drawn"] == 2 and "pairs" not in o.to_json()


def test_the_later_work_comes_after_the_corrective_action_too() -> None:
    audit = AuditOnRecord("2026-27-C1-004", "2026-27 C1", "W1", "North Team",
                          "care_act_review", "North", date(2026, 6, 10), REQUIRES_IMPROVEMENT,
                          frozenset({CORRECTIVE_ACTION}),
                          steps_on=((CORRECTIVE_ACTION, date(2026, 9, 15)),))
    assert audit.work_after() == date(2026, 9, 15)
    assert audit.work_after("psw-meeting") == date(2026, 6, 10)  # another workspace's step
    early = AuditOnRecord(**{**audit.__dict__, "steps_on": ((CORRECTIVE_ACTION,
                                                             date(2026, 6, 1)),)})
    assert early.work_after() == date(2026, 6, 10)  # the action before the audited work
    adequate = AuditOnRecord(**{**audit.__dict__, "grade": "adequate"})
    assert adequate.work_after() == date(2026, 6, 10)  # no RI follow-up to wait for


@given(audits())
def test_an_audit_due_is_recorded_with_the_draw_and_read_back_the_same(
        found: list[AuditOnRecord]) -> None:
    import json

    for audit in found:
        again = AuditOnRecord.from_record(json.loads(json.dumps(audit.to_record())))
        assert again == audit
