"""The draw: fair, reproducible, and never breaking the framework's rules."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from qaudit.sampling import (
    AFTER_WINDOW,
    BEFORE_WINDOW,
    NO_QUOTA,
    PERSON_AUDITED,
    PERSON_DRAWN,
    RECORD_AUDITED,
    WORKER_COOLDOWN,
    WORKER_HAS_CASE,
    DrawRules,
    History,
    draw_allocation,
    eligible_cases,
)

QUADRANTS = ("North East", "Mid", "South")
TYPES = ("care_act_assessment", "mca_assessment", "safeguarding_s42")
WINDOW = (date(2026, 9, 1), date(2026, 10, 31))


def cases_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["record_id", "person_id", "audit_type", "completed_date", "worker_id",
                       "worker_name", "team", "service_manager", "quadrant", "source_row"],
    )
    frame["completed_date"] = pd.to_datetime(frame["completed_date"]).to_numpy("datetime64[D]")
    return frame


def case(n: int, quadrant: str = "Mid", audit_type: str = "mca_assessment",
         worker: str = "", person: str = "", day: date = date(2026, 9, 15)) -> dict[str, object]:
    return {
        "record_id": f"R{n:05d}", "person_id": person or f"P{n:05d}", "audit_type": audit_type,
        "completed_date": day, "worker_id": worker or f"W{n:05d}", "worker_name": "",
        "team": "Team", "service_manager": "SM", "quadrant": quadrant, "source_row": n,
    }


def rules(quota: int = 2, **kw: object) -> DrawRules:
    return DrawRules(quotas={(q, t): quota for q in QUADRANTS for t in TYPES}, **kw)  # type: ignore[arg-type]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[pd.DataFrame, DrawRules, History, int]:
    n = draw(st.integers(0, 80))
    workers = draw(st.integers(1, 20))
    persons = draw(st.integers(1, 60))
    rows = [
        case(
            i,
            quadrant=draw(st.sampled_from(QUADRANTS)),
            audit_type=draw(st.sampled_from(TYPES)),
            worker=f"W{draw(st.integers(0, workers - 1))}",
            person=f"P{draw(st.integers(0, persons - 1))}",
            day=WINDOW[0] + timedelta(days=draw(st.integers(-10, 70))),
        )
        for i in range(n)
    ]
    quotas = {(q, t): draw(st.integers(0, 5)) for q in QUADRANTS for t in TYPES}
    r = DrawRules(quotas, max_per_worker=draw(st.integers(1, 3)), top_up=draw(st.booleans()))
    history = History(
        persons=frozenset(f"P{i}" for i in draw(st.sets(st.integers(0, persons), max_size=5))),
        records=frozenset(f"R{i:05d}" for i in draw(st.sets(st.integers(0, n), max_size=3))),
        cooldown_workers=frozenset(
            f"W{i}" for i in draw(st.sets(st.integers(0, workers), max_size=4))
        ),
    )
    return cases_frame(rows), r, history, draw(st.integers(0, 2**32 - 1))


def _draw(frame: pd.DataFrame, r: DrawRules, h: History, seed: int):  # type: ignore[no-untyped-def]
    eligible, excluded = eligible_cases(frame, *WINDOW, r, h)
    return eligible, excluded, draw_allocation(eligible, r, np.random.default_rng(seed))


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_nothing_excluded_is_ever_drawn(
    scenario: tuple[pd.DataFrame, DrawRules, History, int],
) -> None:
    frame, r, h, seed = scenario
    _, excluded, result = _draw(frame, r, h, seed)
    drawn = result.allocations
    assert not drawn["person_id"].isin(h.persons).any()
    assert not drawn["record_id"].isin(h.records).any()
    assert not drawn["worker_id"].isin(h.cooldown_workers).any()
    days = drawn["completed_date"].to_numpy("datetime64[D]")
    assert (days >= np.datetime64(WINDOW[0])).all() and (days <= np.datetime64(WINDOW[1])).all()
    strata = zip(drawn["quadrant"], drawn["stratum_type"], strict=True)
    assert all(r.quotas[(q, t)] > 0 for q, t in strata)
    assert sum(excluded.values()) + len(_draw(frame, r, h, seed)[0]) == len(frame)


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_no_duplicates_and_no_worker_over_the_limit(
    scenario: tuple[pd.DataFrame, DrawRules, History, int],
) -> None:
    frame, r, h, seed = scenario
    drawn = _draw(frame, r, h, seed)[2].allocations
    assert drawn["record_id"].is_unique
    assert drawn["person_id"].is_unique
    assert max(Counter(drawn["worker_id"]).values(), default=0) <= r.max_per_worker


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_quotas_are_met_or_the_shortfall_is_reported_honestly(
    scenario: tuple[pd.DataFrame, DrawRules, History, int],
) -> None:
    frame, r, h, seed = scenario
    eligible, _, result = _draw(frame, r, h, seed)
    drawn = result.allocations
    workers = Counter(drawn["worker_id"])
    persons = set(drawn["person_id"])
    for s in result.strata:
        own = drawn[(drawn["quadrant"] == s.quadrant) & (drawn["stratum_type"] == s.audit_type)]
        assert len(own) == s.drawn + s.topped_up
        assert s.drawn + s.topped_up + s.shortfall == s.quota
        if not r.top_up:
            assert s.topped_up == 0
        if s.shortfall:
            # Nothing that could have filled the gap was left undrawn.
            pool = eligible[eligible["quadrant"] == s.quadrant]
            if not r.top_up:
                pool = pool[pool["audit_type"] == s.audit_type]
            left = pool[~pool["record_id"].isin(drawn["record_id"])]
            for worker, person in zip(left["worker_id"], left["person_id"], strict=True):
                assert workers[worker] >= r.max_per_worker or person in persons


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_same_seed_same_draw_whatever_the_row_order(
    scenario: tuple[pd.DataFrame, DrawRules, History, int], shuffler: object,
) -> None:
    frame, r, h, seed = scenario
    first = _draw(frame, r, h, seed)[2].allocations
    order = list(range(len(frame)))
    shuffler.shuffle(order)  # type: ignore[attr-defined]
    again = _draw(frame.iloc[order].reset_index(drop=True), r, h, seed)[2].allocations
    assert first["record_id"].tolist() == again["record_id"].tolist()
    assert first["stratum_type"].tolist() == again["stratum_type"].tolist()


def test_different_seeds_give_different_draws() -> None:
    frame = cases_frame([case(i, quadrant="Mid", audit_type="mca_assessment") for i in range(200)])
    r = rules(quota=5)
    draws = {
        tuple(_draw(frame, r, History(), seed)[2].allocations["record_id"]) for seed in range(5)
    }
    assert len(draws) == 5


def test_every_eligible_case_can_be_drawn() -> None:
    """Fairness: over many seeds each case of a stratum is drawn about equally often."""
    frame = cases_frame([case(i) for i in range(20)])
    r = DrawRules({("Mid", "mca_assessment"): 5})
    counts: Counter[str] = Counter()
    for seed in range(800):
        counts.update(_draw(frame, r, History(), seed)[2].allocations["record_id"])
    expected = 800 * 5 / 20
    assert len(counts) == 20
    assert all(abs(n - expected) < 0.3 * expected for n in counts.values())


def test_worker_audited_last_cycle_is_not_drawn() -> None:
    frame = cases_frame([case(1, worker="W-recent"), case(2, worker="W-other")])
    history = History(cooldown_workers=frozenset({"W-recent"}))
    _, excluded, result = _draw(frame, rules(), history, 1)
    assert result.allocations["worker_id"].tolist() == ["W-other"]
    assert excluded == {WORKER_COOLDOWN: 1}


def test_person_audited_before_is_never_drawn_again() -> None:
    frame = cases_frame([case(1, person="P1"), case(2, person="P2")])
    _, excluded, result = _draw(frame, rules(), History(persons=frozenset({"P1"})), 1)
    assert result.allocations["person_id"].tolist() == ["P2"]
    assert excluded == {PERSON_AUDITED: 1}


def test_exclusions_are_counted_under_their_first_reason() -> None:
    frame = cases_frame([
        case(1, day=date(2026, 8, 31)),
        case(2, day=date(2026, 11, 1)),
        case(3, quadrant="West"),
        case(4),
        case(5),
    ])
    h = History(records=frozenset({"R00004"}), persons=frozenset({"P00004", "P00005"}))
    _, excluded, _ = _draw(frame, rules(), h, 0)
    assert excluded == {BEFORE_WINDOW: 1, AFTER_WINDOW: 1, NO_QUOTA: 1, RECORD_AUDITED: 1,
                        PERSON_AUDITED: 1}


def test_short_stratum_is_topped_up_from_the_same_quadrant() -> None:
    rows = [case(1, audit_type="safeguarding_s42")]
    rows += [case(i, audit_type="care_act_assessment") for i in range(2, 12)]
    rows += [case(i, quadrant="South", audit_type="care_act_assessment") for i in range(12, 20)]
    r = DrawRules({("Mid", "safeguarding_s42"): 3, ("Mid", "care_act_assessment"): 2,
                   ("South", "care_act_assessment"): 1})
    result = _draw(cases_frame(rows), r, History(), 3)[2]
    s42 = result.strata[0]
    assert (s42.drawn, s42.topped_up, s42.shortfall) == (1, 2, 0)
    assert s42.topped_up_from == {"care_act_assessment": 2}
    topped = result.allocations[result.allocations["topped_up"]]
    assert set(topped["quadrant"]) == {"Mid"}


def test_without_top_up_the_shortfall_stays() -> None:
    rows = [case(1, audit_type="safeguarding_s42"), case(2, audit_type="care_act_assessment")]
    r = DrawRules({("Mid", "safeguarding_s42"): 3, ("Mid", "care_act_assessment"): 0},
                  top_up=False)
    s42 = _draw(cases_frame(rows), r, History(), 3)[2].strata[0]
    assert (s42.drawn, s42.topped_up, s42.shortfall) == (1, 0, 2)


def test_one_case_per_worker_limits_a_stratum() -> None:
    rows = [case(i, worker="W1") for i in range(10)]
    s = _draw(cases_frame(rows), DrawRules({("Mid", "mca_assessment"): 3}), History(), 0)[2]
    assert (s.strata[0].eligible, s.strata[0].drawn, s.strata[0].shortfall) == (10, 1, 2)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_a_short_stratum_accounts_for_every_eligible_case(per_worker: int, seed: int) -> None:
    """Eligible = drawn + passed over (with why) wherever a stratum fell short."""
    rng = np.random.default_rng(seed)
    n = 40
    cases = pd.DataFrame({
        "record_id": [f"R{i}" for i in range(n)],
        "person_id": [f"P{rng.integers(0, 25)}" for _ in range(n)],
        "worker_id": [f"W{rng.integers(0, 6)}" for _ in range(n)],
        "quadrant": ["Mid"] * n,
        "audit_type": [("a", "b")[i % 2] for i in range(n)],
    })
    rules = DrawRules({("Mid", "a"): 15, ("Mid", "b"): 15}, max_per_worker=per_worker,
                      top_up=False)
    draw = draw_allocation(cases, rules, np.random.default_rng(seed))
    for s in draw.strata:
        passed = sum(s.passed_over.values())
        assert s.drawn + passed <= s.eligible
        if s.shortfall:
            assert s.drawn + passed == s.eligible, s
        assert set(s.passed_over) <= {WORKER_HAS_CASE, PERSON_DRAWN}
