"""Re-audits: which audits are due one, and what the linked pairs of audit and re-audit show.

The framework: *further audits will be completed to analyse whether changes have been
implemented and improvements have been made*. An audit graded Requires improvement (the
grade of record: the moderated grade where there is one) is due a re-audit once its
corrective action is recorded and enough of the year's regular cycles have been drawn
after its own; one re-audit per practitioner (or per team) a round, of work completed
after both the audited work and the corrective action; and each audit is followed up
once. Pure: the store reads the audits and pairs, the job draws.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from qaudit.disclosure import wilson_interval
from qaudit.grading import LABEL, RANK, REQUIRES_IMPROVEMENT

By = Literal["practitioner", "team"]

#: The follow-up step that records the corrective action (``[ri] steps`` in qaudit.toml).
CORRECTIVE_ACTION = "corrective-action"


def corrective_action_step(steps: Mapping[str, str]) -> str:
    """The ``[ri] steps`` key whose record means the corrective action happened:
    ``corrective-action`` where the workspace keeps it, else the first step listed (the
    framework lists the team manager's corrective action first)."""
    if CORRECTIVE_ACTION in steps:
        return CORRECTIVE_ACTION
    return next(iter(steps), CORRECTIVE_ACTION)


@dataclass(frozen=True)
class AuditOnRecord:
    """A returned audit of a regular cycle, as the re-audit rules look at it."""

    reference: str
    cycle: str
    worker_id: str
    team: str
    audit_type: str
    quadrant: str
    completed_date: date  # of the audited work
    grade: str  # the grade of record
    steps_done: frozenset[str] = frozenset()  # RI follow-up steps recorded
    followed_up_by: str = ""  # the reference of the re-audit already drawn for it
    allocation_id: int = 0  # the audit's allocation: what a re-audit is linked to
    steps_on: tuple[tuple[str, date], ...] = ()  # (step, the day it was done), as recorded

    def group(self, by: By) -> str:
        """Whose work a re-audit is drawn from: the practitioner's, or the team's."""
        return self.worker_id if by == "practitioner" else _team_key(self.team)

    def done_on(self, step: str) -> date | None:
        """The day a follow-up step was done (``ri record --on``), if recorded."""
        return next((on for s, on in self.steps_on if s == step), None)

    def work_after(self, action_step: str = CORRECTIVE_ACTION) -> date:
        """The re-audited work is completed after this day: after the audited work and, for
        a Requires improvement audit, after its corrective action (work done before the
        action cannot show whether the action changed anything)."""
        action = self.done_on(action_step) if self.grade == REQUIRES_IMPROVEMENT else None
        return max(self.completed_date, action) if action else self.completed_date

    def to_record(self) -> dict[str, Any]:
        """As a round's draw records it (``from_record`` reads it back)."""
        return {"reference": self.reference, "cycle": self.cycle, "worker_id": self.worker_id,
                "team": self.team, "audit_type": self.audit_type, "quadrant": self.quadrant,
                "completed_date": self.completed_date.isoformat(), "grade": self.grade,
                "steps_done": sorted(self.steps_done), "followed_up_by": self.followed_up_by,
                "allocation_id": self.allocation_id,
                "steps_on": [[s, on.isoformat()] for s, on in self.steps_on]}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> AuditOnRecord:
        return cls(
            reference=str(record["reference"]), cycle=str(record["cycle"]),
            worker_id=str(record["worker_id"]), team=str(record["team"]),
            audit_type=str(record["audit_type"]), quadrant=str(record["quadrant"]),
            completed_date=date.fromisoformat(str(record["completed_date"])),
            grade=str(record["grade"]),
            steps_done=frozenset(str(s) for s in record.get("steps_done", ())),
            followed_up_by=str(record.get("followed_up_by", "")),
            allocation_id=int(record.get("allocation_id", 0)),
            steps_on=tuple((str(s), date.fromisoformat(str(on)))
                           for s, on in record.get("steps_on", ())),
        )


def _team_key(team: str) -> str:
    return " ".join(team.split()).casefold()


@dataclass(frozen=True)
class NotDue:
    audit: AuditOnRecord
    reason: str


@dataclass(frozen=True)
class ReauditDue:
    """What a round of re-audits would follow up: one audit per practitioner (or team),
    and every other audit in the grades asked for, with why it is not followed up now."""

    due: tuple[AuditOnRecord, ...]
    not_due: tuple[NotDue, ...]


def cycles_after(cycles: Sequence[str], cycle: str, after: str) -> int | None:
    """How many of ``cycles`` (the drawn regular cycles, oldest first) come after
    ``cycle``, up to and including ``after``; None if ``cycle`` is not ``after`` or before
    it."""
    if cycle not in cycles or after not in cycles:
        return None
    first, last = cycles.index(cycle), cycles.index(after)
    return last - first if first <= last else None


def due_for_reaudit(
    audits: Sequence[AuditOnRecord],
    *,
    cycles: Sequence[str],
    after: str,
    grades: Collection[str] = (REQUIRES_IMPROVEMENT,),
    min_cycles: int = 2,
    by: By = "practitioner",
    action_step: str = CORRECTIVE_ACTION,
) -> ReauditDue:
    """Which audits a round of re-audits after cycle ``after`` follows up.

    An audit whose grade of record is in ``grades`` is due when: it has not been
    followed up already; a Requires improvement audit's corrective action
    (``action_step``) is recorded (another grade has no RI follow-up to wait for); and at
    least ``min_cycles`` of ``cycles`` (drawn regular cycles, oldest first) come after its
    own cycle, up to and including ``after``. Of the audits due, each practitioner (or
    team, ``by``) has one followed up a round: the earliest (by cycle, then reference);
    the others wait for a later round. Audits of other grades are not listed at all.
    """
    position = {c: n for n, c in enumerate(cycles)}
    wanted = [a for a in audits if a.grade in grades]
    wanted.sort(key=lambda a: (position.get(a.cycle, len(cycles)), a.reference))
    due: list[AuditOnRecord] = []
    first_of: dict[str, AuditOnRecord] = {}
    not_due: list[NotDue] = []
    for audit in wanted:
        reason = _why_not_due(audit, cycles, after, min_cycles, action_step)
        if reason is None:
            earlier = first_of.get(audit.group(by))
            if earlier is not None:
                reason = (f"{earlier.reference} of the same {by} is followed up in this round;"
                          " this one waits for the next")
        if reason is None:
            first_of[audit.group(by)] = audit
            due.append(audit)
        else:
            not_due.append(NotDue(audit, reason))
    return ReauditDue(tuple(sorted(due, key=lambda a: a.reference)),
                      tuple(sorted(not_due, key=lambda n: n.audit.reference)))


def _why_not_due(audit: AuditOnRecord, cycles: Sequence[str], after: str, min_cycles: int,
                 action_step: str) -> str | None:
    if audit.followed_up_by:
        return f"already followed up by the re-audit {audit.followed_up_by}"
    if audit.grade == REQUIRES_IMPROVEMENT and action_step not in audit.steps_done:
        return (f"corrective action not recorded yet (qaudit ri record {audit.reference}"
                f" --step {action_step} --on DATE)")
    since = cycles_after(cycles, audit.cycle, after)
    if since is None:
        return f"its cycle {audit.cycle} is not {after} or before it"
    if since < min_cycles:
        return (f"{since} regular cycle(s) drawn after {audit.cycle} up to {after};"
                f" {min_cycles} needed")
    return None


# --- the linked pairs ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReauditPair:
    """An audit and the re-audit that followed it up; ``grade`` is None until the
    re-audit is returned (and then the question ids compare the two returns' answers)."""

    first_reference: str
    first_cycle: str
    first_grade: str
    reference: str
    cycle: str
    grade: str | None
    no_then_yes: tuple[str, ...] = ()
    yes_then_no: tuple[str, ...] = ()

    @property
    def returned(self) -> bool:
        return self.grade is not None

    @property
    def change(self) -> str | None:
        """'improved', 'same' or 'worse' (the re-audit's grade against the audit's); None
        until it is returned, and None where either grade is missing or not a grade (never
        'improved' for want of a grade before)."""
        if (self.grade is None or self.first_grade not in RANK
                or self.grade not in RANK):
            return None
        before, after = RANK.get(self.first_grade, 0), RANK.get(self.grade, 0)
        return "improved" if after > before else "worse" if after < before else "same"

    def outcome(self) -> str:
        """How the RI list shows it: 'REF2, graded Good' or 'REF2, drawn, not returned'."""
        if self.grade is None:
            return f"{self.reference}, drawn, not returned"
        return f"{self.reference}, graded {LABEL.get(self.grade, self.grade)}"

    def to_json(self) -> dict[str, Any]:
        return {"first_reference": self.first_reference, "first_cycle": self.first_cycle,
                "first_grade": self.first_grade, "reference": self.reference,
                "cycle": self.cycle, "grade": self.grade, "change": self.change,
                "no_then_yes": list(self.no_then_yes), "yes_then_no": list(self.yes_then_no)}


def answer_changes(before: Mapping[str, str], after: Mapping[str, str]
                   ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The questions answered No before and Yes after, and Yes before and No after (by
    question id; a question asked only once, or answered N/A, is neither)."""
    asked = sorted(set(before) & set(after))
    return (tuple(q for q in asked if before[q] == "No" and after[q] == "Yes"),
            tuple(q for q in asked if before[q] == "Yes" and after[q] == "No"))


@dataclass(frozen=True)
class QuestionChange:
    question_id: str
    no_then_yes: int  # returned pairs answering it No before and Yes after
    yes_then_no: int


@dataclass(frozen=True)
class ReauditOutcomes:
    """What the re-audits show, over the returned pairs."""

    pairs: int  # re-audits drawn
    returned: int
    improved: int  # improved, same and worse: of the compared pairs
    same: int
    worse: int
    interval: tuple[float, float] | None  # 95% Wilson interval of improved / returned
    questions: tuple[QuestionChange, ...]  # most No-then-Yes first
    grades: tuple[tuple[str, str, int], ...]  # (grade before, grade after, pairs)
    # Returned pairs with both grades (the rest, whose audit has no grade of record, are
    # not compared: never counted as improved).
    compared: int = 0

    @property
    def not_compared(self) -> int:
        return self.returned - self.compared

    @property
    def share_improved(self) -> float | None:
        return self.improved / self.compared if self.compared else None

    def to_json(self) -> dict[str, Any]:
        return {
            "drawn": self.pairs, "returned": self.returned, "compared": self.compared,
            "improved": self.improved, "same": self.same, "worse": self.worse,
            "share_improved": self.share_improved,
            "interval": list(self.interval) if self.interval else None,
            "questions": [{"question_id": q.question_id, "no_then_yes": q.no_then_yes,
                           "yes_then_no": q.yes_then_no} for q in self.questions],
            "grades": [{"before": b, "after": a, "pairs": n} for b, a, n in self.grades],
        }


def outcomes(pairs: Sequence[ReauditPair]) -> ReauditOutcomes:
    """The figures of the linked pairs: how many re-audits were drawn and returned, how
    many improved on the audit's grade (with a 95% Wilson interval), stayed or fell, each
    question's No-then-Yes and Yes-then-No counts, and the grade before x after table.
    A returned pair missing the audit's grade is counted as returned, not compared."""
    returned = [p for p in pairs if p.returned]
    compared = [p for p in returned if p.change is not None]
    change = Counter(p.change for p in compared)
    up: Counter[str] = Counter(q for p in compared for q in p.no_then_yes)
    down: Counter[str] = Counter(q for p in compared for q in p.yes_then_no)
    questions = sorted(set(up) | set(down), key=lambda q: (-up[q], down[q], q))
    grade_order = {g: n for n, g in enumerate(RANK)}
    moves = Counter((p.first_grade, p.grade or "") for p in compared)
    return ReauditOutcomes(
        pairs=len(pairs), returned=len(returned), improved=change["improved"],
        same=change["same"], worse=change["worse"],
        interval=wilson_interval(change["improved"], len(compared)),
        questions=tuple(QuestionChange(q, up[q], down[q]) for q in questions),
        grades=tuple((b, a, n) for (b, a), n in sorted(
            moves.items(), key=lambda kv: (grade_order.get(kv[0][0], 9),
                                           grade_order.get(kv[0][1], 9), kv[0]))),
        compared=len(compared),
    )
