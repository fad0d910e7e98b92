"""Agreement among many raters on the same cases: the audit-the-auditor workshop's figures.

Pure (numpy only). A workshop's grades are a table of ``cases x participants`` holding a
category index (``0`` = Requires improvement ... ``3`` = Outstanding) or ``None`` where a
participant left a case ungraded. Every coefficient here works from that table, or from
its per-case category counts (``rating_counts``), and allows missing grades:

- **Fleiss' kappa** (Fleiss 1971), in the form Gwet (2014, ch. 2) gives for missing
  ratings: agreement over the cases graded by two or more, chance from the mean of each
  case's category shares. With every case graded by everyone it is exactly Fleiss' kappa
  (``statsmodels.stats.inter_rater.fleiss_kappa``).
- **Gwet's AC2** for many raters with ordinal weights (Gwet 2014, ch. 2 and 3: weights
  ``1 - C(d+1, 2) / C(q, 2)`` for grades ``d`` apart): chance agreement from the categories'
  spread, so it does not collapse when nearly every grade is Good.
- **Krippendorff's alpha**, ordinal (Krippendorff 2011): from the coincidence matrix, with
  ordinal distances from the marginal counts of the categories between two grades.

Each has a 95% interval: a percentile bootstrap over cases (``bootstrap_interval``), with
a seed the workshop records, so the same grades always give the same interval. Resamples
in which a coefficient is undefined (every grade the same) are left out; with fewer than
``MIN_CASES_FOR_INTERVAL`` cases no interval is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qaudit.moderation import Interval, cross_table, weighted_kappa

Ratings = Sequence[Sequence[int | None]]
#: Counts per case and category: ``counts[i, k]`` participants put case ``i`` in category ``k``.
Counts = np.ndarray
Statistic = Callable[[np.ndarray], "float | None"]

RESAMPLES = 2000
#: Below this many cases a bootstrap interval says nothing useful: none is given.
MIN_CASES_FOR_INTERVAL = 3


def rating_counts(ratings: Ratings, categories: int) -> np.ndarray:
    """How many participants put each case in each category (``None`` = not graded)."""
    counts = np.zeros((len(ratings), categories), dtype=float)
    for i, row in enumerate(ratings):
        for value in row:
            if value is None:
                continue
            if not 0 <= value < categories:
                raise ValueError(f"category {value} is outside 0..{categories - 1}")
            counts[i, value] += 1
    return counts


def ordinal_weights(categories: int) -> np.ndarray:
    """Gwet's ordinal weights: ``1 - C(|k-l|+1, 2) / C(q, 2)`` (1 on the diagonal, 0 for
    the two ends of the scale). For four grades: 1, 5/6, 1/2, 0."""
    k, m = np.indices((categories, categories))
    between = np.abs(k - m) + 1
    pairs = between * (between - 1) / 2
    top = categories * (categories - 1) / 2
    return np.asarray(1.0 - pairs / top) if top else np.ones((categories, categories))


def _undefined(denominator: float) -> bool:
    return math.isclose(denominator, 0.0, abs_tol=1e-12)


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' kappa (unweighted); ``None`` when undefined (no case graded twice, or every
    grade the same, so chance agreement is certain)."""
    r = counts.sum(axis=1)
    graded = r > 0
    twice = r >= 2
    if not twice.any():
        return None
    c2, r2 = counts[twice], r[twice]
    pa = float(np.mean((c2 * (c2 - 1)).sum(axis=1) / (r2 * (r2 - 1))))
    pi = (counts[graded] / r[graded, None]).mean(axis=0)
    pe = float((pi * pi).sum())
    if _undefined(1.0 - pe):
        return None
    return (pa - pe) / (1.0 - pe)


def gwet_ac2(counts: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Gwet's AC2 for many raters (AC1 with identity weights); ordinal weights unless
    ``weights`` is given. ``None`` when no case was graded twice."""
    q = counts.shape[1]
    w = ordinal_weights(q) if weights is None else weights
    r = counts.sum(axis=1)
    graded = r > 0
    twice = r >= 2
    if not twice.any() or q < 2:
        return None
    c2, r2 = counts[twice], r[twice]
    weighted = c2 @ w.T  # r*_ik = sum_l w_kl r_il
    pa = float(np.mean((c2 * (weighted - 1)).sum(axis=1) / (r2 * (r2 - 1))))
    pi = (counts[graded] / r[graded, None]).mean(axis=0)
    pe = float(w.sum() / (q * (q - 1)) * (pi * (1 - pi)).sum())
    if _undefined(1.0 - pe):
        return None
    return (pa - pe) / (1.0 - pe)


def krippendorff_alpha_ordinal(counts: np.ndarray) -> float | None:
    """Krippendorff's alpha with the ordinal metric; ``None`` when undefined (fewer than two
    pairable grades, or every pairable grade the same)."""
    m = counts.sum(axis=1)
    pairable = m >= 2
    if not pairable.any():
        return None
    c, mu = counts[pairable], m[pairable]
    # The coincidence matrix: o_ck = sum_u n_uc (n_uk - [c = k]) / (m_u - 1).
    o = np.einsum("uc,uk->ck", c / (mu - 1)[:, None], c) - np.diag(
        (c / (mu - 1)[:, None]).sum(axis=0))
    n_c = o.sum(axis=1)
    n = float(n_c.sum())
    cumulative = np.concatenate(([0.0], np.cumsum(n_c)))
    low, high = np.minimum.outer(np.arange(len(n_c)), np.arange(len(n_c))), \
        np.maximum.outer(np.arange(len(n_c)), np.arange(len(n_c)))
    # sum_{g=low}^{high} n_g - (n_low + n_high) / 2, squared
    between = cumulative[high + 1] - cumulative[low]
    delta = (between - (n_c[low] + n_c[high]) / 2) ** 2
    expected = float((np.outer(n_c, n_c) * delta).sum())
    if _undefined(expected) or n <= 1:
        return None
    observed = float((o * delta).sum())
    return 1.0 - (n - 1) * observed / expected


def bootstrap_interval(counts: np.ndarray, statistic: Statistic, seed: int,
                       resamples: int = RESAMPLES) -> Interval | None:
    """A 95% percentile bootstrap interval over cases: ``resamples`` draws of the cases with
    replacement from a generator seeded with ``seed``. ``None`` with fewer than
    ``MIN_CASES_FOR_INTERVAL`` cases, or when too few resamples (under half) are defined."""
    n = len(counts)
    if n < MIN_CASES_FOR_INTERVAL:
        return None
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    values = [v for row in draws if (v := statistic(counts[row])) is not None]
    if len(values) < resamples / 2:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return Interval(float(low), float(high))


@dataclass(frozen=True)
class Coefficient:
    name: str
    value: float | None
    interval: Interval | None


@dataclass(frozen=True)
class ManyRaters:
    """The workshop's agreement: the three coefficients with their intervals."""

    cases: int
    participants: int
    grades: int  # grades given
    fleiss_kappa: Coefficient
    gwet_ac2: Coefficient
    krippendorff_alpha: Coefficient


def many_raters(ratings: Ratings, categories: int, seed: int,
                resamples: int = RESAMPLES) -> ManyRaters:
    """Fleiss' kappa, Gwet's AC2 (ordinal) and Krippendorff's alpha (ordinal) of a
    ``cases x participants`` table, each with its seeded 95% bootstrap interval."""
    counts = rating_counts(ratings, categories)

    def coefficient(name: str, statistic: Statistic) -> Coefficient:
        value = statistic(counts)
        interval = (bootstrap_interval(counts, statistic, seed, resamples)
                    if value is not None else None)
        return Coefficient(name, value, interval)

    return ManyRaters(
        cases=len(ratings),
        participants=max((len(row) for row in ratings), default=0),
        grades=int(counts.sum()),
        fleiss_kappa=coefficient("Fleiss' kappa", fleiss_kappa),
        gwet_ac2=coefficient("Gwet's AC2 (ordinal weights)", gwet_ac2),
        krippendorff_alpha=coefficient("Krippendorff's alpha (ordinal)",
                                       krippendorff_alpha_ordinal),
    )


@dataclass(frozen=True)
class AgainstRecord:
    """One participant's grades beside the grades of record of the same cases."""

    graded: int  # cases this participant graded
    exact: float | None  # share graded the same as the grade of record
    within_one: float | None
    mean_distance: float | None  # mean |participant - record| in grades
    mean_difference: float | None  # mean (participant - record): above 0 = more generous
    weighted_kappa: float | None  # quadratic-weighted Cohen's kappa, as moderation's


def against_record(pairs: Sequence[tuple[int, int]]) -> AgainstRecord:
    """A participant's grades against the grades of record: ``(participant, record)``
    category indexes of the cases they graded."""
    if not pairs:
        return AgainstRecord(0, None, None, None, None, None)
    mine = np.array([p for p, _ in pairs])
    record = np.array([r for _, r in pairs])
    diff = mine - record
    return AgainstRecord(
        graded=len(pairs),
        exact=float(np.mean(diff == 0)),
        within_one=float(np.mean(np.abs(diff) <= 1)),
        mean_distance=float(np.mean(np.abs(diff))),
        mean_difference=float(np.mean(diff)),
        weighted_kappa=weighted_kappa(cross_table([(p + 1, r + 1) for p, r in pairs])),
    )


def disagreement(row: Sequence[int | None]) -> float | None:
    """How far one case's grades disagree: the mean absolute difference over every pair
    of participants who graded it, in grades (0 = everyone agreed). ``None`` if fewer than
    two graded it."""
    values = [v for v in row if v is not None]
    if len(values) < 2:
        return None
    a = np.array(values)
    total = np.abs(a[:, None] - a[None, :]).sum() / 2
    return float(total / (len(values) * (len(values) - 1) / 2))


# --- which cases a workshop takes ---------------------------------------------------------


def spread_pick(kinds: Sequence[tuple[str, str]], n: int,
                rng: np.random.Generator) -> list[int]:
    """``n`` of the candidates at random, spread over audit types and grades of record as
    far as they allow: the indexes picked, in the order picked.

    ``kinds`` holds each candidate's (audit type, grade of record), in a stable order (by
    reference). Each candidate gets a random key from ``rng``; the next pick is always a
    candidate of the audit type picked least so far, among those of the grade picked least
    so far, lowest key first. So the types' counts never differ by more than one unless a
    type has run out, and within that the grades are balanced the same way; where every
    type offers every grade, both are balanced.
    """
    keys = rng.random(len(kinds))
    left = set(range(len(kinds)))
    by_type: dict[str, int] = {}
    by_grade: dict[str, int] = {}
    picked: list[int] = []
    while left and len(picked) < n:
        best = min(left, key=lambda i: (by_type.get(kinds[i][0], 0),
                                        by_grade.get(kinds[i][1], 0), keys[i]))
        picked.append(best)
        left.discard(best)
        by_type[kinds[best][0]] = by_type.get(kinds[best][0], 0) + 1
        by_grade[kinds[best][1]] = by_grade.get(kinds[best][1], 0) + 1
    return picked


def case_label(position: int) -> str:
    """'Case A', 'Case B', ... 'Case Z', 'Case AA': a case's name in a workshop."""
    out = ""
    n = position
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return f"Case {out}"
