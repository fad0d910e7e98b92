"""The workshop's agreement figures equal the reference implementations.

Fleiss' kappa against ``statsmodels``; Krippendorff's alpha (ordinal) against the
``krippendorff`` package. Gwet's AC2 has no Python reference we depend on, so it is checked
two ways, neither using ``qaudit.agreement``:

- **a published worked example**: the 12 subjects x 4 raters, five categories, with missing
  ratings, of Gwet's Handbook of Inter-Rater Reliability (4th ed., 2014), shipped as
  ``cac.raw4raters`` in Gwet's own R package irrCAC. The percent agreement, chance agreement
  and coefficient irrCAC reports for it, unweighted (AC1) and with ordinal, linear and
  quadratic weights (pa/pe/AC: .818/.190/.775, .968/.685/.899, .939/.571/.859,
  .975/.714/.914; the same figures the Python port's tests hold, afergadis/irrCAC
  ``test/unit/irrCAC/raw/test_gwet.py``), to the three decimals published;
- **two straight transcriptions** written here from the Handbook's formulas (one term by
  term over categories, one over every ordered pair of ratings of a subject), each first
  shown to reproduce the worked example's pa, pe and AC, then compared with
  ``qaudit.agreement.gwet_ac2`` to 1e-9 on random tables with missing grades, under four
  weightings.
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
#: Gwet (2014), irrCAC's ``cac.raw4raters``: 12 subjects, 4 raters, categories 1..5 (here
#: 0..4), None = not rated.
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


Weights = list[list[float]]


def identity_weights(q: int) -> Weights:
    return [[1.0 if k == m else 0.0 for m in range(q)] for k in range(q)]


def linear_weights(q: int) -> Weights:
    """Handbook (3.x): 1 - |k - l| / (q - 1)."""
    return [[1 - abs(k - m) / (q - 1) for m in range(q)] for k in range(q)]


def quadratic_weights(q: int) -> Weights:
    """Handbook: 1 - (k - l)^2 / (q - 1)^2."""
    return [[1 - (k - m) ** 2 / (q - 1) ** 2 for m in range(q)] for k in range(q)]


def ordinal_weights_by_hand(q: int) -> Weights:
    """Handbook: 1 - M_kl / max M, where M_kl = C(n_kl, 2) and n_kl is how many of the
    ranks from k to l there are (k and l included), so ranks next to each other count one
    pair and the two ends of the scale C(q, 2)."""
    m = [[math.comb(max(k, m_) - min(k, m_) + 1, 2) for m_ in range(q)] for k in range(q)]
    top = max(max(row) for row in m)
    return [[1 - v / top for v in row] for row in m]


def ac2_terms(ratings: list[list[int | None]], q: int,
              w: Weights) -> tuple[float, float, float] | None:
    """(pa, pe, AC2) for many raters with missing ratings, transcribed term by term from the
    Handbook (ch. 3, the weighted AC2 of r raters):

        r_ik  = raters who put subject i in category k;  r_i = sum_k r_ik
        r*_ik = sum_l w_kl r_il
        pa    = (1/n') sum over the n' subjects with r_i >= 2 of
                sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1))
        pi_k  = (1/n) sum over the n subjects rated at all of r_ik / r_i
        T_w   = sum_kl w_kl
        pe    = T_w / (q (q - 1)) * sum_k pi_k (1 - pi_k)
        AC2   = (pa - pe) / (1 - pe)
    """
    r = [[sum(1 for v in row if v == k) for k in range(q)] for row in ratings]
    rated = [ri for ri in r if sum(ri) >= 1]
    twice = [ri for ri in r if sum(ri) >= 2]
    if not twice:
        return None
    pa = 0.0
    for ri in twice:
        n_i = sum(ri)
        star = [sum(w[k][m] * ri[m] for m in range(q)) for k in range(q)]
        pa += sum(ri[k] * (star[k] - 1) for k in range(q)) / (n_i * (n_i - 1))
    pa /= len(twice)
    pi = [sum(ri[k] / sum(ri) for ri in rated) / len(rated) for k in range(q)]
    t_w = sum(sum(row) for row in w)
    pe = t_w / (q * (q - 1)) * sum(p * (1 - p) for p in pi)
    if math.isclose(pe, 1.0):
        return None
    return pa, pe, (pa - pe) / (1 - pe)


def ac2_by_hand(ratings: list[list[int | None]], q: int,
                w: Weights | None = None) -> float | None:
    """The same coefficient a second way: agreement as the mean weight over every ordered
    pair of two ratings of a subject (what sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1)) counts),
    chance from each subject's share of each category."""
    w = ordinal_weights_by_hand(q) if w is None else w
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

#: irrCAC's figures for ``cac.raw4raters``: weighting -> (pa, pe, coefficient).
PUBLISHED = {
    "identity": (0.818, 0.190, 0.775),
    "ordinal": (0.968, 0.685, 0.899),
    "linear": (0.939, 0.571, 0.859),
    "quadratic": (0.975, 0.714, 0.914),
}
WEIGHTINGS = {"identity": identity_weights, "ordinal": ordinal_weights_by_hand,
              "linear": linear_weights, "quadratic": quadratic_weights}


@pytest.mark.parametrize("weighting", sorted(PUBLISHED))
def test_the_transcriptions_reproduce_the_published_worked_example(weighting: str) -> None:
    w = WEIGHTINGS[weighting](5)
    terms = ac2_terms(GWET_4_RATERS, 5, w)
    assert terms is not None
    assert tuple(round(v, 3) for v in terms) == PUBLISHED[weighting]
    assert ac2_by_hand(GWET_4_RATERS, 5, w) == pytest.approx(terms[2], abs=1e-12)


@pytest.mark.parametrize("weighting", sorted(PUBLISHED))
def test_gwet_ac2_gives_the_published_worked_example(weighting: str) -> None:
    counts = rating_counts(GWET_4_RATERS, 5)
    given_weights = None if weighting == "ordinal" else np.array(WEIGHTINGS[weighting](5))
    value = gwet_ac2(counts, given_weights)
    assert value is not None and round(value, 3) == PUBLISHED[weighting][2]
    terms = ac2_terms(GWET_4_RATERS, 5, WEIGHTINGS[weighting](5))
    assert terms is not None and value == pytest.approx(terms[2], abs=1e-12)


def test_the_four_grade_weights_are_the_handbooks() -> None:
    np.testing.assert_allclose(ordinal_weights(4), ordinal_weights_by_hand(4), atol=1e-15)
    np.testing.assert_allclose(ordinal_weights(5), ordinal_weights_by_hand(5), atol=1e-15)


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


@settings(max_examples=100, deadline=None)
@given(tables_with_gaps, st.sampled_from(sorted(WEIGHTINGS)))
def test_gwet_ac2_equals_the_straight_transcriptions(ratings: list[list[int | None]],
                                                    weighting: str) -> None:
    w = WEIGHTINGS[weighting](GRADES)
    ours = gwet_ac2(rating_counts(ratings, GRADES),
                    None if weighting == "ordinal" else np.array(w))
    terms = ac2_terms(ratings, GRADES, w)
    paired = ac2_by_hand(ratings, GRADES, w)
    if terms is None:
        assert ours is None and paired is None
    else:
        assert ours == pytest.approx(terms[2], abs=1e-9)
        assert paired == pytest.approx(terms[2], abs=1e-9)


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
