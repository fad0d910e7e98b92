"""Closing the loop with the practitioner: the reflective conversation, and the year's view.

The framework: once the audit is complete, "the feedback should be shared with the
practitioner, ideally via a reflective conversation with their line manager"; and, as
"observation and feedback on practice", every member of staff has individual audited case
file feedback at least once a year. ``record_feedback`` stores one conversation;
``feedback_year`` lists each practitioner with the audits of their work returned and the
conversations held in a year, flagging those with none.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from qaudit.db import Store
from qaudit.db.people import FeedbackRecorded, PractitionerAudit
from qaudit.errors import QauditError
from qaudit.jobs.followup import reference_to_change
from qaudit.values import HIDDEN_IN_TEXT, fold_line_endings

MAX_NOTE = 2_000
_YEAR = re.compile(r"^(\d{4})[-/](\d{2})$")


def record_feedback(store: Store, reference: str, held_on: date, note: str,
                    today: date) -> FeedbackRecorded:
    """Record that the feedback conversation of a returned audit took place. The
    reference is found as every command finds one (``Draws.stored_reference``); an audit
    of a purged cycle is refused (``followup.reference_to_change``)."""
    reference = reference_to_change(store, reference, "record feedback for")
    if held_on > today:
        raise QauditError(f"--on {held_on:%d/%m/%Y} is in the future; record the conversation"
                          " once it has taken place.")
    note = fold_line_endings(note).strip()
    if len(note) > MAX_NOTE:
        raise QauditError(f"--note is {len(note):,} characters; keep it to {MAX_NOTE:,} (what"
                          " was agreed, not the conversation itself).")
    if (hidden := HIDDEN_IN_TEXT.search(note)) is not None:
        raise QauditError(
            f"--note holds a hidden character (U+{ord(hidden[0]):04X}), which could hide or"
            " reorder what it says, or drive a terminal; type the note again as plain text"
            " (line breaks and tabs are fine).")
    return store.people.record_feedback(reference.strip(), held_on, note)


# --- the year's view -------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date  # inclusive


def financial_year(day: date) -> Period:
    """The council's year (1 April to 31 March) that ``day`` falls in, e.g. '2026-27'."""
    first = day.year if day.month >= 4 else day.year - 1
    return Period(f"{first}-{(first + 1) % 100:02d}", date(first, 4, 1), date(first + 1, 3, 31))


def parse_year(text: str) -> Period:
    """'2026-27' as the year from 1 April 2026 to 31 March 2027."""
    m = _YEAR.match(text.strip())
    if m is None or (int(m[1]) + 1) % 100 != int(m[2]):
        raise QauditError(f"--year {text!r} is not a year such as 2026-27 (1 April 2026 to 31"
                          " March 2027).")
    return financial_year(date(int(m[1]), 4, 1))


def period(year: str | None, start: date | None, end: date | None, today: date) -> Period:
    """The period asked for: --year, or --from/--to, or the year today falls in."""
    if year is not None and (start is not None or end is not None):
        raise QauditError("give --year, or --from and --to, not both.")
    if year is not None:
        return parse_year(year)
    if start is None and end is None:
        return financial_year(today)
    if start is None or end is None:
        raise QauditError("give both --from and --to (or --year).")
    if end < start:
        raise QauditError(f"--to {end:%d/%m/%Y} is before --from {start:%d/%m/%Y}.")
    return Period(f"{start:%d/%m/%Y} to {end:%d/%m/%Y}", start, end)


@dataclass(frozen=True)
class PractitionerFeedback:
    """One practitioner's year: audits of their work returned, conversations held."""

    worker_id: str
    name: str
    team: str
    role: str
    on_staff_list: bool
    audits_returned: int  # came back in the period
    conversations: int  # feedback conversations held in the period
    last_conversation: str | None  # ISO
    references: tuple[str, ...]  # the audits of the period (returned or talked about)

    @property
    def none_this_year(self) -> bool:
        return self.conversations == 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"none_this_year": self.none_this_year}


@dataclass(frozen=True)
class FeedbackYear:
    period: Period
    practitioners: list[PractitionerFeedback]

    @property
    def without(self) -> int:
        return sum(p.none_this_year for p in self.practitioners)

    def to_json(self) -> dict[str, Any]:
        return {"period": self.period.label, "from": self.period.start.isoformat(),
                "to": self.period.end.isoformat(),
                "practitioners": [p.to_json() for p in self.practitioners],
                "without_feedback": self.without}


def feedback_year(store: Store, chosen: Period) -> FeedbackYear:
    """Every practitioner on the staff list, and everyone audited in the period: audits
    returned, conversations held; those with none first (audited ones before the rest)."""
    first, last = chosen.start.isoformat(), chosen.end.isoformat()
    staff = {r.member.worker_id: r.member for r in store.people.staff()}
    audits = store.people.audits_in_period(chosen.start, chosen.end)
    by_worker: dict[str, list[PractitionerAudit]] = {}
    for a in audits:
        by_worker.setdefault(a.worker_id, []).append(a)
    people = []
    for worker_id in [*staff, *(w for w in by_worker if w not in staff)]:
        mine = by_worker.get(worker_id, [])
        member = staff.get(worker_id)
        held = sorted({(a.reference, d) for a in mine for d in a.feedback if first <= d <= last},
                      key=lambda x: x[1])
        people.append(PractitionerFeedback(
            worker_id=worker_id,
            name=member.name if member else mine[0].practitioner,
            team=member.team if member and member.team else (mine[0].team if mine else ""),
            role=member.role if member else "",
            on_staff_list=member is not None,
            audits_returned=sum(1 for a in mine if first <= a.received <= last),
            conversations=len(held), last_conversation=held[-1][1] if held else None,
            references=tuple(a.reference for a in mine)))
    # Audited but not talked to first: they are the ones to follow up now.
    people.sort(key=lambda p: (not p.none_this_year, p.audits_returned == 0, p.name.casefold(),
                               p.worker_id))
    return FeedbackYear(chosen, people)
