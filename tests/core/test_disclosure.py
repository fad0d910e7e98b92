"""Small numbers are never shown, nor recoverable from totals; intervals are right."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qaudit.disclosure import suppress_counts, suppress_table, wilson_interval

tables = st.integers(1, 6).flatmap(
    lambda cols: st.lists(st.lists(st.integers(0, 30), min_size=cols, max_size=cols),
                          min_size=1, max_size=6)
)


@settings(max_examples=300, deadline=None)
@given(tables, st.integers(2, 10))
def test_no_small_count_is_shown_or_recoverable_from_totals(
    table: list[list[int]], threshold: int
) -> None:
    hidden = suppress_table(table, threshold)
    rows, cols = len(table), len(table[0])
    for r in range(rows):
        for c in range(cols):
            if 0 < table[r][c] < threshold:
                assert hidden[r][c]
    for r in range(rows):
        if cols > 1:
            assert sum(hidden[r]) != 1
    for c in range(cols):
        if rows > 1:
            assert sum(hidden[r][c] for r in range(rows)) != 1


def test_a_single_small_cell_takes_the_next_smallest_with_it() -> None:
    assert suppress_counts([12, 3, 9, 20], 5) == [False, True, True, False]
    assert suppress_counts([12, 0, 9, 20], 5) == [False, False, False, False]
    assert suppress_counts([2, 1, 30], 5) == [True, True, False]


def test_zero_is_shown() -> None:
    assert suppress_counts([0, 0, 7], 5) == [False, False, False]


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),  # Newcombe (1998), example: 81/263
        (15, 148, 0.0624, 0.1605),  # Newcombe (1998): 15/148
        (0, 20, 0.0, 0.1611),
        (20, 20, 0.8389, 1.0),
    ],
)
def test_wilson_interval_matches_published_values(k: int, n: int, low: float,
                                                  high: float) -> None:
    interval = wilson_interval(k, n)
    assert interval is not None
    assert math.isclose(interval[0], low, abs_tol=5e-4)
    assert math.isclose(interval[1], high, abs_tol=5e-4)
    assert wilson_interval(0, 0) is None
