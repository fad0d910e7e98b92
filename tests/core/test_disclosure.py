"""Small numbers are never shown, nor recoverable from anything else shown; intervals are
right. ``protect`` is checked here against exhaustive enumeration on small tables."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.test_reports import _pinned
from qaudit.disclosure import Figure, Key, Kind, protect, revealed, total, wilson_interval
from qaudit.reports import percent_and_interval


def table_figures(table: Sequence[Sequence[int]]) -> tuple[list[Figure], dict[Key, int]]:
    """A table with its row, column and grand totals, every figure a count."""
    rows, cols = len(table), len(table[0])
    cell = {(r, c): ("x", str(r), str(c)) for r in range(rows) for c in range(cols)}
    truth = {cell[r, c]: table[r][c] for r in range(rows) for c in range(cols)}
    figures = [Figure(("cell", str(r), str(c)), total(cell[r, c]), table[r][c], cell=True)
               for r in range(rows) for c in range(cols)]
    figures += [Figure(("row", str(r)), total(*(cell[r, c] for c in range(cols))),
                       sum(table[r])) for r in range(rows)]
    figures += [Figure(("col", str(c)), total(*(cell[r, c] for r in range(rows))),
                       sum(table[r][c] for r in range(rows))) for c in range(cols)]
    figures.append(Figure(("all",), total(*cell.values()), sum(map(sum, table))))
    return figures, truth


def feasible_values(figures: Sequence[Figure], hidden: frozenset[Key], truth: dict[Key, int],
                    keys: Sequence[Key]) -> dict[Key, set[int]]:
    """The values each of ``keys`` takes over all tables of whole, non-negative counts that
    agree with every shown figure, by enumeration (backtracking over the counts not shown
    alone, each no more than the smallest shown sum it is part of): until each has two."""
    shown = [f for f in figures if f.key not in hidden]
    assert all(c == 1 for f in figures for _, c in f.terms)
    known = {v: f.value for f in shown if f.kind is Kind.COUNT and len(f.terms) == 1
             for v, _ in f.terms}
    unknown = sorted(set(truth) - set(known))
    sums = [f for f in shown if f.kind is Kind.COUNT and len(f.terms) > 1]
    ranges = [f for f in shown if f.kind is Kind.DERIVED]
    top = {v: min([f.value for f in sums if any(v == t for t, _ in f.terms)]
                  + [sum(truth.values())]) for v in unknown}
    targets = [f for f in figures if f.key in keys]
    values: dict[Key, set[int]] = {f.key: set() for f in targets}
    x = dict(known)

    def fits(done: set[Key]) -> bool:
        for f in sums + ranges:
            terms = [t for t, _ in f.terms]
            low, high = f.known_range()
            partial = sum(x[t] for t in terms if t in done)
            if partial > high:
                return False
            if all(t in done for t in terms) and partial < low:
                return False
        return True

    def choices(v: Key, done: set[Key]) -> range:
        """Its possible values: forced where it is the last count of a shown sum."""
        for f in sums:
            terms = [t for t, _ in f.terms]
            if v in terms and all(t in done for t in terms if t != v):
                rest = f.value - sum(x[t] for t in terms if t != v)
                return range(rest, rest + 1) if 0 <= rest <= top[v] else range(0)
        return range(top[v] + 1)

    def place(i: int, done: set[Key]) -> bool:
        """Every table from here on; True once each key has two values (enough)."""
        if i == len(unknown):
            for f in targets:
                values[f.key].add(sum(x[t] for t, _ in f.terms))
            return all(len(v) >= 2 for v in values.values())
        for value in choices(unknown[i], done):
            x[unknown[i]] = value
            if fits(done | {unknown[i]}) and place(i + 1, done | {unknown[i]}):
                return True
        return False

    place(0, set(known))
    return values


tables = st.integers(2, 3).flatmap(
    lambda cols: st.lists(st.lists(st.integers(0, 6), min_size=cols, max_size=cols),
                          min_size=2, max_size=3))


@settings(max_examples=30, deadline=None)
@given(tables)
def test_no_hidden_count_can_be_worked_out_by_enumeration(table: list[list[int]]) -> None:
    figures, truth = table_figures(table)
    hidden = protect(figures, [], truth, 5)
    assert {f.key for f in figures if 0 < f.value < 5} <= hidden
    found = feasible_values(figures, hidden, truth, sorted(hidden))
    assert {k for k, v in found.items() if len(v) < 2} == set(), (table, hidden)


def test_a_single_small_cell_takes_a_second_one_with_it() -> None:
    figures, truth = table_figures([[12, 3, 9, 20], [10, 11, 12, 13]])
    hidden = protect(figures, [], truth, 5)
    assert ("cell", "0", "1") in hidden
    assert len({k for k in hidden if k[0] == "cell"}) >= 4  # a rectangle of four cells
    assert not {k for k in hidden if k[0] != "cell"}  # the totals stay


def test_zero_is_shown_and_nothing_hidden_without_a_small_count() -> None:
    figures, truth = table_figures([[0, 0, 7], [5, 6, 0]])
    assert protect(figures, [], truth, 5) == frozenset()


def good_or_better_figures(grades: Sequence[int]) -> tuple[list[Figure], dict[Key, int]]:
    """One row of grades (RI, adequate, good, outstanding) with its total and 'good or
    better' as a percentage with its interval, as the reports show them."""
    keys = [("x", g) for g in ("ri", "adequate", "good", "outstanding")]
    truth = dict(zip(keys, grades, strict=True))
    n, good = sum(grades), grades[2] + grades[3]

    def text(k: int, n: int) -> str:
        low, high = wilson_interval(k, n) or (0.0, 0.0)
        return f"{100 * k / n:.0f}% {100 * low:.0f}%-{100 * high:.0f}%"

    figures = [Figure(("cell", k[1]), total(k), v, cell=True) for k, v in truth.items()]
    figures += [Figure(("n",), total(*keys), n),
                Figure(("good or better",), total(*keys[2:]), good, Kind.DERIVED,
                       reveals=revealed(good, n, text), requires=(("n",),))]
    return figures, truth


def test_a_percentage_that_would_undo_the_suppression_is_hidden() -> None:
    """Issue 10: 'Good or better: 62% of 24' beside '* | 7 | 12 | * | 24' pins 3 and 2."""
    figures, truth = good_or_better_figures([2, 7, 12, 3])
    assert revealed(15, 24, lambda k, n: f"{100 * k / n:.0f}%") == (15, 15)
    hidden = protect(figures, [], truth, 5)
    assert {("cell", "ri"), ("cell", "outstanding"), ("good or better",)} <= hidden
    assert ("n",) not in hidden
    found = feasible_values(figures, hidden, truth, [("cell", "ri"), ("cell", "outstanding")])
    assert all(len(v) >= 2 for v in found.values())


def test_a_percentage_that_tells_nothing_more_is_kept() -> None:
    figures, truth = good_or_better_figures([2, 3, 12, 7])  # good or better: 19 of 24
    hidden = protect(figures, [], truth, 5)
    assert ("good or better",) not in hidden


def test_a_figure_requiring_a_hidden_one_is_hidden_with_it() -> None:
    figures, truth = good_or_better_figures([1, 1, 1, 1])  # n = 4: small
    hidden = protect(figures, [], truth, 5)
    assert {("n",), ("good or better",)} <= hidden


def test_revealed_reads_back_every_numerator_with_the_same_text() -> None:
    def pct(k: int, n: int) -> str:
        return f"{100 * k / n:.0f}%"

    assert revealed(60, 357, pct) == (59, 62)  # 17%: 59/357 = 16.5%, 62/357 = 17.4%
    assert revealed(5, 8, pct) == (5, 5)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_revealed_is_every_numerator_a_percentage_and_interval_cannot_tell_apart(
        shown: tuple[int, int]) -> None:
    """``revealed`` reads outwards from the value; every numerator of the base that prints
    the same lies in that run (a percentage and its interval only grow with it)."""
    k, n = shown
    same = [j for j in range(n + 1) if percent_and_interval(j, n) == percent_and_interval(k, n)]
    assert revealed(k, n, percent_and_interval) == (min(same), max(same))
    assert same == list(range(min(same), max(same) + 1))


def margin_figures(shape: tuple[int, ...], counts: Sequence[int]
                   ) -> tuple[list[Figure], dict[Key, int]]:
    """A table of ``shape`` (``counts`` in row-major order) with every margin: each sum
    over any of its dimensions, down to the total, as a quadrant x type x grade table and
    its totals are published; every figure a count, the cells as cells."""
    cells = list(itertools.product(*(range(size) for size in shape)))
    truth = {("x", *map(str, cell)): n for cell, n in zip(cells, counts, strict=True)}
    figures = []
    for kept in itertools.product((True, False), repeat=len(shape)):
        for at in sorted({tuple(str(c) if keep else "*" for c, keep in zip(cell, kept,
                                                                            strict=True))
                          for cell in cells}):
            terms = [x for x in truth if all(a in ("*", b) for a, b in zip(at, x[1:],
                                                                            strict=True))]
            figures.append(Figure(("n", *at), total(*terms), sum(truth[x] for x in terms),
                                  cell=all(kept)))
    return figures, truth


def pinned_by_what_is_shown(figures: Sequence[Figure], hidden: frozenset[Key],
                            truth: dict[Key, int]) -> list[str]:
    """The hidden figures every whole table agreeing with the shown ones gives the same
    value (the independent integer search of ``tests/core/test_reports.py``)."""
    index = {x: i for i, x in enumerate(sorted(truth))}
    rows = [({index[x]: c for x, c in f.terms}, float(f.value), float(f.value))
            for f in figures if f.key not in hidden]
    targets = [(str(f.key), {index[x]: c for x, c in f.terms}, f.value) for f in figures
               if f.key in hidden]
    return _pinned(rows, len(index), targets)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=18, max_size=18))
def test_no_hidden_cell_of_a_three_way_table_can_be_worked_out(counts: list[int]) -> None:
    figures, truth = margin_figures((2, 3, 3), counts)
    hidden = protect(figures, [], truth, 5)
    assert {f.key for f in figures if 0 < f.value < 5} <= hidden
    assert pinned_by_what_is_shown(figures, hidden, truth) == [], (counts, sorted(hidden))


@settings(max_examples=10, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 2, 3, 5, 6, 8, 12]), min_size=16, max_size=16))
@example([5, 2, 2, 5, 12, 6, 5, 0, 1, 0, 0, 1, 0, 2, 6, 8])
def test_no_hidden_cell_of_a_four_way_table_can_be_worked_out(counts: list[int]) -> None:
    """In a four-way table the linear program's cheapest answer is not always a whole
    table (the example: then the integer search decides what to hide)."""
    figures, truth = margin_figures((2, 2, 2, 2), counts)
    hidden = protect(figures, [], truth, 5)
    assert {f.key for f in figures if 0 < f.value < 5} <= hidden
    assert pinned_by_what_is_shown(figures, hidden, truth) == [], (counts, sorted(hidden))


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


# --- one model, one decision; kept and used again ------------------------------------------


class Kept:
    """Decisions kept in memory (the report job keeps them in files)."""

    def __init__(self) -> None:
        self.kept: dict[str, frozenset[Key]] = {}
        self.asked = 0

    def get(self, key: str) -> frozenset[Key] | None:
        self.asked += 1
        return self.kept.get(key)

    def put(self, key: str, hidden: frozenset[Key]) -> None:
        self.kept[key] = hidden


def test_one_model_always_gets_one_decision_whatever_the_order_of_its_terms() -> None:
    """Two runs must never publish two different suppressions of the same data; nor may
    the order a figure's terms come in (a set's order, from one run to the next) change
    the decision or its key."""
    from qaudit.disclosure import decision_key

    figures, truth = table_figures([[3, 8, 6], [7, 2, 9], [5, 5, 1]])
    shuffled = [Figure(f.key, tuple(reversed(f.terms)), f.value, f.kind, f.reveals, f.cell)
                for f in figures]
    first = protect(figures, [], truth, 5)
    assert protect(figures, [], truth, 5) == first
    assert protect(shuffled, [], truth, 5) == first
    assert decision_key(figures, [], truth, 5) == decision_key(shuffled, [], truth, 5)
    assert decision_key(figures, [], truth, 5) != decision_key(figures, [], truth, 4)


def test_a_decision_published_by_an_earlier_release_is_kept_by_this_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two releases suppressing one record two ways, both published, can together give
    away what each hid; so a decision made by an earlier procedure is kept, not decided
    again, and a new procedure (ALGORITHM) does not change any decision's key."""
    from qaudit import disclosure
    from qaudit.disclosure import decision_key

    figures, truth = table_figures([[3, 8, 6], [7, 2, 9], [5, 5, 1]])
    key = decision_key(figures, [], truth, 5)
    monkeypatch.setattr(disclosure, "ALGORITHM", "protect-99")
    assert decision_key(figures, [], truth, 5) == key
    # What protect-2 published (kept under its key, which named it): hiding more than
    # today's procedure would, every small count included.
    decided = protect(figures, [], truth, 5)
    published = decided | {f.key for f in figures if f.key not in decided}
    kept = Kept()
    kept.kept[decision_key(figures, [], truth, 5, algorithm="protect-2")] = published
    assert protect(figures, [], truth, 5, cache=kept) == published
    assert kept.kept[key] == published  # and kept under today's key from now on


def test_a_kept_decision_is_used_again_and_a_doubtful_one_is_not() -> None:
    figures, truth = table_figures([[3, 8, 6], [7, 2, 9], [5, 5, 1]])
    kept = Kept()
    first = protect(figures, [], truth, 5, cache=kept)
    assert list(kept.kept.values()) == [first]
    assert protect(figures, [], truth, 5, cache=kept) == first
    # One that shows a small count (tampered, or from a bug) is worked out again.
    (key,) = kept.kept
    kept.kept[key] = frozenset()
    assert protect(figures, [], truth, 5, cache=kept) == first
    assert kept.kept[key] == first
