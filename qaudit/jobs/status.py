"""The status job: where a cycle stands, per quadrant and per Service Manager."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from qaudit.db import Store
from qaudit.errors import QauditError
from qaudit.moderation import sample_size
from qaudit.reports import StatusRow, status_rows


@dataclass(frozen=True)
class ModerationProgress:
    """The framework moderates 20% of all the cycle's audits: how far along that is."""

    returned: int
    selected: int
    moderated: int
    target: int  # ceil(rate x returned)
    rate: float

    @property
    def met(self) -> bool:
        return self.returned > 0 and self.moderated >= self.target

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"met": self.met}


@dataclass(frozen=True)
class CycleStatus:
    cycle: str
    due: date
    past_due: bool
    by_quadrant: list[StatusRow]
    by_service_manager: list[StatusRow]
    moderation: ModerationProgress

    def to_json(self) -> dict[str, Any]:
        def rows(key: str, items: list[StatusRow]) -> list[dict[str, Any]]:
            return [{key: r.group} | {k: v for k, v in asdict(r).items() if k != "group"}
                    for r in items]

        return {"cycle": self.cycle, "due": self.due.isoformat(),
                "by_quadrant": rows("quadrant", self.by_quadrant),
                "by_service_manager": rows("service_manager", self.by_service_manager),
                "moderation": self.moderation.to_json()}


def cycle_status(store: Store, cycle: str | None, today: date, rate: float) -> CycleStatus:
    """The named cycle, or the latest drawn; ``rate`` is the share to moderate unless the
    cycle's sample was drawn at another."""
    name = cycle or store.draws.latest_cycle()
    if name is None:
        raise QauditError("no cycle is drawn yet; run `qaudit allocate` first.")
    found = store.draws.require_cycle(name)
    name = found.name
    progress = store.reporting.allocation_progress(name)
    sample = store.moderation.current_sample(name)
    rate = sample.rate if sample is not None else rate
    returned = sum(p.audit_back for p in progress)
    moderation = ModerationProgress(
        returned=returned, selected=len(sample.items) if sample else 0,
        moderated=sum(p.moderated for p in progress), target=sample_size(returned, rate),
        rate=rate,
    )
    return CycleStatus(
        cycle=name, due=found.due_date, past_due=today > found.due_date,
        by_quadrant=status_rows(progress, "quadrant", today),
        by_service_manager=status_rows(progress, "service_manager", today),
        moderation=moderation,
    )
