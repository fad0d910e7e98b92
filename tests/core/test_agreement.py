"""The workshop's agreement figures equal the reference implementations.

Fleiss' kappa against ``statsmodels``; Krippendorff's alpha (ordinal) against the
``krippendorff`` package; Gwet's AC2 with ordinal weights against the worked example of
Gwet's Handbook of Inter-Rater Reliability (4th ed., the 4 raters x 12 subjects of p. 120:
AC2 0.899, pa 0.968, pe 0.685, as irrCAC reports them) and, to 1e-9, against a second,
independent straight transcription of the formula below (loops over raters and pairs).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from qaudit.agreement import (
    against_record,
    bootstrap_interval,
    case_label,
    disagreement,
    fleiss_kappa,
    gwet_ac2,
    krippendorff_alpha_ordinal,
    many_raters,
    ordinal_weights,
    rating_counts,
    spread_pick,
)

GRADES = 4
#: Gwet (2014), p. 120: 12 subjects, 4 raters, categories 1..5 (here 0..4), None = not rated.
GWET_4_RATERS = [
    [0, 0, None, 0], [1, 1, 2, 1], [2, 2, 2, 2], [2, 2, 2, 2], [1, 1, 1, 1], [0, 1, 2, 3],
    [3, 3, 3, 3], [0, 0, 1, 0], [1, 1, 1, 1], [None, 4, 4, 4], [None, None, 0, 0],
    [None, None, 2, None],
]


def workshop_grades(cases: int, raters: int, missing: bool = False) -> st.SearchStrategy[
        list[list[int | None]]]:
    grade = st.integers(0, GRADES - 1)
    cell = st.one_of(grade, st.none()) if missing else grade
    return st.lists(st.lists(cell, min_size=raters, max_size=raters), min_size=cases,
                    max_size=cases)


complete_tables = st.integers(2, 12).flatmap(
    lambda n: st.integers(2, 8).flatmap(lambda r: workshop_grades(n, r)))
tables_with_gaps = st.integers(2, 12).flatmap(
    lambda n: st.integers(2, 8).flatmap(lambda r: workshop_grades(n, r, missing=True)))


def ac2_by_hand(ratings: list[list[int | None]], q: int) -> float | None:
    """Gwet's AC2 for many raters, transcribed straight from the Handbook (eq. 2.23 with
    weights): every pair of ratings of a subject, every rater's share of each category."""
    w = [[1 - (math.comb(abs(k - m) + 1, 2) / math.comb(q, 2)) for m in range(q)]
         for k in range(q)]
    pa_terms = []
    shares = []
    for row in ratings:
        given_ = [v for v in row if v is not None]
        if not given_:
            continue
        shares.append([given_.count(k) / len(given_) for k in range(q)])
        if len(given_) < 2:
            continue
        agree = sum(w[a][b] for a, b in itertools.permutations(given_, 2))
        pa_terms.append(agree / (len(given_) * (len(given_) - 1)))
    if not pa_terms:
        return None
    pa = sum(pa_terms) / len(pa_terms)
    pi = [sum(s[k] for s in shares) / len(shares) for k in range(q)]
    tw = sum(sum(r) for r in w)
    pe = tw / (q * (q - 1)) * sum(p * (1 - p) for p in pi)
    return None if math.isclose(pe, 1.0) else (pa - pe) / (1 - pe)


def reference_alpha(ratings: list[list[int | None]]) -> float:
    data = np.array([[np.nan if v is None else v for v in row] for row in ratings]).T
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal",
                                    value_domain=list(range(GRADES))))


# --- the worked example -------------------------------------------------------------------


def test_gwet_handbook_example_ordinal_ac2() -> None:
    counts = rating_counts(GWET_4_RATERS, 5)
    assert round(gwet_ac2(counts) or 0, 3) == 0.899
    assert gwet_ac2(counts) == pytest.approx(ac2_by_hand(GWET_4_RATERS, 5), abs=1e-12)


def test_gwet_handbook_example_unweighted_ac1() -> None:
    counts = rating_counts(GWET_4_RATERS, 5)
    assert round(gwet_ac2(counts, np.eye(5)) or 0, 3) == 0.775  # Handbook: AC1 0.7754


def test_ordinal_weights_for_four_grades() -> None:
    np.testing.assert_allclose(ordinal_weights(4), [
        [1, 5 / 6, 1 / 2, 0], [5 / 6, 1, 5 / 6, 1 / 2], [1 / 2, 5 / 6, 1, 5 / 6],
        [0, 1 / 2, 5 / 6, 1]])


# --- equal to the reference implementations -----------------------------------------------


@settings(max_examples=80, deadline=None)
@given(complete_tables)
def test_fleiss_kappa_equals_statsmodels(ratings: list[list[int | None]]) -> None:
    counts = rating_counts(ratings, GRADES)
    ours = fleiss_kappa(counts)
    pe = ((counts.sum(axis=0) / counts.sum()) ** 2).sum()
    if math.isclose(pe, 1.0):
        assert ours is None
        return
    assert ours == pytest.approx(float(sm_fleiss(counts, method="fleiss")), abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(tables_with_gaps)
def test_krippendorff_alpha_equals_the_krippendorff_package(
        ratings: list[list[int | None]]) -> None:
    ours = krippendorff_alpha_ordinal(rating_counts(ratings, GRADES))
    pairable = [v for row in ratings if sum(v is not None for v in row) >= 2
                for v in row if v is not None]
    if len(set(pairable)) < 2:
        assert ours is None
        return
    assert ours == pytest.approx(reference_alpha(ratings), abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(tables_with_gaps)
def test_gwet_ac2_equals_the_straight_transcription(ratings: list[list[int | None]]) -> None:
    ours = gwet_ac2(rating_counts(ratings, GRADES))
    theirs = ac2_by_hand(ratings, GRADES)
    if theirs is None:
        assert ours is None
    else:
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_fleiss_with_gaps_is_fleiss_when_nothing_is_missing() -> None:
    table = [[3, 2, 2, 3], [1, 1, 0, 1], [2, 2, 2, 2], [0, 0, 1, 0], [3, 3, 3, 2]]
    counts = rating_counts(table, GRADES)
    assert fleiss_kappa(counts) == pytest.approx(float(sm_fleiss(counts)), abs=1e-12)


# --- what a workshop lead would expect ----------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, GRADES - 1), min_size=2, max_size=10).filter(
    lambda g: len(set(g)) >= 2), st.integers(2, 8))
def test_perfect_agreement_gives_one(record: list[int], raters: int) -> None:
    counts = rating_counts([[g] * raters for g in record], GRADES)
    assert fleiss_kappa(counts) == pytest.approx(1.0)
    assert gwet_ac2(counts) == pytest.approx(1.0)
    assert krippendorff_alpha_ordinal(counts) == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(tables_with_gaps, st.randoms(use_true_random=False))
def test_permuting_participants_or_cases_changes_nothing(
        ratings: list[list[int | None]], rnd: object) -> None:
    import random

    assert isinstance(rnd, random.Random)
    order = list(range(len(ratings[0])))
    rnd.shuffle(order)
    by_participant = [[row[j] for j in order] for row in ratings]
    by_case = list(ratings)
    rnd.shuffle(by_case)
    for statistic in (fleiss_kappa, gwet_ac2, krippendorff_alpha_ordinal):
        base = statistic(rating_counts(ratings, GRADES))
        for other in (by_participant, by_case):
            moved = statistic(rating_counts(other, GRADES))
            assert (base is None and moved is None) or moved == pytest.approx(base, abs=1e-12)


def test_one_grade_everywhere_leaves_kappa_and_alpha_undefined() -> None:
    counts = rating_counts([[2, 2, 2]] * 5, GRADES)
    assert fleiss_kappa(counts) is None
    assert krippendorff_alpha_ordinal(counts) is None
    assert gwet_ac2(counts) == pytest.approx(1.0)  # AC2's chance term does not collapse


def test_interval_is_reproducible_from_its_seed_and_holds_the_value() -> None:
    table = [[3, 2, 2, 3, 2], [1, 1, 0, 1, 1], [2, 2, 2, 2, 3], [0, 0, 1, 0, 0],
             [3, 3, 3, 2, 3], [2, 1, 2, 2, 2], [1, 1, 1, 2, 1], [2, 3, 2, 2, 2]]
    first = many_raters(table, GRADES, seed=11)
    again = many_raters(table, GRADES, seed=11)
    assert first == again
    for c in (first.fleiss_kappa, first.gwet_ac2, first.krippendorff_alpha):
        assert c.value is not None and c.interval is not None
        assert c.interval.low <= c.value <= c.interval.high
    assert first.cases == 8 and first.participants == 5 and first.grades == 40


def test_no_interval_from_two_cases() -> None:
    counts = rating_counts([[0, 1], [2, 3]], GRADES)
    assert bootstrap_interval(counts, fleiss_kappa, seed=1) is None


def test_participant_against_the_grade_of_record() -> None:
    result = against_record([(2, 2), (3, 2), (1, 1), (0, 2)])
    assert result.graded == 4
    assert result.exact == 0.5
    assert result.within_one == 0.75
    assert result.mean_distance == pytest.approx(0.75)
    assert result.mean_difference == pytest.approx(-0.25)
    assert against_record([]).exact is None


def test_disagreement_of_a_case() -> None:
    assert disagreement([2, 2, 2]) == 0
    assert disagreement([0, 3]) == 3
    assert disagreement([0, 1, 2, None]) == pytest.approx(4 / 3)
    assert disagreement([1, None]) is None


# --- which cases a workshop takes ---------------------------------------------------------

TYPES = ("care_act_assessment", "care_act_review", "mca_assessment", "safeguarding_s42")
GRADE_KEYS = ("requires_improvement", "adequate", "good", "outstanding")
pools = st.lists(st.tuples(st.sampled_from(TYPES), st.sampled_from(GRADE_KEYS)),
                 min_size=0, max_size=40)


@settings(max_examples=80, deadline=None)
@given(pools, st.integers(1, 45), st.integers(0, 2**32 - 1))
def test_workshop_cases_are_reproducible_distinct_and_spread_over_types(
        pool: list[tuple[str, str]], n: int, seed: int) -> None:
    picked = spread_pick(pool, n, np.random.default_rng(seed))
    assert picked == spread_pick(pool, n, np.random.default_rng(seed))
    assert len(picked) == len(set(picked)) == min(n, len(pool))
    available = Counter(t for t, _ in pool)
    taken = Counter(pool[i][0] for i in picked)
    for a in available:
        for b in available:
            # a type is short of another by two or more only once it has run out
            assert taken[a] >= taken[b] - 1 or taken[a] == available[a]


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 16), st.integers(0, 2**32 - 1))
def test_where_every_type_offers_every_grade_both_are_balanced(n: int, seed: int) -> None:
    pool = [(t, g) for t in TYPES for g in GRADE_KEYS for _ in range(4)]
    picked = spread_pick(pool, n, np.random.default_rng(seed))
    types = Counter(pool[i][0] for i in picked)
    grades = Counter(pool[i][1] for i in picked)
    assert len(types) == min(n, 4) and len(grades) == min(n, 4)
    assert max(types.values()) - min(types.values()) <= 1
    assert max(grades.values()) - min(grades.values()) <= 1


def test_case_labels() -> None:
    assert [case_label(n) for n in (1, 2, 26, 27)] == ["Case A", "Case B", "Case Z",
                                                      "Case AA"]
