"""Moderation's rules: the spread sample, honest agreement (kappa, AC2) and leniency.

Pure functions only; `qaudit moderate` end to end is in tests/commands/test_moderate.py.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from qaudit.moderation import (
    Candidate,
    agreement,
    cross_table,
    gwet_ac2,
    leniency,
    moderation_sample,
    sample_size,
    weighted_kappa,
)

# --- the sample ------------------------------------------------------------------------


@st.composite
def candidates(draw: st.DrawFn) -> list[Candidate]:
    n = draw(st.integers(1, 60))
    auditors = draw(st.integers(1, 15))
    return [Candidate(i, f"R-{i:03d}", f"a{draw(st.integers(0, auditors - 1))}",
                      draw(st.integers(1, 4))) for i in range(n)]


@settings(max_examples=200, deadline=None)
@given(candidates(), st.sampled_from([0.05, 0.1, 0.2, 0.25, 0.5, 1.0]), st.integers(0, 2**32 - 1))
def test_sample_is_the_right_size_spread_and_reproducible(
    pool: list[Candidate], rate: float, seed: int
) -> None:
    chosen = moderation_sample(pool, rate, np.random.default_rng(seed))
    assert len(chosen) == math.ceil(round(rate * len(pool), 9)) == sample_size(len(pool), rate)
    assert len({c.return_id for c in chosen}) == len(chosen)
    assert set(chosen) <= set(pool)
    auditors = {c.auditor for c in pool}
    grades = {c.grade for c in pool}
    # Every pick brings in a new auditor or grade while one is missing, so a sample covers
    # as many as it has room for; one at least as large as auditors + grades covers them all.
    chosen_auditors = {c.auditor for c in chosen}
    chosen_grades = {c.grade for c in chosen}
    room = min(len(chosen), len(auditors) + len(grades))
    assert len(chosen_auditors) + len(chosen_grades) >= room
    covers_all = chosen_auditors == auditors and chosen_grades == grades
    assert covers_all or len(chosen) < len(auditors) + len(grades)
    again = moderation_sample(list(reversed(pool)), rate, np.random.default_rng(seed))
    assert again == chosen


@settings(max_examples=200, deadline=None)
@given(candidates(), st.integers(0, 60), st.sampled_from([0.1, 0.2, 0.5]),
       st.integers(0, 2**32 - 1))
def test_a_top_up_keeps_earlier_picks_and_reaches_the_rate_of_all_returns(
    pool: list[Candidate], early: int, rate: float, seed: int
) -> None:
    """A first round over the audits back early, then a top-up over all of them: together
    exactly ceil(rate x all), no pick twice, the first round untouched, reproducible."""
    first_pool = sorted(pool, key=lambda c: c.reference)[: max(1, min(early, len(pool)))]
    first = moderation_sample(first_pool, rate, np.random.default_rng(seed))
    taken = frozenset(c.return_id for c in first)
    added = moderation_sample(pool, rate, np.random.default_rng(seed), taken)
    assert not taken & {c.return_id for c in added}
    assert len(first) + len(added) == max(sample_size(len(pool), rate), len(first))
    assert added == moderation_sample(list(reversed(pool)), rate, np.random.default_rng(seed),
                                      taken)
    # The new picks bring in auditors and grades the first round left out, where they can.
    missing = ({c.auditor for c in pool} - {c.auditor for c in first},
               {c.grade for c in pool} - {c.grade for c in first})
    brought = ({c.auditor for c in added} & missing[0], {c.grade for c in added} & missing[1])
    room = min(len(added), len(missing[0]) + len(missing[1]))
    assert len(brought[0]) + len(brought[1]) >= room


def test_twenty_percent_of_eleven_is_three() -> None:
    pool = [Candidate(i, f"R{i}", "a", 3) for i in range(11)]
    assert len(moderation_sample(pool, 0.2, np.random.default_rng(1))) == 3


def test_rare_grade_and_lone_auditor_are_included() -> None:
    pool = [Candidate(i, f"R{i:02d}", f"a{i % 3}", 3) for i in range(40)]
    pool.append(Candidate(98, "R98", "a0", 1))  # the only Requires improvement
    pool.append(Candidate(99, "R99", "solo", 3))  # an auditor with one audit
    for seed in range(20):
        chosen = moderation_sample(pool, 0.2, np.random.default_rng(seed))
        assert {c.return_id for c in chosen} >= {98, 99}


# --- agreement --------------------------------------------------------------------------


grades = st.integers(1, 4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(grades, grades), min_size=2, max_size=80))
def test_kappa_equals_scikit_learn(pairs: list[tuple[int, int]]) -> None:
    a, m = zip(*pairs, strict=True)
    ours = weighted_kappa(cross_table(pairs))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns where kappa is undefined
        reference = cohen_kappa_score(a, m, weights="quadratic", labels=[1, 2, 3, 4])
    # The branch is chosen by the data, not by our answer: both branches assert.
    if len(set(a) | set(m)) == 1:  # both graders gave one and the same grade: undefined
        assert ours is None
        assert not np.isfinite(reference) or math.isclose(reference, 0.0, abs_tol=1e-9)
    else:
        assert ours is not None and math.isclose(ours, reference, abs_tol=1e-9)


def test_gwet_ac2_by_hand() -> None:
    """A worked example: 10 audits, quadratic weights, computed step by step."""
    pairs = [(3, 3)] * 6 + [(2, 2), (4, 3), (3, 2), (1, 1)]
    k = 4
    w = [[1 - (i - j) ** 2 / 9 for j in range(k)] for i in range(k)]
    p = [[0.0] * k for _ in range(k)]
    for a, m in pairs:
        p[a - 1][m - 1] += 1 / len(pairs)
    pa = sum(w[i][j] * p[i][j] for i in range(k) for j in range(k))
    pi = [(sum(p[i]) + sum(row[i] for row in p)) / 2 for i in range(k)]
    tw = sum(map(sum, w))
    pe = tw / (k * (k - 1)) * sum(x * (1 - x) for x in pi)
    expected = (pa - pe) / (1 - pe)
    assert gwet_ac2(cross_table(pairs)) == pytest.approx(expected, abs=1e-12)
    assert pa == pytest.approx(1 - (1 / 9 + 1 / 9) / 10)


def test_ac2_stays_stable_when_everyone_gives_one_grade() -> None:
    pairs = [(3, 3)] * 20
    assert weighted_kappa(cross_table(pairs)) is None  # kappa's paradox: undefined
    assert gwet_ac2(cross_table(pairs)) == pytest.approx(1.0)
    mostly = [(3, 3)] * 19 + [(3, 2)]
    kappa = weighted_kappa(cross_table(mostly))
    ac2 = gwet_ac2(cross_table(mostly))
    assert kappa is not None and ac2 is not None and ac2 > 0.9 > kappa


def test_agreement_figures_and_interval() -> None:
    pairs = [(3, 3)] * 10 + [(2, 3), (4, 3), (1, 1), (2, 2), (3, 4), (1, 3)]
    result = agreement(pairs)
    assert result.n == 16
    assert result.exact == pytest.approx(12 / 16)
    assert result.within_one == pytest.approx(15 / 16)
    assert result.kappa_ci is not None
    assert result.kappa is not None and result.kappa_ci.low <= result.kappa <= result.kappa_ci.high
    assert agreement(pairs).kappa_ci == result.kappa_ci  # a fixed seed: the same interval
    assert sum(map(sum, result.table)) == 16 and result.table[0][2] == 1


def test_leniency_is_moderated_minus_auditor_per_auditor() -> None:
    rows = [("a", 4, 3), ("a", 3, 3), ("b", 2, 3)]
    result = {x.auditor: (x.n, x.mean_difference) for x in leniency(rows)}
    assert result == {"a": (2, -0.5), "b": (1, 1.0)}



def test_no_pairs_no_agreement() -> None:
    empty = agreement([])
    assert empty.n == 0
    assert (empty.exact, empty.within_one, empty.kappa, empty.ac2) == (None, None, None, None)
