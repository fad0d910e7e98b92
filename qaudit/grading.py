"""The framework's four grades: their order, wording, descriptors and how people type them."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Grade:
    key: str
    label: str
    rank: int  # 1 = Requires improvement ... 4 = Outstanding
    descriptor: str


GRADES: tuple[Grade, ...] = (
    Grade(
        "requires_improvement",
        "Requires improvement",
        1,
        "Practice is insufficient or lacking in professional insight and analysis. There is"
        " a lack of reference to the application of relevant legislation and organisational"
        " guidance. Work is poorly structured and recorded. Limited or no evidence of the"
        " person's voice or involvement in the assessment.",
    ),
    Grade(
        "adequate",
        "Adequate",
        2,
        "Some evidence of professional practice backed up by application of relevant"
        " legislation and organisational guidance. Some evidence of involving the person, and"
        " collaborative working. Quality of recording could be improved.",
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
    ),
)

GRADE_LABELS: tuple[str, ...] = tuple(g.label for g in GRADES)
_BY_FOLDED = {re.sub(r"[^a-z]", "", g.label.lower()): g for g in GRADES}
_BY_FOLDED.update({"ri": GRADES[0], "requiresimprovements": GRADES[0]})


def parse_grade(text: object) -> Grade | None:
    """The grade a person meant, tolerating case, spacing and 'RI'; None if not a grade."""
    if not isinstance(text, str):
        return None
    return _BY_FOLDED.get(re.sub(r"[^a-z]", "", text.lower()))
