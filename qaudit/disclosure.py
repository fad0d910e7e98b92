"""Statistical disclosure control for published figures, and the interval they carry.

Pure functions. Everything published for a cycle is treated as one set of tables: every
figure is a linear expression over underlying whole-number counts (the grade cells, the
answers to each question, the moderated audits, ...) and, when shown, tells a reader that
the expression has one value (a count) or lies in a range (a percentage or an interval,
read back to the counts it could have come from). ``protect`` decides what to hide:

- primary: every count from 1 to ``threshold - 1`` (a zero is shown: it identifies nobody);
- secondary: while a hidden count can be worked out, that is, while an integer solver
  (``scipy.optimize.milp``) finds it has one value only under every shown figure, every
  known fact and non-negativity, hide the cheapest further counts that free it: the
  integer program of cell suppression for that one count (a table one more or one less
  in it that breaks only figures then hidden; cells before totals, small before large),
  so a whole rectangle, or cube of a three-way table, is hidden where one is needed;
- derived figures (percentages, intervals) are then published only while no hidden count
  can be worked out with them: one that would pin a hidden count is hidden (the least
  important first, where several would do).

The guarantee: every count hidden as ``*``, and every small count, could have at least two
values, whatever a reader does with all the figures published together. A hidden figure
is found free by a witness: another whole table that fits everything shown and gives it
another value. The integer solver is imported only when a cycle is published.

One model always gets one decision: the random directions are drawn from a generator
seeded the same for every model, and nothing depends on the order of a set or on the
order of a figure's terms. That is a privacy property as well as a convenience: two runs
over the same data never publish two different suppressions of it, which together could
give away what each hides. So a decision can be kept (``Decisions``) under the hash of
its whole model (``decision_key``) and used again whenever the same model comes back.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float64]

Key = tuple[str, ...]
Terms = tuple[tuple[Key, int], ...]

#: The version of the decision procedure: part of every decision's key, so a change to
#: ``protect`` that may decide otherwise (raise it then) never reuses an older decision.
ALGORITHM = "protect-2"


class Kind(StrEnum):
    COUNT = "count"  # shown as a number, or hidden as '*'
    DERIVED = "derived"  # a percentage or an interval: shown, it narrows its numerator


@dataclass(frozen=True)
class Figure:
    """One published figure: ``value`` is ``sum(coefficient * count)`` over ``terms``.

    A shown count tells its value; a shown derived figure tells that its expression lies
    in ``reveals`` (lo, hi). A ``cell`` may be hidden as a second figure, and is protected
    whenever it is hidden. A figure is shown only if every figure it ``requires`` is (a
    percentage needs its base)."""

    key: Key
    terms: Terms
    value: int
    kind: Kind = Kind.COUNT
    reveals: tuple[int, int] | None = None
    cell: bool = False
    requires: tuple[Key, ...] = ()
    priority: int = 0  # derived figures: the lower, the later it is given up

    def known_range(self) -> tuple[int, int]:
        if self.kind is Kind.COUNT:
            return self.value, self.value
        assert self.reveals is not None
        return self.reveals


@dataclass(frozen=True)
class Bound:
    """A fact every reader knows, published or not: ``lo <= sum(terms) <= hi``."""

    terms: Terms
    lo: int | None = None
    hi: int | None = None


def is_small(count: int, threshold: int) -> bool:
    return 0 < count < threshold


def total(*keys: Key) -> Terms:
    """The sum of some counts, each once."""
    return tuple((k, 1) for k in keys)


# --- the audit: can a hidden figure be worked out? ----------------------------------------

_Row = tuple[dict[int, int], float, float]


class _System:
    """What a reader has: the known bounds and the shown figures, as rows ``lo <= a.x <=
    hi``. The variables fall into groups: those the rows tie together (``group``), and,
    finer, those the shown figures alone tie together (``table``)."""

    def __init__(self, rows: list[_Row], known: int, size: int,
                 keys: Sequence[Key]) -> None:
        import numpy as np
        from scipy.sparse import csr_array

        self.rows = rows
        self.keys: list[Key | None] = [None] * known + list(keys)  # the figure of each row
        data: list[float] = []
        at_row: list[int] = []
        at_col: list[int] = []
        for r, (e, _, _) in enumerate(rows):
            for i, c in e.items():
                data.append(c)
                at_row.append(r)
                at_col.append(i)
        self.matrix = csr_array((data, (at_row, at_col)), shape=(len(rows), size))
        self.columns = self.matrix.tocsc()
        self.lo: Vector = np.array([r[1] for r in rows], dtype=float)
        self.hi: Vector = np.array([r[2] for r in rows], dtype=float)
        self.table = self._partition(rows[known:], size)
        self.group = self._partition(rows, size)
        self._restricted: dict[tuple[int, ...], tuple[Any, Vector, Vector, list[int]]] = {}

    @staticmethod
    def _partition(rows: Sequence[_Row], size: int) -> dict[int, list[int]]:
        """Each variable's group: every variable tied to it through ``rows``."""
        parent = list(range(size))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for e, _, _ in rows:
            first = None
            for i in e:
                if first is None:
                    first = find(i)
                else:
                    parent[find(i)] = first
        members: dict[int, list[int]] = {}
        for i in range(size):
            members.setdefault(find(i), []).append(i)
        return {i: members[find(i)] for i in range(size)}

    def restricted(self, variables: tuple[int, ...], truth: Vector
                   ) -> tuple[Any, Vector, Vector, list[int]]:
        """The rows touching ``variables``, over them only, the rest at ``truth``; and
        which rows they are."""
        if variables not in self._restricted:
            import numpy as np

            rows = np.unique(self.columns[:, list(variables)].tocoo().row)
            matrix: Any = None
            lo, hi = self.lo[rows], self.hi[rows]
            if len(rows):
                touched = self.matrix[rows]
                matrix = touched[:, list(variables)]
                rest = touched @ truth - matrix @ truth[list(variables)]
                lo, hi = lo - rest, hi - rest
            self._restricted[variables] = (matrix, lo, hi, [int(r) for r in rows])
        return self._restricted[variables]

    def fits(self, witnesses: Sequence[Vector]) -> list[bool]:
        import numpy as np

        if not witnesses:
            return []
        if not self.rows:
            return [True] * len(witnesses)
        values = self.matrix @ np.column_stack(witnesses)
        ok = np.all((values >= self.lo[:, None] - 1e-6) & (values <= self.hi[:, None] + 1e-6),
                    axis=0)
        return [bool(v) for v in ok]


class _Model:
    """The counts as integer variables, the known facts, and a pool of other tables (the
    witnesses) consistent with what is shown: a figure is safe once two tables that fit
    everything shown give it different values."""

    def __init__(self, figures: Mapping[Key, Figure], known: Sequence[Bound],
                 truth: Mapping[Key, int], cap: int) -> None:
        import numpy as np

        self.variables = sorted(truth)
        self.index = {v: i for i, v in enumerate(self.variables)}
        self.truth: Vector = np.array([truth[v] for v in self.variables], dtype=float)
        self.cap = cap
        self.figures = figures
        self.expr: dict[Key, dict[int, int]] = {}
        for key, f in figures.items():
            self.expr[key] = self._expression(f.terms)
            if self._at(self.expr[key], self.truth) != f.value:
                raise ValueError(f"figure {key} is {f.value}, its counts say otherwise")
            lo, hi = f.known_range()
            if not lo <= f.value <= hi:
                raise ValueError(f"figure {key}: {f.value} is outside what it reveals")
        self.known: list[_Row] = []
        for b in known:
            e = self._expression(b.terms)
            row = (e, -math.inf if b.lo is None else b.lo, math.inf if b.hi is None else b.hi)
            if not row[1] <= self._at(e, self.truth) <= row[2]:
                raise ValueError(f"a known bound does not hold: {b}")
            self.known.append(row)
        self.witnesses: list[Vector] = []
        self.rng = random.Random(0)
        self._systems: dict[frozenset[Key], _System] = {}

    def _expression(self, terms: Terms) -> dict[int, int]:
        """The terms by variable, in the variables' order (whatever order they came in)."""
        e: dict[int, int] = {}
        for var, c in terms:
            e[self.index[var]] = e.get(self.index[var], 0) + c
        return {i: e[i] for i in sorted(e) if e[i]}

    @staticmethod
    def _at(expr: Mapping[int, int], x: Vector) -> int:
        return round(sum(c * float(x[i]) for i, c in expr.items()))

    def system(self, shown: Iterable[Key]) -> _System:
        key = frozenset(shown)
        if key not in self._systems:
            if len(self._systems) > 50:
                self._systems.clear()
            rows = list(self.known)
            keys = sorted(key)
            for k in keys:
                lo, hi = self.figures[k].known_range()
                rows.append((self.expr[k], lo, hi))
            self._systems[key] = _System(rows, len(self.known), len(self.variables), keys)
        return self._systems[key]

    def _solve(self, system: _System, variables: Sequence[int],
               objective: Mapping[int, float], extra: _Row | None = None,
               focus: Sequence[int] = ()) -> Vector | None:
        """An integer table meeting every row of ``system`` (and ``extra``) that minimises
        ``objective``, in which only ``variables`` may differ from the truth. The linear
        relaxation first: where its answer is whole, it is the answer."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import csr_array, vstack

        variables = sorted(set(variables))
        col = {v: j for j, v in enumerate(variables)}
        matrix, lo, hi, _ = system.restricted(tuple(variables), self.truth)
        if extra is not None:
            e, elo, ehi = extra
            line = csr_array(([float(c) for c in e.values()],
                              ([0] * len(e), [col[i] for i in e])), shape=(1, len(variables)))
            matrix = line if matrix is None else vstack([matrix, line], format="csr")
            lo, hi = np.append(lo, elo), np.append(hi, ehi)
        cost = np.zeros(len(variables))
        for i, w in objective.items():
            if i in col:
                cost[col[i]] = w
        constraints = [] if matrix is None else [LinearConstraint(matrix, lo, hi)]
        bounds = Bounds(0, self.cap)
        ones = np.ones(len(variables))
        relaxed: Any = milp(cost, constraints=constraints, bounds=bounds, integrality=0 * ones)
        if relaxed.status != 0 or relaxed.x is None:
            return None  # not even a fractional table: no table at all
        whole = np.rint(relaxed.x)
        if not self._meets(matrix, lo, hi, whole):
            if extra is None:
                return None  # a random direction: another one will do
            whole = self._whole(matrix, lo, hi, bounds, [col[i] for i in focus if i in col])
            if whole is None:
                return None
        x = self.truth.copy()
        x[variables] = whole
        return x

    def _whole(self, matrix: Any, lo: Vector, hi: Vector, bounds: Any,
               focus: list[int]) -> Vector | None:
        """Any whole table meeting the rows (no optimising): first whole in ``focus`` (the
        figure's own table) with the rest fractional, then the rest made whole with those
        fixed; failing that, the whole search at once."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp

        size = matrix.shape[1]
        constraints = [LinearConstraint(matrix, lo, hi)]
        ones = np.ones(size)
        if focus and len(focus) < size:
            integrality = np.zeros(size)
            integrality[focus] = 1
            first: Any = milp(0 * ones, constraints=constraints, bounds=bounds,
                              integrality=integrality)
            if first.status == 0 and first.x is not None:
                low, high = np.array(bounds.lb, dtype=float) * ones, np.array(
                    bounds.ub, dtype=float) * ones
                low[focus] = high[focus] = np.rint(first.x[focus])
                second: Any = milp(0 * ones, constraints=constraints,
                                   bounds=Bounds(low, high), integrality=ones)
                if second.status == 0 and second.x is not None:
                    whole: Vector = np.rint(second.x)
                    if self._meets(matrix, lo, hi, whole):
                        return whole
        result: Any = milp(0 * ones, constraints=constraints, bounds=bounds, integrality=ones)
        if result.status != 0 or result.x is None:
            return None
        whole = np.rint(result.x)
        return whole if self._meets(matrix, lo, hi, whole) else None

    @staticmethod
    def _meets(matrix: Any, lo: Vector, hi: Vector, x: Vector) -> bool:
        import numpy as np

        if matrix is None:
            return True
        values = matrix @ x
        return bool(np.all(values >= lo - 1e-6) and np.all(values <= hi + 1e-6))

    def _unproven(self, keys: Sequence[Key], witnesses: Sequence[Vector]) -> list[Key]:
        """The keys to which no witness gives another value."""
        import numpy as np
        from scipy.sparse import csr_array

        if not witnesses or not keys:
            return list(keys)
        data = [float(c) for k in keys for c in self.expr[k].values()]
        at_row = [r for r, k in enumerate(keys) for _ in self.expr[k]]
        at_col = [i for k in keys for i in self.expr[k]]
        matrix = csr_array((data, (at_row, at_col)), shape=(len(keys), len(self.variables)))
        values = np.rint(matrix @ np.column_stack(witnesses))
        true = np.array([self.figures[k].value for k in keys], dtype=float)
        moved = np.any(values != true[:, None], axis=1)
        return [k for k, m in zip(keys, moved, strict=True) if not m]

    def other_value(self, key: Key, system: _System) -> Vector | None:
        """A table meeting ``system`` where ``key`` has another value, or None: pinned.
        Looked for in its own table first (the rest as it is), then in all it is tied to."""
        e, v = self.expr[key], self.figures[key].value
        if not e:
            return None
        table = sorted({j for i in e for j in system.table[i]})
        for partition in (system.table, system.group):
            variables = sorted({j for i in e for j in partition[i]})
            for sign, extra in ((-1.0, (e, v + 1, math.inf)), (1.0, (e, -math.inf, v - 1))):
                x = self._solve(system, variables, {i: sign * c for i, c in e.items()}, extra,
                                table)
                if x is not None:
                    return x
            if partition is system.table and variables == sorted(
                    {j for i in e for j in system.group[i]}):
                break
        return None

    def pinned(self, shown: Iterable[Key], protected: Sequence[Key],
               stronger: Iterable[Key] | None = None, rounds: int = 6,
               first_only: bool = False) -> list[Key]:
        """The protected figures (in the order given) that everything shown pins; with
        ``first_only``, the first of them only (what is hidden for it may free the rest).

        Random other tables are looked for under ``stronger`` (more shown) where given:
        those stay witnesses when more is shown later, up to that much."""
        system = self.system(shown)
        strong = system if stronger is None else self.system(stronger)
        self.witnesses = [w for w, ok in zip(self.witnesses, system.fits(self.witnesses),
                                             strict=True) if ok][-60:]
        todo = self._unproven(protected, self.witnesses)
        fruitless = 0
        while len(todo) > 3 and rounds > 0 and fruitless < 2:
            rounds -= 1
            before = len(todo)
            tables: dict[int, dict[int, float]] = {}
            for k in todo:  # one random direction per figure, one table at a time
                sign = self.rng.choice((-1.0, 1.0))
                for i, c in self.expr[k].items():
                    objective = tables.setdefault(strong.table[i][0], {})
                    objective[i] = objective.get(i, 0.0) + sign * c
            for first, objective in sorted(tables.items()):
                x = self._solve(strong, strong.table[first], objective)
                if x is not None:
                    self.witnesses.append(x)
                    todo = self._unproven(todo, [x])
            fruitless = fruitless + 1 if len(todo) == before else 0
        stuck: list[Key] = []
        while todo and not (first_only and stuck):
            key = todo.pop(0)
            x = self.other_value(key, system)
            if x is None:
                stuck.append(key)
            else:
                self.witnesses.append(x)
                todo = self._unproven(todo, [x])
        return stuck


    def cheapest(self, key: Key, system: _System, cost: Mapping[Key, float],
                 requires: Mapping[Key, Sequence[Key]], reach: int = 4
                 ) -> tuple[set[Key], Vector] | None:
        """The cheapest set of shown figures (those ``cost`` prices) to hide so that ``key``
        can have another value, and a table showing it: an integer table within ``reach``
        of the truth that meets every row except those of the figures it hides, where
        ``key`` is one more or one less (the cell suppression problem, one cell at a time).
        Looked for in the figure's own table first, then in all it is tied to."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import csr_array, hstack

        e, v = self.expr[key], self.figures[key].value
        best: tuple[float, set[Key], Vector] | None = None
        for partition in (system.table, system.group):
            variables = tuple(sorted({j for i in e for j in partition[i]}))
            matrix, lo, hi, rows = system.restricted(variables, self.truth)
            n = len(variables)
            col = {j: c for c, j in enumerate(variables)}
            truth = self.truth[list(variables)]
            low = np.maximum(truth - reach, 0)
            high = np.minimum(truth + reach, self.cap)
            free: list[int] = []
            names: list[Key] = []
            for r, row in enumerate(rows):
                name = system.keys[row]
                if name is not None and name in cost:
                    free.append(r)
                    names.append(name)
            m = len(free)
            # Each hideable row r: lo - M h <= a.y <= hi + M h, M its reach.
            reach_of = np.zeros(len(rows))
            if matrix is not None and m:
                reach_of = abs(matrix) @ (high - low) + 1
            switch = csr_array((-reach_of[free] if m else np.zeros(0),
                                (free, list(range(m)))), shape=(len(rows), m))
            parts = []
            if matrix is not None:
                parts.append(LinearConstraint(hstack([matrix, -switch]), lo, np.inf))
                parts.append(LinearConstraint(hstack([matrix, switch]), -np.inf, hi))
            where = {k: c for c, k in enumerate(names)}
            for d, k in enumerate(names):  # a figure goes with what it rests on
                for base in requires.get(k, ()):
                    if base in where:
                        link = np.zeros(n + m)
                        link[n + d], link[n + where[base]] = 1, -1
                        parts.append(LinearConstraint(link.reshape(1, -1), 0, np.inf))
            target = np.zeros(n + m)
            for i, c in e.items():
                target[col[i]] = c
            price = np.concatenate([np.zeros(n), [cost[k] for k in names]])
            bounds = Bounds(np.concatenate([low, np.zeros(m)]),
                            np.concatenate([high, np.ones(m)]))
            for extra in ((v + 1, np.inf), (-np.inf, v - 1)):
                # Near the cheapest is cheap enough: any such set protects the figure.
                result: Any = milp(price, bounds=bounds, integrality=np.ones(n + m),
                                   options={"presolve": False, "mip_rel_gap": 0.1},
                                   constraints=[*parts, LinearConstraint(
                                       target.reshape(1, -1), *extra)])
                if result.status != 0 or result.x is None:
                    continue
                y = np.rint(result.x)
                gone = {k for k, h in zip(names, y[n:], strict=True) if h > 0.5}
                if best is None or result.fun < best[0] - 1e-9:
                    x = self.truth.copy()
                    x[list(variables)] = y[:n]
                    best = (float(result.fun), gone, x)
            if best is not None:
                return best[1], best[2]
        return None


class Decisions(Protocol):
    """Decisions kept between runs, each under its model's ``decision_key``: the keys of
    the figures hidden, or None where none is kept (or what is kept cannot be read)."""

    def get(self, key: str) -> frozenset[Key] | None: ...

    def put(self, key: str, hidden: frozenset[Key]) -> None: ...


def _terms(terms: Terms) -> list[list[Any]]:
    merged: dict[Key, int] = {}
    for var, c in terms:
        merged[var] = merged.get(var, 0) + c
    return [[list(v), merged[v]] for v in sorted(merged) if merged[v]]


def decision_key(figures: Sequence[Figure], known: Sequence[Bound], truth: Mapping[Key, int],
                 threshold: int, withheld: Iterable[Key] = ()) -> str:
    """The SHA-256 of everything ``protect`` decides on (and of ``ALGORITHM``): two models
    with one key always get one decision. The figures are taken in their order (it is the
    order they are dealt with); a figure's or a bound's terms in any order."""
    model = {
        "algorithm": ALGORITHM, "threshold": threshold,
        "figures": [[list(f.key), _terms(f.terms), f.value, str(f.kind),
                     None if f.reveals is None else list(f.reveals), f.cell,
                     [list(r) for r in f.requires], f.priority] for f in figures],
        "known": [[_terms(b.terms), b.lo, b.hi] for b in known],
        "truth": sorted([list(k), v] for k, v in truth.items()),
        "withheld": sorted(list(k) for k in set(withheld)),
    }
    text = json.dumps(model, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def protect(figures: Sequence[Figure], known: Sequence[Bound], truth: Mapping[Key, int],
            threshold: int, *, withheld: Iterable[Key] = (),
            cache: Decisions | None = None) -> frozenset[Key]:
    """The keys of the figures to hide, as ``decide`` works them out; with ``cache``, the
    decision kept for the same model if there is one (else worked out and kept). What is
    kept is used only where it hides at least every small count and every figure
    ``withheld``, and names only figures of the model."""
    withheld = frozenset(withheld)
    if cache is None:
        return decide(figures, known, truth, threshold, withheld=withheld)
    key = decision_key(figures, known, truth, threshold, withheld)
    kept = cache.get(key)
    keys = {f.key for f in figures}
    must = {f.key for f in figures if f.kind is Kind.COUNT and is_small(f.value, threshold)}
    if kept is not None and kept <= keys and must <= kept and (withheld & keys) <= kept:
        return kept
    hidden = decide(figures, known, truth, threshold, withheld=withheld)
    cache.put(key, hidden)
    return hidden


def decide(figures: Sequence[Figure], known: Sequence[Bound], truth: Mapping[Key, int],
           threshold: int, *, withheld: Iterable[Key] = ()) -> frozenset[Key]:
    """The keys of the figures to hide (as ``*``) so that no count hidden, and no count
    from 1 to ``threshold - 1``, can be worked out from everything else shown.

    ``truth`` holds the underlying counts; ``known`` what every reader knows anyway (no
    more returned than allocated, ...); ``withheld`` derived figures hidden from the start.
    Figures are dealt with in the order given: list the main tables first.

    Counts first: the small ones hidden, then, while a hidden count is pinned, the
    cheapest further counts to hide for it (cells before totals, small before large).
    Then the percentages and intervals: while one pins a hidden count, the cheapest of
    them to hide for it (the least important first).
    """
    by_key = {f.key: f for f in figures}
    if len(by_key) != len(figures):
        raise ValueError("two figures share a key")
    cap = 2 * max([*truth.values(), 0]) + 10
    model = _Model(by_key, known, truth, cap)
    order = {f.key: n for n, f in enumerate(figures)}
    counts = [f.key for f in figures if f.kind is Kind.COUNT]
    derived = [f.key for f in figures if f.kind is Kind.DERIVED]
    primary = {k for k in counts if is_small(by_key[k].value, threshold)}
    hidden = set(withheld) | primary
    requires = {f.key: f.requires for f in figures}

    def close(gone: set[Key]) -> set[Key]:
        """``gone`` with every figure that requires one of them (or an unknown key)."""
        gone = set(gone)
        grew = True
        while grew:
            before = len(gone)
            gone |= {f.key for f in figures
                     if any(r in gone or r not in by_key for r in f.requires)}
            grew = len(gone) > before
        return gone

    hopeless: set[Key] = set()

    def protected() -> list[Key]:
        mine = (primary | (hidden & set(counts))) - hopeless
        return sorted(mine, key=order.__getitem__)

    def price(k: Key) -> float:
        f = by_key[k]
        if f.kind is Kind.DERIVED:
            return 100.0 - min(f.priority, 99)
        return 1.0 + abs(f.value) + (0 if f.cell else 10_000)

    for publishable in (counts, counts + derived):
        while True:
            hidden = close(hidden)
            shown = [k for k in publishable if k not in hidden]
            stronger = [k for k in counts + derived if k not in hidden]
            stuck = model.pinned(shown, protected(), stronger, first_only=True)
            if not stuck:
                break
            hideable = {k: price(k) for k in shown
                        if (by_key[k].kind is Kind.DERIVED) == (publishable is not counts)}
            system = model.system(shown)
            found = None
            for reach in (4, cap):
                found = model.cheapest(stuck[0], system, hideable, requires, reach)
                if found is not None:
                    break
            if found is None:
                # Hiding all it could would not free it: what every reader knows anyway
                # pins it (it is no secret). Nothing to do for it.
                hopeless.add(stuck[0])
                continue
            hidden |= found[0]  # (nothing, where the search found it free after all)
            model.witnesses.append(found[1])
    return frozenset(close(hidden) & set(by_key))


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


def revealed(value: int, base: int, text: Any) -> tuple[int, int]:
    """The numerators from 0 to ``base`` that ``text(k, base)`` cannot tell from
    ``value``'s (a rounded percentage, an interval): what the shown text reveals."""
    shown = text(value, base)
    same = [k for k in range(base + 1) if text(k, base) == shown]
    lo, hi = min(same), max(same)
    if same != list(range(lo, hi + 1)):  # not a range: claim it reveals the value itself
        return value, value
    return lo, hi
