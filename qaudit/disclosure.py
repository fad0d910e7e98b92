"""Statistical disclosure control for published figures, and the interval they carry.

Pure functions. Everything published for a cycle is treated as one set of tables: every
figure is a linear expression over underlying whole-number counts (the grade cells, the
answers to each question, the moderated audits, ...) and, when shown, tells a reader that
the expression has one value (a count) or lies in a range (a percentage or an interval,
read back to the counts it could have come from). ``protect`` decides what to hide:

- primary: every count from 1 to ``threshold - 1`` (a zero is shown: it identifies nobody);
- secondary: while a hidden count can be worked out, that is, while no other whole table
  that fits every shown figure, every known fact and non-negativity gives it another
  value, hide the cheapest further counts that free it: the cell suppression problem for
  that one count (a table one more or one less in it that breaks only figures then
  hidden; cells before totals, small before large), so a whole rectangle, or cube of a
  three-way table, is hidden where one is needed. It is solved as a linear program, each
  figure priced for each unit a table misses it by, and its answer is taken where it is a
  whole table (nearly always); where it is not, the integer program
  (``scipy.optimize.milp``) decides;
- derived figures (percentages, intervals) are then published only while no hidden count
  can be worked out with them: one that would pin a hidden count is hidden (the least
  important first, where several would do).

The guarantee: every count hidden as ``*``, and every small count, could have at least two
values, whatever a reader does with all the figures published together. A hidden figure
is found free by a witness: another whole table that fits everything shown and gives it
another value. A witness stays one while more is hidden, so after each step only the
figures newly hidden, or left without one, are looked at again; a figure is pinned where
the linear program finds no table giving it another value (or the integer program no
whole one). The solver is imported only when a cycle is published.

One model always gets one decision: nothing depends on the order of a set or on the order
of a figure's terms, and the random directions the audit tries are drawn from a generator
seeded the same for every model (they only find witnesses sooner: which figure is pinned
does not depend on them). That is a privacy property as well as a convenience: two runs
over the same data never publish two different suppressions of it, which together could
give away what each hides. So a decision can be kept (``Decisions``) under the hash of
its whole model (``decision_key``) and used again whenever the same model comes back.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float64]

Key = tuple[str, ...]
Terms = tuple[tuple[Key, int], ...]

#: The most figures one random table is looked for at once (``_Model._random_witnesses``).
_PULLED_AT_ONCE = 200

#: The version of the decision procedure (raise it with a change that may decide otherwise).
#: It is *not* part of a decision's key: a decision once made and published is kept by every
#: later release, because a record suppressed two ways, both published, can give away what
#: each hid (a cycle's summary from one release beside a deep dive or year report from the
#: next). Only a model not decided before is decided by the procedure of the day.
ALGORITHM = "protect-3"
#: Releases whose decisions were kept under a key that named their procedure: a decision
#: kept by one of them is found under that key and kept under today's.
KEYED_BY_ALGORITHM = ("protect-2",)


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


def _stacked(rows: Sequence[_Row], size: int) -> tuple[Any, Vector, Vector]:
    """The rows as one sparse matrix over ``size`` variables, and their bounds."""
    import numpy as np
    from scipy.sparse import csr_array

    data: list[float] = []
    at_row: list[int] = []
    at_col: list[int] = []
    for r, (e, _, _) in enumerate(rows):
        for i, c in e.items():
            data.append(c)
            at_row.append(r)
            at_col.append(i)
    matrix = csr_array((data, (at_row, at_col)), shape=(len(rows), size))
    lo = np.array([r[1] for r in rows], dtype=float)
    hi = np.array([r[2] for r in rows], dtype=float)
    return matrix, lo, hi


def _fit(matrix: Any, lo: Vector, hi: Vector, tables: Any) -> Any:
    """Which of ``tables`` (one a column) meet every row ``lo <= a.x <= hi``."""
    import numpy as np

    values = matrix @ tables
    return np.all((values >= lo[:, None] - 1e-6) & (values <= hi[:, None] + 1e-6), axis=0)


def _merge(matrix: Any, lo: Vector, hi: Vector) -> tuple[Any, Vector, Vector]:
    """The rows, each row alike once, within the bounds of all of them: rows are matched
    by a fixed random projection, and a match is taken only where the rows are equal."""
    import numpy as np

    projection = matrix @ np.random.default_rng(0).standard_normal(matrix.shape[1])
    _, first, alike = np.unique(projection, return_index=True, return_inverse=True)
    same = first[alike.ravel()]
    unequal = abs(matrix - matrix[same]) @ np.ones(matrix.shape[1]) > 0
    same[unequal] = np.flatnonzero(unequal)
    keep, where = np.unique(same, return_inverse=True)
    low = np.full(len(keep), -np.inf)
    high = np.full(len(keep), np.inf)
    np.maximum.at(low, where, lo)
    np.minimum.at(high, where, hi)
    return matrix[keep], low, high


def _meets(matrix: Any, lo: Vector, hi: Vector, x: Vector) -> bool:
    return bool(_fit(matrix, lo, hi, x[:, None])[0])


class _Parts:
    """Variables in groups: the connected parts of the graph of variables and the rows
    of ``matrix`` (with ``loose``, through those variables only; each of the rest is a
    group of its own)."""

    def __init__(self, matrix: Any, size: int, loose: Any = None) -> None:
        import numpy as np
        from scipy.sparse import csr_array
        from scipy.sparse.csgraph import connected_components

        ties = matrix.tocoo()
        keep = np.ones(ties.nnz, dtype=bool) if loose is None else loose[ties.col]
        nodes = size + matrix.shape[0]
        graph = csr_array((np.ones(int(keep.sum())), (ties.col[keep], size + ties.row[keep])),
                          shape=(nodes, nodes))
        self.labels = connected_components(graph, directed=False)[1][:size]

    def around(self, variables: Iterable[int]) -> list[int]:
        """Every variable in a group with one of ``variables``, in order."""
        import numpy as np

        mine = np.unique(self.labels[list(variables)])
        return [int(i) for i in np.flatnonzero(np.isin(self.labels, mine))]


class _System:
    """What a reader has: the known bounds and the shown figures (in key order), as rows
    ``lo <= a.x <= hi``. The variables fall into groups: those the rows tie together
    (``group``), and, finer, those the shown figures alone tie together (``table``).
    Some have one value whatever else does (``settled``); the rest fall into groups of
    their own (``near``): what a search for another table needs to move."""

    def __init__(self, matrix: Any, lo: Vector, hi: Vector, known: int,
                 keys: Sequence[Key]) -> None:
        self.keys: list[Key | None] = [None] * known + list(keys)  # the figure of each row
        self.shown = frozenset(keys)
        self.matrix = matrix
        self.lo, self.hi = lo, hi
        self._known = known
        self._restricted: dict[tuple[int, ...], tuple[Any, Vector, Vector, list[int]]] = {}
        self._merged: dict[tuple[int, ...], tuple[Any, Vector, Vector]] = {}

    @cached_property
    def columns(self) -> Any:
        return self.matrix.tocsc()

    @cached_property
    def table(self) -> _Parts:
        return _Parts(self.matrix[self._known:], self.matrix.shape[1])

    @cached_property
    def group(self) -> _Parts:
        return _Parts(self.matrix, self.matrix.shape[1])

    @cached_property
    def settled(self) -> Any:
        """Which variables have one value in every table meeting the rows, even a
        fractional one: a row ``lo = hi`` with one variable not settled settles it (a
        shown cell its count; a shown total the last of its parts), and so on."""
        import numpy as np

        ties = (abs(self.matrix[np.flatnonzero(self.lo == self.hi)]) > 0).astype(float)
        settled = np.zeros(self.matrix.shape[1], dtype=bool)
        while True:
            single = ties[np.flatnonzero(ties @ (~settled).astype(float) == 1)]
            newly = (single.T @ np.ones(single.shape[0]) > 0) & ~settled
            if not newly.any():
                return settled
            settled |= newly

    @cached_property
    def near(self) -> _Parts:
        """The variables not ``settled``, each with every such variable tied to it
        through the rows (a settled one keeps its value, so a tie through it is none)."""
        return _Parts(self.matrix, self.matrix.shape[1], ~self.settled)

    def merged(self, variables: tuple[int, ...], truth: Vector) -> tuple[Any, Vector, Vector]:
        """The rows ``restricted`` gives, each once: rows alike over ``variables`` (once
        the rest is at the truth, a total and the parts of it not settled are often one
        row many times over) as one, within the bounds of all of them."""
        if variables not in self._merged:
            self._merged[variables] = _merge(*self.restricted(variables, truth)[:3])
        return self._merged[variables]

    def restricted(self, variables: tuple[int, ...], truth: Vector
                   ) -> tuple[Any, Vector, Vector, list[int]]:
        """The rows touching ``variables``, over them only, the rest at ``truth``; and
        which rows they are."""
        if variables not in self._restricted:
            import numpy as np

            at = list(variables)
            rows = np.unique(self.columns[:, at].tocoo().row).astype(np.intp)
            touched = self.matrix[rows]
            matrix = touched[:, at]
            rest = touched @ truth - matrix @ truth[at]
            self._restricted[variables] = (matrix, self.lo[rows] - rest,
                                           self.hi[rows] - rest, rows.tolist())
        return self._restricted[variables]


class _Witnesses:
    """Other tables than the truth, each meeting every known bound and every figure of
    ``basis`` (what was shown when it was found, or less), and, for each protected figure
    found free, the table that gives it another value (its proof). As more is hidden,
    every table stays a witness; where more is shown, those that no longer fit are
    dropped, and the proofs they gave with them."""

    def __init__(self, model: _Model) -> None:
        self.model = model
        self.tables: dict[int, Vector] = {}
        self.proof: dict[Key, int] = {}
        self.basis: frozenset[Key] | None = None
        self._serial = 0
        self._stack: tuple[list[int], Any] | None = None

    def narrow(self, shown: frozenset[Key]) -> None:
        """Keep the tables that meet ``shown`` too: it is the basis from now on."""
        new = sorted(shown - self.basis) if self.basis is not None else []
        if new and self.tables:
            import numpy as np

            ids = list(self.tables)
            at = np.array([self.model.row_of[k] for k in new], dtype=np.intp)
            ok = _fit(self.model.rows[at], self.model.lo[at], self.model.hi[at],
                      np.column_stack([self.tables[i] for i in ids]))
            for i, good in zip(ids, ok, strict=True):
                if not good:
                    del self.tables[i]
            self.proof = {k: i for k, i in self.proof.items() if i in self.tables}
            self._stack = None
        self.basis = shown

    def add(self, table: Vector, system: _System) -> int | None:
        """Keep ``table``, found under ``system``, if it meets every row of it (the basis
        narrows to what every table kept meets): its number, or None, no witness."""
        if not _meets(system.matrix, system.lo, system.hi, table):
            return None
        self.basis = system.shown if self.basis is None else self.basis & system.shown
        self._serial += 1
        self.tables[self._serial] = table
        self._stack = None
        return self._serial

    def unproven(self, keys: Sequence[Key], only: int | None = None) -> list[Key]:
        """The keys (in the order given) without a proof, given the tables kept (or only
        the one numbered ``only``); those a table gives another value are proved."""
        import numpy as np

        todo = [k for k in keys if k not in self.proof]
        if not todo or not self.tables:
            return todo
        if only is not None:
            ids, tables = [only], self.tables[only][:, None]
        else:
            if self._stack is None:
                order = list(self.tables)
                self._stack = order, np.column_stack([self.tables[i] for i in order])
            ids, tables = self._stack
        model = self.model
        at = np.array([model.row_of[k] for k in todo], dtype=np.intp)
        true = np.array([model.figures[k].value for k in todo], dtype=float)
        moved = np.rint(model.rows[at] @ tables) != true[:, None]
        left = []
        for k, row in zip(todo, moved, strict=True):
            if row.any():
                self.proof[k] = ids[int(np.argmax(row))]
            else:
                left.append(k)
        return left


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
        # Every row a reader could hold, once: the known bounds, then each figure's in key
        # order. A system is a selection of them; a figure's row is its expression too.
        self.row_of = {k: len(self.known) + n for n, k in enumerate(sorted(figures))}
        self.rows, self.lo, self.hi = _stacked(
            [*self.known, *((self.expr[k], *figures[k].known_range())
                            for k in sorted(figures))], len(self.variables))
        self.witnesses = _Witnesses(self)
        self.tried: set[Key] = set()  # the figures random tables were looked for once
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
            import numpy as np

            if len(self._systems) > 50:
                self._systems.clear()
            keys = sorted(key)
            at = np.array([*range(len(self.known)), *(self.row_of[k] for k in keys)],
                          dtype=np.intp)
            self._systems[key] = _System(self.rows[at], self.lo[at], self.hi[at],
                                         len(self.known), keys)
        return self._systems[key]

    def _rows(self, system: _System, variables: Sequence[int], extra: _Row | None = None
              ) -> tuple[Any, Vector, Vector]:
        """The rows of ``system`` (and ``extra``) over ``variables``, the rest at the truth."""
        import numpy as np
        from scipy.sparse import csr_array, vstack

        matrix, lo, hi = system.merged(tuple(variables), self.truth)
        if extra is None:
            return matrix, lo, hi
        col = {v: j for j, v in enumerate(variables)}
        e, elo, ehi = extra
        moving = [i for i in e if i in col]
        rest = sum(e[i] * float(self.truth[i]) for i in e if i not in col)
        line = csr_array(([float(e[i]) for i in moving],
                          ([0] * len(moving), [col[i] for i in moving])),
                         shape=(1, len(variables)))
        return (vstack([matrix, line], format="csr"), np.append(lo, elo - rest),
                np.append(hi, ehi - rest))

    def _with(self, variables: Sequence[int], values: Vector) -> Vector:
        """The truth with ``variables`` at ``values``."""
        x = self.truth.copy()
        x[list(variables)] = values
        return x

    def _random_table(self, system: _System, variables: Sequence[int],
                      objective: Mapping[int, float]) -> Vector | None:
        """A table meeting every row of ``system`` that minimises ``objective``, in which
        only ``variables`` may differ from the truth, each by one at most (the corners of
        that box are most often whole tables): the linear program's answer where it is
        whole (a random direction: where it is not, another direction will do)."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp

        variables = sorted(set(variables))
        matrix, lo, hi = self._rows(system, variables)
        cost = np.array([objective.get(i, 0.0) for i in variables])
        truth = self.truth[variables]
        relaxed: Any = milp(cost, constraints=[LinearConstraint(matrix, lo, hi)],
                            bounds=Bounds(np.maximum(truth - 1, 0), truth + 1),
                            integrality=np.zeros(len(variables)))
        if relaxed.status != 0 or relaxed.x is None:
            return None
        whole = np.rint(relaxed.x)
        return self._with(variables, whole) if _meets(matrix, lo, hi, whole) else None

    def _nearest(self, system: _System, variables: Sequence[int], extra: _Row
                 ) -> Vector | None:
        """An integer table meeting every row of ``system`` and ``extra``, in which only
        ``variables`` may differ from the truth, or None: there is none. The linear program
        first (where it has no answer, there is none); where its answer is not whole, the
        table nearest the truth (fewest counts moved, by least: most often whole); where
        that is not whole either, the integer program."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import hstack

        variables = sorted(set(variables))
        matrix, lo, hi = self._rows(system, variables, extra)
        n = len(variables)
        relaxed: Any = milp(np.zeros(n), bounds=Bounds(0, self.cap), integrality=np.zeros(n),
                            constraints=[LinearConstraint(matrix, lo, hi)])
        if relaxed.status != 0 or relaxed.x is None:
            return None  # not even a fractional table: no table at all
        table: Vector = relaxed.x
        if not _meets(matrix, lo, hi, np.rint(table)):
            # The table is the truth + up - down, each count moved priced one a unit.
            truth = self.truth[variables]
            shift = matrix @ truth
            near: Any = milp(np.ones(2 * n), integrality=np.zeros(2 * n),
                             bounds=Bounds(0, np.concatenate([self.cap - truth, truth])),
                             constraints=[LinearConstraint(hstack([matrix, -matrix]),
                                                           lo - shift, hi - shift)])
            if near.status == 0 and near.x is not None:
                table = truth + near.x[:n] - near.x[n:]
        whole: Vector = np.rint(table)
        found = whole if _meets(matrix, lo, hi, whole) else self._whole(matrix, lo, hi)
        return None if found is None else self._with(variables, found)

    def _whole(self, matrix: Any, lo: Vector, hi: Vector) -> Vector | None:
        """Any whole table meeting the rows (no optimising), or None: there is none."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp

        size = matrix.shape[1]
        result: Any = milp(np.zeros(size), constraints=[LinearConstraint(matrix, lo, hi)],
                           bounds=Bounds(0, self.cap), integrality=np.ones(size))
        if result.status != 0 or result.x is None:
            return None
        whole: Vector = np.rint(result.x)
        return whole if _meets(matrix, lo, hi, whole) else None

    def other_value(self, key: Key, system: _System) -> Vector | None:
        """A table meeting ``system`` where ``key`` has another value, or None: pinned.
        Only the variables tied to its own that the rows leave open may move (the rest
        stay as they are: moving them cannot help)."""
        e, v = self.expr[key], self.figures[key].value
        loose = [i for i in e if not system.settled[i]]
        if not loose:
            return None  # every count in it has one value: so has the figure
        variables = system.near.around(loose)
        for extra in ((e, v + 1, math.inf), (e, -math.inf, v - 1)):
            x = self._nearest(system, variables, extra)
            if x is not None:
                return x
        return None

    def first_pinned(self, shown: Sequence[Key], protected: Sequence[Key],
                     stronger: Sequence[Key], rounds: int = 6) -> Key | None:
        """The first of the protected figures (in the order given) that everything shown
        pins, or None. A figure found free keeps the table that shows it (its witness)
        while that fits what is shown, so only figures newly hidden, or left without a
        witness, are looked at again.

        Random other tables are looked for once for each figure, under ``stronger`` (more
        shown): those stay witnesses when more is shown later, up to that much."""
        system = self.system(shown)
        pool = self.witnesses
        pool.narrow(frozenset(shown))
        todo = pool.unproven(protected)
        fresh = [k for k in todo if k not in self.tried]
        self.tried.update(fresh)
        if len(fresh) > 3:
            self._random_witnesses(fresh, self.system(stronger), rounds)
            todo = pool.unproven(todo)
        while todo:
            key = todo[0]
            x = self.other_value(key, system)
            found = None if x is None else pool.add(x, system)
            if found is None:  # (or a table that fails a row: no witness after all)
                return key
            todo = pool.unproven(todo, found)
        return None

    def _random_witnesses(self, fresh: list[Key], strong: _System, rounds: int) -> None:
        """Witnesses for many figures at once: in each round, for each group of the
        variables left open and each ``_PULLED_AT_ONCE`` figures of it (the more figures
        pull one table, the less often it is whole), the table furthest in one random
        direction per figure (a linear program), kept where whole; until a round or two
        prove nothing more."""
        fruitless = 0
        while len(fresh) > 3 and rounds > 0 and fruitless < 2:
            rounds -= 1
            before = len(fresh)
            groups: dict[tuple[int, int], dict[int, float]] = {}
            for n, k in enumerate(fresh):
                sign = self.rng.choice((-1.0, 1.0))
                for i, c in self.expr[k].items():
                    if not strong.settled[i]:
                        objective = groups.setdefault(
                            (int(strong.near.labels[i]), n // _PULLED_AT_ONCE), {})
                        objective[i] = objective.get(i, 0.0) + sign * c
            for _, objective in sorted(groups.items()):
                x = self._random_table(strong, strong.near.around(objective), objective)
                found = None if x is None else self.witnesses.add(x, strong)
                if found is not None:
                    fresh = self.witnesses.unproven(fresh, found)
            fruitless = fruitless + 1 if len(fresh) == before else 0

    def cheapest(self, key: Key, system: _System, cost: Mapping[Key, float],
                 reach: int = 4) -> tuple[set[Key], Vector] | None:
        """A cheapest set of shown figures (those ``cost`` prices) to hide so that ``key``
        can have another value, and a table showing it: an integer table within ``reach``
        of the truth that meets every row except those of the figures it hides, where
        ``key`` is one more or one less (the cell suppression problem, one cell at a time).
        Looked for in the figure's own table first, then in all it is tied to."""
        e = self.expr[key]
        own = tuple(system.table.around(e))
        tied = tuple(system.group.around(e))
        for variables in (own, tied) if tied != own else (own,):
            problem = _Suppression(self, system, variables, cost, reach, key)
            found = problem.relaxed()
            if found is None:
                found = problem.whole()
            if found is not None:
                return problem.broken(found), self._with(variables, found)
        return None


class _Suppression:
    """One cell suppression problem: the rows touching ``variables`` (the rest at the
    truth), the shown figures among them that may be hidden at their price, and the
    figure ``key`` to be given another value, one more or one less, each variable within
    ``reach`` of the truth.

    The linear program first: a figure may be missed, at its price for each unit it is
    missed by (so missed by one, it costs what hiding it costs, as the integer program
    counts it). Its answer, where whole, is the answer: the figures that table misses are
    the ones to hide. Where it is not whole, an integer table missing only those figures;
    failing that, the integer program itself (a switch per figure)."""

    def __init__(self, model: _Model, system: _System, variables: tuple[int, ...],
                 cost: Mapping[Key, float], reach: int, key: Key) -> None:
        import numpy as np
        from scipy.sparse import vstack

        matrix, lo, hi, rows = system.restricted(variables, model.truth)
        self.truth = model.truth[list(variables)]
        self.low = np.maximum(self.truth - reach, 0)
        self.high = np.minimum(self.truth + reach, model.cap)
        free = [r for r, row in enumerate(rows) if system.keys[row] in cost]
        fixed = np.setdiff1d(np.arange(len(rows)), free)
        # The rows that must be met, each once; then those that may be missed, and theirs.
        kept = _merge(matrix[fixed], lo[fixed], hi[fixed])
        self.matrix = vstack([kept[0], matrix[free]], format="csr")
        self.lo, self.hi = np.concatenate([kept[1], lo[free]]), np.concatenate([kept[2],
                                                                                hi[free]])
        self.free = list(range(kept[0].shape[0], self.matrix.shape[0]))
        self.names: list[Key] = [k for k in (system.keys[rows[r]] for r in free)
                                 if k is not None]
        self.price = np.array([cost[k] for k in self.names], dtype=float)
        col = {j: c for c, j in enumerate(variables)}
        self.target = np.zeros(len(variables))
        for i, c in model.expr[key].items():
            self.target[col[i]] = c
        v = float(model.figures[key].value)
        self.sides = ((v + 1, math.inf), (-math.inf, v - 1))
        # Once ``relaxed`` has run: the cheaper linear answer's rows missed, and its side.
        self.missed: tuple[list[int], tuple[float, float]] | None = None

    def broken(self, y: Vector) -> set[Key]:
        """The figures that table ``y`` contradicts: those to hide."""
        import numpy as np

        values = self.matrix[self.free] @ y
        wrong = (values < self.lo[self.free] - 1e-6) | (values > self.hi[self.free] + 1e-6)
        return {self.names[d] for d in np.flatnonzero(wrong)}

    def _fits(self, y: Vector, side: tuple[float, float]) -> bool:
        """Whether ``y`` moves the figure to ``side`` and meets every row that may not be
        missed: then it shows the figure free once the figures it contradicts are hidden."""
        import numpy as np

        if not side[0] - 1e-6 <= self.target @ y <= side[1] + 1e-6:
            return False
        keep = np.ones(self.matrix.shape[0], dtype=bool)
        keep[self.free] = False
        at = np.flatnonzero(keep)
        return _meets(self.matrix[at], self.lo[at], self.hi[at], y)

    def relaxed(self) -> Vector | None:
        """The linear program, on either side; besides the prices, each count moved from
        the truth costs a little (all of them together less than the cheapest figure),
        so of the cheapest answers the one nearest the truth is taken: most often whole.
        The cheaper whole answer, or None where neither is whole (or there is none)."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import csr_array, hstack

        n, m = self.matrix.shape[1], len(self.free)
        # The table is the truth + up - down; a row that may be missed, by over - under.
        slack = csr_array((np.ones(m), (self.free, list(range(m)))),
                          shape=(self.matrix.shape[0], m))
        shift = self.matrix @ self.truth
        rows = LinearConstraint(hstack([self.matrix, -self.matrix, -slack, slack]),
                                self.lo - shift, self.hi - shift)
        line = np.concatenate([self.target, -self.target, np.zeros(2 * m)]).reshape(1, -1)
        bounds = Bounds(0, np.concatenate([self.high - self.truth, self.truth - self.low,
                                           np.full(2 * m, np.inf)]))
        step = 1 / (4 * float(np.sum(self.high - self.low)) + 1)  # all moves under 1/2
        cost = np.concatenate([np.full(2 * n, step), self.price, self.price])
        at = float(self.target @ self.truth)
        answers: list[tuple[float, list[int], tuple[float, float], Vector]] = []
        for side in self.sides:
            result: Any = milp(cost, bounds=bounds, integrality=np.zeros(2 * n + 2 * m),
                               options={"presolve": False},
                               constraints=[rows, LinearConstraint(line, side[0] - at,
                                                                   side[1] - at)])
            if result.status == 0 and result.x is not None:
                x = result.x
                off = x[2 * n:2 * n + m] + x[2 * n + m:] > 1e-7
                answers.append((float(result.fun), [self.free[d] for d in np.flatnonzero(off)],
                                side, self.truth + x[:n] - x[n:2 * n]))
        answers.sort(key=lambda a: a[0])
        if answers:
            self.missed = answers[0][1], answers[0][2]
        for _, _, side, y in answers:
            whole: Vector = np.rint(y)
            if np.all(abs(y - whole) < 1e-6) and self._fits(whole, side):
                return whole
        return None

    def whole(self) -> Vector | None:
        """An integer answer (after ``relaxed``): any integer table missing only what the
        cheaper linear answer missed; failing that, the integer program. None where the
        linear program had no answer: then there is no integer one either."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp

        if self.missed is None:
            return None
        missed, side = self.missed
        keep = np.ones(self.matrix.shape[0], dtype=bool)
        keep[missed] = False
        at = np.flatnonzero(keep)
        result: Any = milp(np.zeros(len(self.low)), bounds=Bounds(self.low, self.high),
                           integrality=np.ones(len(self.low)), constraints=[
                               LinearConstraint(self.matrix[at], self.lo[at], self.hi[at]),
                               LinearConstraint(self.target.reshape(1, -1), *side)])
        if result.status == 0 and result.x is not None:
            y: Vector = np.rint(result.x)
            if self._fits(y, side):
                return y
        return self._switched()

    def _switched(self) -> Vector | None:
        """The integer program: each row that may be missed is met unless its switch is
        on (``lo - M h <= a.y <= hi + M h``, ``M`` as far as the row can go), the switches
        priced; near the cheapest (within a tenth) is cheap enough."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import csr_array, hstack

        n, m = len(self.low), len(self.free)
        reach = abs(self.matrix) @ (self.high - self.low) + 1
        switch = csr_array((-reach[self.free], (self.free, list(range(m)))),
                           shape=(self.matrix.shape[0], m))
        parts = [LinearConstraint(hstack([self.matrix, -switch]), self.lo, np.inf),
                 LinearConstraint(hstack([self.matrix, switch]), -np.inf, self.hi)]
        line = np.concatenate([self.target, np.zeros(m)]).reshape(1, -1)
        price = np.concatenate([np.zeros(n), self.price])
        bounds = Bounds(np.concatenate([self.low, np.zeros(m)]),
                        np.concatenate([self.high, np.ones(m)]))
        best: tuple[float, Vector] | None = None
        for side in self.sides:
            result: Any = milp(price, bounds=bounds, integrality=np.ones(n + m),
                               options={"presolve": False, "mip_rel_gap": 0.1},
                               constraints=[*parts, LinearConstraint(line, *side)])
            if result.status != 0 or result.x is None:
                continue
            y: Vector = np.rint(result.x[:n])
            if self._fits(y, side) and (best is None or result.fun < best[0] - 1e-9):
                best = float(result.fun), y
        return None if best is None else best[1]


class Decisions(Protocol):
    """Decisions kept between runs, each under its model's ``decision_key``: the keys of
    the figures hidden, or None where none is kept (or what is kept cannot be read)."""

    def get(self, key: str) -> frozenset[Key] | None: ...

    def put(self, key: str, hidden: frozenset[Key]) -> None: ...


def _terms(terms: Terms) -> list[Any]:
    """The terms in the variables' order, each variable once (a tuple is a JSON list)."""
    merged: dict[Key, int] = {}
    for var, c in terms:
        merged[var] = merged.get(var, 0) + c
    if len(merged) == len(terms) and all(merged.values()):
        return sorted(terms)  # each variable once already
    return [(v, merged[v]) for v in sorted(merged) if merged[v]]


def decision_key(figures: Sequence[Figure], known: Sequence[Bound], truth: Mapping[Key, int],
                 threshold: int, withheld: Iterable[Key] = (), algorithm: str = "") -> str:
    """The SHA-256 of everything ``protect`` decides on: two models with one key always get
    one decision. The figures are taken in their order (it is the order they are dealt
    with); a figure's or a bound's terms in any order. ``algorithm`` gives the key an
    earlier release (``KEYED_BY_ALGORITHM``) kept the same model's decision under."""
    model = {
        **({"algorithm": algorithm} if algorithm else {}), "threshold": threshold,
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
    decision kept for the same model if there is one, whichever release made it (else
    worked out and kept). What is kept is used only where it hides at least every small
    count and every figure ``withheld``, and names only figures of the model."""
    withheld = frozenset(withheld)
    if cache is None:
        return decide(figures, known, truth, threshold, withheld=withheld)
    key = decision_key(figures, known, truth, threshold, withheld)
    kept = cache.get(key)
    for earlier in KEYED_BY_ALGORITHM if kept is None else ():
        kept = cache.get(decision_key(figures, known, truth, threshold, withheld, earlier))
        if kept is not None:
            cache.put(key, kept)
            break
    keys = {f.key for f in figures}
    must = {f.key for f in figures if f.kind is Kind.COUNT and is_small(f.value, threshold)}
    if kept is not None and kept <= keys and must <= kept and (withheld & keys) <= kept:
        return kept
    hidden = decide(figures, known, truth, threshold, withheld=withheld)
    cache.put(key, hidden)
    return hidden


def _with_dependants(figures: Sequence[Figure]) -> Callable[[set[Key]], set[Key]]:
    """A function giving some figures with every figure that requires one of them (a
    percentage goes with its base), or requires a figure that is not there."""
    keys = {f.key for f in figures}
    resting: dict[Key, list[Key]] = {}
    for f in figures:
        for r in f.requires:
            resting.setdefault(r, []).append(f.key)
    baseless = {f.key for f in figures if any(r not in keys for r in f.requires)}

    def close(gone: set[Key]) -> set[Key]:
        gone = set(gone) | baseless
        todo = list(gone)
        while todo:
            for k in resting.get(todo.pop(), ()):
                if k not in gone:
                    gone.add(k)
                    todo.append(k)
        return gone

    return close


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

    close = _with_dependants(figures)
    hopeless: set[Key] = set()

    def protected() -> list[Key]:
        mine = (primary | (hidden & set(counts))) - hopeless
        return sorted(mine, key=order.__getitem__)

    # What hiding costs: a percentage by its importance; a count by its size, a total
    # far more than a cell.
    price = {f.key: 100.0 - min(f.priority, 99) if f.kind is Kind.DERIVED
             else 1.0 + abs(f.value) + (0 if f.cell else 10_000) for f in figures}

    for publishable in (counts, counts + derived):
        while True:
            hidden = close(hidden)
            shown = [k for k in publishable if k not in hidden]
            stronger = [k for k in counts + derived if k not in hidden]
            stuck = model.first_pinned(shown, protected(), stronger)
            if stuck is None:
                break
            hideable = {k: price[k] for k in shown
                        if (by_key[k].kind is Kind.DERIVED) == (publishable is not counts)}
            system = model.system(shown)
            found = None
            for reach in (4, cap):
                found = model.cheapest(stuck, system, hideable, reach)
                if found is not None:
                    break
            if found is None:
                # Hiding all it could would not free it: what every reader knows anyway
                # pins it (it is no secret). Nothing to do for it.
                hopeless.add(stuck)
                continue
            hidden = close(hidden | found[0])  # (nothing, where it was free after all)
            model.witnesses.add(found[1], model.system(
                k for k in publishable if k not in hidden))
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
    ``value``'s (a rounded percentage, an interval): what the shown text reveals. Read
    outwards from ``value`` while the text stays the same: a percentage and its interval
    only grow with the numerator, so that run is every one of them (and were a text the
    same again further off, claiming the run alone claims a reader knows more than they
    do, which only hides more)."""
    shown = text(value, base)
    lo, hi = value, value
    while lo > 0 and text(lo - 1, base) == shown:
        lo -= 1
    while hi < base and text(hi + 1, base) == shown:
        hi += 1
    return lo, hi
