"""The draw: who is eligible, and a stratified random sample per quadrant x audit type.

Pure: takes DataFrames, rules and a ``numpy.random.Generator``; returns data. The
algorithm is documented for users in ``docs/algorithm.md``; keep the two in step.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

BEFORE_WINDOW = "completed before the cycle window"
AFTER_WINDOW = "completed after the cycle window"
NO_QUOTA = "no quota for its quadrant and type"
RECORD_AUDITED = "record audited in an earlier cycle"
PERSON_AUDITED = "person audited in an earlier cycle"
WORKER_COOLDOWN = "worker audited too recently (cool-down)"
EXCLUSION_REASONS = (
    BEFORE_WINDOW, AFTER_WINDOW, NO_QUOTA, RECORD_AUDITED, PERSON_AUDITED, WORKER_COOLDOWN,
)

Stratum = tuple[str, str]  # (quadrant, audit type key)

WORKER_HAS_CASE = "worker already has a case this cycle"
PERSON_DRAWN = "person already drawn this cycle"
PASSED_OVER_REASONS = (WORKER_HAS_CASE, PERSON_DRAWN)


@dataclass(frozen=True)
class DrawRules:
    """What the settings say about drawing, in the order strata are reported."""

    quotas: dict[Stratum, int]  # every configured stratum, in configured order
    max_per_worker: int = 1
    top_up: bool = True


@dataclass(frozen=True)
class History:
    """What earlier cycles drew, as far as this draw must avoid it."""

    persons: frozenset[str] = frozenset()
    records: frozenset[str] = frozenset()
    cooldown_workers: frozenset[str] = frozenset()


@dataclass
class StratumResult:
    quadrant: str
    audit_type: str
    quota: int
    eligible: int
    drawn: int = 0
    topped_up_from: Counter[str] = field(default_factory=Counter)
    #: Eligible cases of this stratum passed over, by why (``PASSED_OVER_REASONS``).
    passed_over: Counter[str] = field(default_factory=Counter)

    @property
    def topped_up(self) -> int:
        return sum(self.topped_up_from.values())

    @property
    def shortfall(self) -> int:
        return max(self.quota - self.drawn - self.topped_up, 0)

    @property
    def short_or_topped_up(self) -> bool:
        return self.shortfall > 0 or self.topped_up > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "quadrant": self.quadrant, "audit_type": self.audit_type, "quota": self.quota,
            "eligible": self.eligible, "drawn": self.drawn, "topped_up": self.topped_up,
            "topped_up_from": dict(self.topped_up_from), "shortfall": self.shortfall,
            "passed_over": dict(self.passed_over),
        }


@dataclass
class Draw:
    allocations: pd.DataFrame  # eligible columns + stratum_type, topped_up
    strata: list[StratumResult]


def eligible_cases(
    cases: pd.DataFrame,
    date_from: date,
    date_to: date,
    rules: DrawRules,
    history: History,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Cases that may be drawn, and how many were excluded for each reason.

    Each excluded case is counted once, under the first reason that applies, in the
    order of ``EXCLUSION_REASONS``.
    """
    n = len(cases)
    reason = np.full(n, "", dtype=object)

    def mark(mask: np.ndarray, why: str) -> None:
        reason[mask & (reason == "")] = why

    completed = cases["completed_date"].to_numpy(dtype="datetime64[D]")
    mark(completed < np.datetime64(date_from, "D"), BEFORE_WINDOW)
    mark(completed > np.datetime64(date_to, "D"), AFTER_WINDOW)
    with_quota = {f"{q}\x1f{t}" for (q, t), n_ in rules.quotas.items() if n_ > 0}
    stratum_key = cases["quadrant"].astype(object) + "\x1f" + cases["audit_type"].astype(object)
    mark(~stratum_key.isin(with_quota).to_numpy(), NO_QUOTA)
    mark(cases["record_id"].isin(history.records).to_numpy(), RECORD_AUDITED)
    mark(cases["person_id"].isin(history.persons).to_numpy(), PERSON_AUDITED)
    mark(cases["worker_id"].isin(history.cooldown_workers).to_numpy(), WORKER_COOLDOWN)
    keep = reason == ""
    counts = Counter(reason[~keep].tolist())
    excluded = {r: counts[r] for r in EXCLUSION_REASONS if counts[r]}
    return cases.loc[keep].reset_index(drop=True), excluded


def draw_allocation(eligible: pd.DataFrame, rules: DrawRules, rng: np.random.Generator) -> Draw:
    """Draw each stratum's quota at random, one worker at most ``max_per_worker`` times.

    Cases are first put in record-id order so that the draw depends only on the set of
    eligible cases and the seed, not on the order of rows in the export. Every case gets
    a random key; within a stratum cases are taken in key order. Strata take turns, one
    case at a time, in an order shuffled once from the seed, so no stratum gets first
    pick of every worker. A case is passed over if its worker has reached the limit or
    its person is already drawn this cycle. A stratum left short is then topped up, if
    the rules allow, from its quadrant's other cases in key order.
    """
    frame = eligible.sort_values("record_id", kind="stable").reset_index(drop=True)
    keys = rng.random(len(frame))
    strata = [s for s, quota in rules.quotas.items() if quota > 0]
    visit = [strata[i] for i in rng.permutation(len(strata))]

    quadrant = frame["quadrant"].to_numpy(dtype=object)
    audit_type = frame["audit_type"].to_numpy(dtype=object)
    workers = frame["worker_id"].to_numpy(dtype=object)
    persons = frame["person_id"].to_numpy(dtype=object)
    by_key = np.argsort(keys, kind="stable")
    queues: dict[Stratum, list[int]] = defaultdict(list)
    by_quadrant: dict[str, list[int]] = defaultdict(list)
    for i in by_key.tolist():
        queues[(quadrant[i], audit_type[i])].append(i)
        by_quadrant[quadrant[i]].append(i)

    results = {
        s: StratumResult(s[0], s[1], rules.quotas[s], len(queues.get(s, ())))
        for s in rules.quotas
    }
    worker_count: Counter[str] = Counter()
    taken_persons: set[str] = set()
    taken: dict[int, Stratum] = {}

    def acceptable(i: int) -> bool:
        return (
            i not in taken
            and worker_count[workers[i]] < rules.max_per_worker
            and persons[i] not in taken_persons
        )

    def take(i: int, stratum: Stratum) -> None:
        taken[i] = stratum
        worker_count[workers[i]] += 1
        taken_persons.add(persons[i])

    def why_not(i: int) -> str:
        return WORKER_HAS_CASE if worker_count[workers[i]] >= rules.max_per_worker else (
            PERSON_DRAWN)

    def take_turns(need: list[Stratum], source: dict[Stratum, list[int]], top_up: bool) -> None:
        # Rejected candidates stay rejected (limits only tighten), so pointers only move on.
        pointer: Counter[Stratum] = Counter()
        while need:
            still: list[Stratum] = []
            for stratum in need:
                queue = source[stratum]
                while pointer[stratum] < len(queue) and not acceptable(queue[pointer[stratum]]):
                    candidate = queue[pointer[stratum]]
                    if not top_up and candidate not in taken:
                        # one of its own eligible cases it could not take, and why
                        results[stratum].passed_over[why_not(candidate)] += 1
                    pointer[stratum] += 1
                if pointer[stratum] == len(queue):
                    continue
                i = queue[pointer[stratum]]
                take(i, stratum)
                result = results[stratum]
                if top_up:
                    result.topped_up_from[audit_type[i]] += 1
                else:
                    result.drawn += 1
                if result.shortfall > 0:
                    still.append(stratum)
            need = still

    take_turns(visit, queues, top_up=False)
    if rules.top_up:
        short = [s for s in visit if results[s].shortfall > 0]
        # Strata of one quadrant share that quadrant's pool; a short stratum's own
        # remaining cases were all unacceptable, so including them changes nothing.
        take_turns(short, {s: by_quadrant[s[0]] for s in short}, top_up=True)

    order = {s: n for n, s in enumerate(rules.quotas)}
    rows = sorted(taken, key=lambda i: (order[taken[i]], audit_type[i] != taken[i][1], keys[i]))
    allocations = frame.iloc[rows].reset_index(drop=True)
    allocations["stratum_type"] = [taken[i][1] for i in rows]
    allocations["topped_up"] = allocations["stratum_type"] != allocations["audit_type"]
    return Draw(allocations, [results[s] for s in rules.quotas])
