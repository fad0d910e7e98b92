"""Following returns up: the Requires improvement monitoring list and escalations."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from qaudit.db import EscalationItem, RiItem, Store
from qaudit.errors import QauditError
from qaudit.grading import RiStep


def ri_items(store: Store, cycle: str | None) -> list[RiItem]:
    if cycle is not None:
        store.draws.require_cycle(cycle)
    return store.returns.ri_items(cycle)


def record_ri_step(store: Store, reference: str, step: RiStep, done_on: date, note: str,
                   today: date) -> None:
    """Record a follow-up step once it has happened."""
    if done_on > today:
        raise QauditError(f"--on {done_on:%d/%m/%Y} is in the future; record a step once it"
                          " has happened.")
    store.returns.record_ri_step(reference, step, done_on, note)


def close_ri(store: Store, reference: str, note: str) -> None:
    store.returns.close_ri(reference, note)


@dataclass(frozen=True)
class AgedEscalation:
    item: EscalationItem
    age_days: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self.item) | {"age_days": self.age_days}


def escalations(store: Store, cycle: str | None, today: date) -> list[AgedEscalation]:
    """Every escalation recorded on a current return, with how long ago it was raised."""
    if cycle is not None:
        store.draws.require_cycle(cycle)
    return [AgedEscalation(e, (today - date.fromisoformat(e.escalated_on)).days)
            for e in store.returns.escalations(cycle)]
