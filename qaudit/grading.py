"""The framework's four grades, and what a grade of record sets in motion.

The only place grade keys, labels, short labels and ranks are spelled; the only place
the rules live that the moderated grade is the grade of record and that a "Requires
improvement" grade of record puts the audit on the Practice Quality Team's monitoring
list (and that a regrade takes it off again).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Grade:
    key: str
    label: str
    rank: int  # 1 = Requires improvement ... 4 = Outstanding
    descriptor: str
    short: str  # for narrow tables


GRADES: tuple[Grade, ...] = (
    Grade(
        "requires_improvement",
        "Requires improvement",
        1,
        "Practice is insufficient or lacking in professional insight and analysis. There is"
        " a lack of reference to the application of relevant legislation and organisational"
        " guidance. Work is poorly structured and recorded. Limited or no evidence of the"
        " person's voice or involvement in the assessment.",
        "RI",
    ),
    Grade(
        "adequate",
        "Adequate",
        2,
        "Some evidence of professional practice backed up by application of relevant"
        " legislation and organisational guidance. Some evidence of involving the person, and"
        " collaborative working. Quality of recording could be improved.",
        "Adequate",
    ),
    Grade(
        "good",
        "Good",
        3,
        "Evidence-based professional practice with the application of relevant legislation"
        " and organisational guidance. Outcomes are clearly defined. The person has been"
        " supported to participate, and the work includes their views and wishes. Recording"
        " is clear, consistent, and well-structured. There is evidence of impact and"
        " professional decision-making.",
        "Good",
    ),
    Grade(
        "outstanding",
        "Outstanding",
        4,
        "As with a 'good' grade but with evidence of exceptional professional practice,"
        " competence, and decision-making. The work has in-depth case analysis of the"
        " person's circumstances, with innovative interventions to enhance the wellbeing of"
        " the person, utilising their skills and assets to minimise risk, disadvantage, and"
        " adversity.",
        "Outstanding",
    ),
)

REQUIRES_IMPROVEMENT = "requires_improvement"
#: Whom an auditor may escalate a concern to (the framework's escalation step).
ESCALATED_TO = ("Team manager", "Service Manager")
GRADE_KEYS: tuple[str, ...] = tuple(g.key for g in GRADES)
GRADE_LABELS: tuple[str, ...] = tuple(g.label for g in GRADES)
LABEL: dict[str, str] = {g.key: g.label for g in GRADES}
RANK: dict[str, int] = {g.key: g.rank for g in GRADES}
GOOD_OR_BETTER: frozenset[str] = frozenset(g.key for g in GRADES if g.rank >= 3)
GRADE_COUNT = len(GRADES)
_BY_FOLDED = {re.sub(r"[^a-z]", "", g.label.lower()): g for g in GRADES}
_BY_FOLDED.update({"ri": GRADES[0], "requiresimprovements": GRADES[0]})


def parse_grade(text: object) -> Grade | None:
    """The grade a person meant, tolerating case, spacing and 'RI'; None if not a grade."""
    if not isinstance(text, str):
        return None
    return _BY_FOLDED.get(re.sub(r"[^a-z]", "", text.lower()))


def grade_of_record(auditor_grade: str, moderated_grade: str | None) -> str:
    """The grade that counts: the moderators' where the audit was moderated."""
    return moderated_grade or auditor_grade


# --- Requires improvement monitoring ------------------------------------------------------


class RiStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"  # regraded (by a replacement return or at moderation)


#: The follow-up the framework asks for on every 'Requires improvement' audit: corrective
#: action by the team manager, discussion at the six-weekly meeting of the Practice Quality
#: Team and the Principal Social Worker, and discussion with the training academy (ESCA).
#: The defaults of ``[ri] steps`` in qaudit.toml.
DEFAULT_RI_STEPS: dict[str, str] = {
    "corrective-action": "Corrective action by the team manager",
    "psw-meeting": "Discussed at the six-weekly PQT/PSW meeting (risk, legal compliance,"
                   " any injustice to the person addressed)",
    "esca-referral": "Discussed with ESCA (training completed, support offered)",
}


def ri_status_after(current: RiStatus | None, grade: str) -> RiStatus | None:
    """The monitoring status an audit moves to when its grade of record becomes ``grade``;
    ``None`` means no change (and, with no current item, nothing to monitor).

    An RI grade opens an item or reopens a withdrawn one; any other grade withdraws an
    open item. A closed item stays closed: its follow-up happened.
    """
    requires_improvement = grade == REQUIRES_IMPROVEMENT
    if requires_improvement and current in (None, RiStatus.WITHDRAWN):
        return RiStatus.OPEN
    if not requires_improvement and current is RiStatus.OPEN:
        return RiStatus.WITHDRAWN
    return None


def ri_step_refusal(status: RiStatus, done: dict[str, str], step: str,
                    steps: dict[str, str]) -> str | None:
    """Why a follow-up step cannot be recorded now, or None if it can."""
    if step not in steps:
        return f"--step {step!r} is not a follow-up step; use one of {', '.join(steps)}."
    if status is RiStatus.CLOSED:
        return "it is closed; reopen it first with `qaudit ri reopen REF --reason TEXT`."
    if status is RiStatus.WITHDRAWN:
        return "it was withdrawn (regraded), so it needs no follow-up."
    if step in done:
        return (f"{step} is already recorded (on {done[step]}); the history keeps what was"
                " recorded, so a step is recorded once.")
    return None


def ri_close_refusal(status: RiStatus, done: dict[str, str], steps: dict[str, str],
                     force: bool) -> str | None:
    """Why an RI audit cannot be closed now, or None if it can. Every step the settings
    require must be recorded first, unless ``force`` (which needs a reason, kept)."""
    if status is not RiStatus.OPEN:
        return f"it is {status}, not open."
    missing = [s for s in steps if s not in done]
    if missing and not force:
        return (f"follow-up not complete: {', '.join(missing)} not recorded. Record them with"
                " `qaudit ri record`, or close anyway with --force --reason TEXT.")
    return None
