"""Following returns up: the Requires improvement monitoring list and escalations.

The framework: every RI audit is reviewed and monitored by the Practice Quality Team,
may need corrective action by the team manager, is discussed at the six-weekly meeting
with the Principal Social Worker and with ESCA. The steps are ``[ri] steps`` in the
settings; the rules for recording and closing are ``grading.ri_step_refusal`` and
``grading.ri_close_refusal``. Nothing is written against an audit of a purged cycle
(``reference_to_change``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from qaudit.db import EscalationItem, RiItem, Store
from qaudit.db.returns import RiHistoryEntry, RiStepDone
from qaudit.errors import QauditError
from qaudit.jobs.purged import check_not_purged, purged_cycle_of
from qaudit.reaudits import ReauditPair


@dataclass(frozen=True)
class RiListed:
    """One RI audit on the monitoring list, with the re-audit that followed it up, if any
    (``qaudit reaudit``)."""

    item: RiItem
    reaudit: ReauditPair | None = None

    @property
    def reaudit_outcome(self) -> str:
        """'REF2, graded Good', 'REF2, drawn, not returned', or '' before any re-audit."""
        return self.reaudit.outcome() if self.reaudit else ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self.item) | {"reaudit": _reaudit_json(self.reaudit)}


def _reaudit_json(pair: ReauditPair | None) -> dict[str, Any] | None:
    if pair is None:
        return None
    return {"reference": pair.reference, "cycle": pair.cycle, "grade": pair.grade,
            "returned": pair.returned, "change": pair.change, "outcome": pair.outcome()}


def _reaudits(store: Store) -> dict[str, ReauditPair]:
    return {p.first_reference: p for p in store.reaudits.pairs()}


def ri_items(store: Store, cycle: str | None) -> list[RiListed]:
    if cycle is not None:
        store.draws.require_cycle(cycle)
    reaudits = _reaudits(store)
    return [RiListed(i, reaudits.get(i.reference)) for i in store.returns.ri_items(cycle)]


@dataclass(frozen=True)
class RiDetail:
    """One RI audit: where it stands, every step recorded, every change."""

    item: RiItem
    steps: list[RiStepDone]
    history: list[RiHistoryEntry]
    required: dict[str, str]  # step -> what it is
    reaudit: ReauditPair | None = None  # the re-audit that followed it up

    @property
    def missing(self) -> list[str]:
        return [s for s in self.required if s not in self.item.steps]

    def to_json(self) -> dict[str, Any]:
        return {"item": asdict(self.item), "steps": [asdict(s) for s in self.steps],
                "history": [asdict(h) for h in self.history], "missing": self.missing,
                "reaudit": _reaudit_json(self.reaudit)}


def ri_detail(store: Store, reference: str, required: dict[str, str]) -> RiDetail:
    reference = store.draws.stored_reference(reference)
    items = {i.reference: i for i in store.returns.ri_items(None)}
    if reference not in items:
        raise QauditError(
            f"{reference} is not on the Requires improvement list; `qaudit ri` lists it.")
    steps, history = store.returns.ri_detail(reference)
    return RiDetail(items[reference], steps, history, required,
                    _reaudits(store).get(reference))


def record_ri_step(store: Store, reference: str, step: str, done_on: date, note: str,
                   today: date, required: dict[str, str]) -> None:
    """Record a follow-up step once it has happened."""
    reference = reference_to_change(store, reference, "record an RI step for")
    if done_on > today:
        raise QauditError(f"--on {done_on:%d/%m/%Y} is in the future; record a step once it"
                          " has happened.")
    store.returns.record_ri_step(reference, step, done_on, note, required)


def close_ri(store: Store, reference: str, note: str, required: dict[str, str],
             force: bool = False, reason: str = "") -> None:
    """Close an RI audit once every required step is recorded; ``force`` closes it with
    steps missing, and then a reason is required (it is kept in the history)."""
    reference = reference_to_change(store, reference, "close the RI follow-up of")
    if force and not reason.strip():
        raise QauditError("--force needs --reason TEXT: why the follow-up can close with"
                          " steps missing (it is kept in the history).")
    text = "; ".join(t for t in (reason.strip() if force else "", note.strip()) if t)
    store.returns.close_ri(reference, text, required, force)


def reopen_ri(store: Store, reference: str, reason: str) -> None:
    reference = reference_to_change(store, reference, "reopen the RI follow-up of")
    if not reason.strip():
        raise QauditError("--reason TEXT is required: why the RI audit is reopened.")
    store.returns.reopen_ri(reference, reason.strip())


@dataclass(frozen=True)
class AgedEscalation:
    item: EscalationItem
    age_days: int  # since it was raised; for a closed one, until it was closed

    @property
    def closed(self) -> bool:
        return self.item.closed_at is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self.item) | {"age_days": self.age_days, "closed": self.closed}


def escalations(store: Store, cycle: str | None, today: date) -> list[AgedEscalation]:
    """Every escalation recorded on a current return, with how long it has been open."""
    if cycle is not None:
        store.draws.require_cycle(cycle)
    aged = []
    for e in store.returns.escalations(cycle):
        until = date.fromisoformat(e.closed_at[:10]) if e.closed_at else today
        aged.append(AgedEscalation(e, (until - date.fromisoformat(e.escalated_on)).days))
    return aged


def close_escalation(store: Store, reference: str, outcome: str) -> None:
    reference = reference_to_change(store, reference, "close the escalation of")
    if not outcome.strip():
        raise QauditError("--outcome TEXT is required: what came of the escalation.")
    store.returns.close_escalation(reference, outcome.strip())


def reference_to_change(store: Store, reference: str, doing: str) -> str:
    """The reference as stored (``Draws.stored_reference``), of an audit whose record may
    still be written to; refused (``jobs.purged.check_not_purged``) for an audit of a
    purged cycle, found by the pseudonym the purge left or by the reference as its forms
    showed it. A note, name or outcome written there would put personal data back into
    a record the purge emptied."""
    stored = store.draws.stored_reference(reference)
    issued = store.draws.issued(stored)
    cycle = issued.cycle if issued is not None else purged_cycle_of(store, reference)
    if cycle is not None:
        check_not_purged(store, cycle, f"{doing} {stored}")
    return stored
