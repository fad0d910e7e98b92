"""Statistical disclosure control for published figures, and the interval they carry.

Pure functions. A count from 1 to ``threshold - 1`` could point at a person, so it is not
shown (primary suppression). Where totals are shown, a single hidden cell in a row or
column could be worked out by subtraction, so a second cell is hidden with it
(secondary suppression). Zero is shown: it identifies nobody.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Table = list[list[int]]
Mask = list[list[bool]]


def is_small(count: int, threshold: int) -> bool:
    return 0 < count < threshold


def suppress_table(table: Sequence[Sequence[int]], threshold: int) -> Mask:
    """Which cells to hide so that, with row and column totals shown, no hidden cell can be
    recovered: every row and column has either no hidden cell or at least two.

    Primary: every small count. Secondary, repeated until nothing changes: in a row or
    column with exactly one hidden cell, also hide its smallest other cell (the first,
    reading left to right or top to bottom, among equals).
    """
    rows = len(table)
    cols = len(table[0]) if rows else 0
    hidden = [[is_small(table[r][c], threshold) for c in range(cols)] for r in range(rows)]
    changed = True
    while changed:
        changed = False
        lines = [[(r, c) for c in range(cols)] for r in range(rows)]
        lines += [[(r, c) for r in range(rows)] for c in range(cols)]
        for line in lines:
            shut = [rc for rc in line if hidden[rc[0]][rc[1]]]
            if len(shut) == 1 and len(line) > 1:
                open_cells = [rc for rc in line if not hidden[rc[0]][rc[1]]]
                r, c = min(open_cells, key=lambda rc: table[rc[0]][rc[1]])
                hidden[r][c] = True
                changed = True
    return hidden


def suppress_counts(counts: Sequence[int], threshold: int) -> list[bool]:
    """One row of counts with its total shown."""
    return suppress_table([list(counts)], threshold)[0]


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[
    float, float
] | None:
    """The Wilson score interval for a proportion (95% by default); None when n is 0."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
