"""The report builders: figures in the framework's order, honest sorting."""

from __future__ import annotations

from dataclasses import dataclass

from qaudit.reports import compliance


@dataclass(frozen=True)
class Count:
    audit_type: str
    aspect: str
    question_id: str
    answer: str
    count: int


def test_compliance_is_lowest_first_then_hidden_in_question_order() -> None:
    answers = [
        Count("t", "voice", "P10", "Yes", 2), Count("t", "voice", "P2", "No", 1),
        Count("t", "voice", "P1", "Yes", 1),
        Count("t", "practice", "Q1", "Yes", 3), Count("t", "practice", "Q1", "No", 3),
        Count("t", "recording", "R1", "Yes", 9), Count("t", "recording", "R1", "No", 1),
    ]
    per_question, per_aspect = compliance(answers, {}, {"t": "T"}, 5,
                                          ["voice", "practice", "impact", "recording"])
    assert [q["question"] for q in per_question] == ["T Q1", "T R1", "T P1", "T P2", "T P10"]
    assert [q["percent"] for q in per_question] == ["50%", "90%", "*", "*", "*"]
    assert [a["aspect"] for a in per_aspect] == ["voice", "practice", "recording"]
