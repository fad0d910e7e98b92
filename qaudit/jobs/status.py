"""The status job: where a cycle stands, per quadrant and per Service Manager."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from qaudit.db import Store
from qaudit.errors import QauditError
from qaudit.reports import StatusRow, status_rows


@dataclass(frozen=True)
class CycleStatus:
    cycle: str
    due: date
    past_due: bool
    by_quadrant: list[StatusRow]
    by_service_manager: list[StatusRow]

    def to_json(self) -> dict[str, Any]:
        def rows(key: str, items: list[StatusRow]) -> list[dict[str, Any]]:
            return [{key: r.group} | {k: v for k, v in asdict(r).items() if k != "group"}
                    for r in items]

        return {"cycle": self.cycle, "due": self.due.isoformat(),
                "by_quadrant": rows("quadrant", self.by_quadrant),
                "by_service_manager": rows("service_manager", self.by_service_manager)}


def cycle_status(store: Store, cycle: str | None, today: date) -> CycleStatus:
    """The named cycle, or the latest drawn."""
    name = cycle or store.draws.latest_cycle()
    if name is None:
        raise QauditError("no cycle is drawn yet; run `qaudit allocate` first.")
    found = store.draws.require_cycle(name)
    progress = store.reporting.allocation_progress(name)
    return CycleStatus(
        cycle=name, due=found.due_date, past_due=today > found.due_date,
        by_quadrant=status_rows(progress, "quadrant", today),
        by_service_manager=status_rows(progress, "service_manager", today),
    )
