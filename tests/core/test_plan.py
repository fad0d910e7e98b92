"""The year's plan as a rule: windows that tile the period, never overlapping, each due
after it ends; the year a plan is for."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qaudit.db.plan import overlaps
from qaudit.errors import QauditError
from qaudit.jobs.plan import MOST_DAYS, tile, year_label


@settings(max_examples=200, deadline=None)
@given(start=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
       cycles=st.integers(1, 26), weeks=st.integers(1, 52), return_days=st.integers(1, 365))
def test_plan_windows_never_overlap_and_tile_the_period(
    start: date, cycles: int, weeks: int, return_days: int
) -> None:
    plan = tile("2026-27", start, cycles, weeks, return_days)
    assert len(plan) == cycles
    assert plan[0].date_from == start
    for before, after in pairwise(plan):
        assert after.date_from == before.date_to + timedelta(days=1)  # no gap, no overlap
    for a in plan:
        assert a.days == weeks * 7
        assert a.due_date == a.date_to + timedelta(days=return_days) > a.date_to
        assert all(not overlaps(a.date_from, a.date_to, b.date_from, b.date_to)
                   for b in plan if b is not a)
    covered = {p.date_from + timedelta(days=d) for p in plan for d in range(p.days)}
    period = (plan[-1].date_to - start).days + 1
    assert len(covered) == period == cycles * weeks * 7  # every day of the period, once
    assert [p.name for p in plan] == [f"2026-27 C{n}" for n in range(1, cycles + 1)]


def test_eight_six_week_cycles_fit_in_a_year() -> None:
    plan = tile("2026-27", date(2026, 4, 6), 8, 6, 28)
    assert (plan[-1].date_to - plan[0].date_from).days + 1 == 336 <= MOST_DAYS
    assert plan[2].window() == "29/06/2026 to 09/08/2026"
    assert plan[2].due_date == date(2026, 9, 6)


@pytest.mark.parametrize(("text", "label"), [("2026-27", "2026-27"), ("2026", "2026-27"),
                                             ("2026/27", "2026-27"), (" 2026/2027 ", "2026-27"),
                                             ("2099", "2099-00")])
def test_a_year_is_named_as_cycles_name_it(text: str, label: str) -> None:
    assert year_label(text) == label


@pytest.mark.parametrize("text", ["2026-28", "26-27", "next year", "1999", "2026-27 C1", "",
                                  "=HYPERLINK(\"x\")", "2026\x1b[31m"])
def test_what_is_not_a_year_is_refused(text: str) -> None:
    with pytest.raises(QauditError, match="is not a year"):
        year_label(text)
