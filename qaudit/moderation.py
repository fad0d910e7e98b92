"""Moderation: the spread sample of a cycle's audits, and agreement between graders.

Pure: takes data and a ``numpy.random.Generator``, returns data. The sampling rule and
the agreement formulas are documented for users in ``docs/moderation.md``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from qaudit.grading import GRADE_COUNT


@dataclass(frozen=True)
class Candidate:
    """A returned audit that may be moderated."""

    return_id: int
    reference: str
    auditor: str  # normalised auditor name
    grade: int  # 1..4


def sample_size(returned: int, rate: float) -> int:
    """ceil(rate x returned audits), computed without floating-point surprises."""
    return min(returned, math.ceil(round(rate * returned, 9)))


def moderation_sample(
    candidates: Sequence[Candidate], rate: float, rng: np.random.Generator,
    taken: frozenset[int] = frozenset(),
) -> list[Candidate]:
    """ceil(rate x n) audits at random, spread so every auditor and grade appears if it can.

    Candidates are put in reference order and each gets a random key. While the sample
    is short, the next pick is the audit that brings in the most auditors and grades not
    yet in the sample (0, 1 or 2), lowest key first; once nothing new can be brought in,
    the rest are taken in key order. A sample at least as large as the number of
    auditors plus the number of grades therefore covers them all.

    ``taken`` are the return ids an earlier round already picked: they stay in the sample,
    count towards ceil(rate x n), and what they cover is not sought again. Only the new
    picks are returned (all of them on a first round).
    """
    ordered = sorted(candidates, key=lambda c: c.reference)
    keys = rng.random(len(ordered))
    k = sample_size(len(ordered), rate) - sum(1 for c in ordered if c.return_id in taken)
    by_key = sorted(range(len(ordered)), key=lambda i: keys[i])
    already = [c for c in ordered if c.return_id in taken]
    missing_auditors = {c.auditor for c in ordered} - {c.auditor for c in already}
    missing_grades = {c.grade for c in ordered} - {c.grade for c in already}
    chosen: list[int] = []
    left = [i for i in by_key if ordered[i].return_id not in taken]
    while len(chosen) < k and (missing_auditors or missing_grades):
        best, gain = -1, 0
        for i in left:  # key order, so the first of the best gain wins
            c = ordered[i]
            g = (c.auditor in missing_auditors) + (c.grade in missing_grades)
            if g > gain:
                best, gain = i, g
                if g == 2:
                    break
        if gain == 0:
            break
        chosen.append(best)
        left.remove(best)
        missing_auditors.discard(ordered[best].auditor)
        missing_grades.discard(ordered[best].grade)
    chosen += left[: max(k - len(chosen), 0)]
    return sorted((ordered[i] for i in chosen), key=lambda c: c.reference)


# --- agreement ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Agreement:
    n: int
    exact: float | None  # None when nothing was moderated: no agreement to speak of
    within_one: float | None
    kappa: float | None  # quadratic-weighted Cohen's kappa; None when undefined
    kappa_ci: Interval | None
    ac2: float | None  # Gwet's AC2 with quadratic weights
    table: list[list[int]]  # [auditor grade - 1][moderator grade - 1]


def quadratic_weights(k: int = GRADE_COUNT) -> np.ndarray:
    import numpy as np

    i, j = np.indices((k, k))
    return 1.0 - (i - j) ** 2 / (k - 1) ** 2


def cross_table(pairs: Sequence[tuple[int, int]], k: int = GRADE_COUNT) -> np.ndarray:
    import numpy as np

    table = np.zeros((k, k), dtype=int)
    for a, m in pairs:
        table[a - 1, m - 1] += 1
    return table


def weighted_kappa(table: np.ndarray) -> float | None:
    """Cohen's kappa with quadratic weights (as scikit-learn's ``weights="quadratic"``)."""
    import numpy as np

    n = table.sum()
    if n == 0:
        return None
    p = table / n
    w = quadratic_weights(len(table))
    observed = float((w * p).sum())
    expected = float((w * np.outer(p.sum(axis=1), p.sum(axis=0))).sum())
    if math.isclose(expected, 1.0):
        return None  # both graders used one grade only: kappa is undefined
    return (observed - expected) / (1.0 - expected)


def gwet_ac2(table: np.ndarray) -> float | None:
    """Gwet's AC2 for two graders with quadratic weights (Gwet 2014, ch. 3)."""
    n = table.sum()
    if n == 0:
        return None
    k = len(table)
    p = table / n
    w = quadratic_weights(k)
    observed = float((w * p).sum())
    pi = (p.sum(axis=1) + p.sum(axis=0)) / 2
    expected = float(w.sum() / (k * (k - 1)) * (pi * (1 - pi)).sum())
    if math.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1.0 - expected)


def agreement(pairs: Sequence[tuple[int, int]], resamples: int = 2000) -> Agreement:
    """Agreement between auditors' and moderators' grades (ranks 1..4).

    The 95% interval of kappa is a percentile bootstrap over audits with a fixed seed,
    so the same data always gives the same interval.
    """
    import numpy as np

    table = cross_table(pairs)
    n = len(pairs)
    a = np.array([p[0] for p in pairs])
    m = np.array([p[1] for p in pairs])
    kappa = weighted_kappa(table)
    ci = None
    if kappa is not None and n >= 5:
        rng = np.random.default_rng(0)
        draws = rng.integers(0, n, size=(resamples, n))
        values = [
            v for row in draws
            if (v := weighted_kappa(cross_table(list(zip(a[row], m[row], strict=True)))))
            is not None
        ]
        if values:
            low, high = np.percentile(values, [2.5, 97.5])
            ci = Interval(float(low), float(high))
    return Agreement(
        n=n,
        exact=float(np.mean(a == m)) if n else None,
        within_one=float(np.mean(np.abs(a - m) <= 1)) if n else None,
        kappa=kappa,
        kappa_ci=ci,
        ac2=gwet_ac2(table),
        table=table.tolist(),
    )


@dataclass(frozen=True)
class Leniency:
    auditor: str
    n: int
    mean_difference: float  # mean (moderated - auditor): below 0 = auditor graded higher


def leniency(rows: Sequence[tuple[str, int, int]]) -> list[Leniency]:
    """Per auditor: mean of moderated minus auditor grade, with n (the 'audit the auditor')."""
    import numpy as np

    diffs: defaultdict[str, list[int]] = defaultdict(list)
    for auditor, auditor_grade, moderated in rows:
        diffs[auditor].append(moderated - auditor_grade)
    return sorted(
        (Leniency(name, len(d), float(np.mean(d))) for name, d in diffs.items()),
        key=lambda x: (x.mean_difference, x.auditor),
    )
