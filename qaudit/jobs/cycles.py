"""The cycles of a workspace: where each stands, and cancelling a mistaken one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from qaudit import layout
from qaudit.db import Cycle, Store, backup
from qaudit.errors import QauditError
from qaudit.jobs.purged import check_not_purged
from qaudit.jobs.shared_files import place_in
from qaudit.moderation import sample_size
from qaudit.workspace import Workspace


@dataclass(frozen=True)
class CycleState:
    cycle: Cycle  # its kind: a regular cycle, a deep dive or a round of re-audits
    state: str  # cancelled, drawn, returns coming in, returns in, moderated
    allocated: int
    returned: int
    moderated: int

    def to_json(self) -> dict[str, Any]:
        c = self.cycle
        return {"cycle": c.name, "kind": c.kind, "from": c.date_from.isoformat(),
                "to": c.date_to.isoformat(),
                "due": c.due_date.isoformat(), "state": self.state,
                "allocated": self.allocated, "returned": self.returned,
                "moderated": self.moderated, "cancelled_at": c.cancelled_at,
                "cancel_reason": c.cancel_reason}


def cycle_states(store: Store, today: date, rate: float) -> list[CycleState]:
    """Every cycle, oldest first, with its state."""
    return [cycle_state(store, cycle, today, rate) for cycle in store.draws.cycles()]


def cycle_state(store: Store, cycle: Cycle, today: date, rate: float) -> CycleState:
    """Where one cycle stands: cancelled, drawn, returns coming in, returns in, moderated."""
    if cycle.cancelled:
        return CycleState(cycle, "cancelled", 0, 0, 0)
    progress = store.reporting.allocation_progress(cycle.name)
    returned = sum(p.audit_back for p in progress)
    moderated = sum(p.moderated for p in progress)
    if returned and moderated >= sample_size(returned, rate) and (
            returned == len(progress) or today > cycle.due_date):
        state = "moderated"
    elif returned == len(progress) or today > cycle.due_date:
        state = "returns in"
    elif returned:
        state = "returns coming in"
    else:
        state = "drawn"
    return CycleState(cycle, state, len(progress), returned, moderated)


def cancel_cycle(ws: Workspace, store: Store, name: str, reason: str, force: bool) -> Cycle:
    """Cancel a mistaken cycle (refused once forms are back, unless ``force``): kept in the
    history with its reason, its people, records and workers free for later draws, and its
    folder moved aside so nothing of it is sent or taken back by mistake."""
    if not reason.strip():
        raise QauditError("--reason TEXT is required: why the cycle is cancelled (kept in"
                          " the history).")
    check_not_purged(store, name, "cancel it")
    found = store.draws.check_can_cancel(name, force)
    folder = ws.cycle_dir(found.name)
    backup.before(store.conn, store.path, "cycle-cancel")
    with store.transaction():
        cancelled = store.draws.cancel(found.name, reason.strip(), force)
        store.files.moved_aside(place_in(ws.root, folder) or "")
        if folder.exists():
            folder.rename(layout.set_aside(folder, "cancelled", datetime.now(UTC)))
    return cancelled
