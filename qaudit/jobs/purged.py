"""What other commands ask of the purges (retention, ``jobs.purge``) before working on a
cycle: ``check_not_purged`` refuses anything that needs the personal data of a purged
cycle (``purge_of`` and ``refusal`` say so as a finding), ``purged_cycle_of`` tells which
purged cycle a form's reference belonged to, ``check_workshop_not_purged`` refuses grades
for a purged workshop, and ``purged_history`` lets a draw keep the rule that a record
audited before is not audited again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from qaudit.db import Store
from qaudit.db.purge import Purged, Purges
from qaudit.errors import CycleError, QauditError
from qaudit.values import cycle_key
from qaudit.workspace import Workspace


def check_not_purged(store: Store, cycle: str, doing: str) -> None:
    """Refuse ``doing`` (e.g. "send its forms") for a purged cycle: its personal data is
    gone, so nothing that needs it can be done."""
    store.draws.require_cycle(cycle)
    purged = purge_of(store, cycle)
    if purged is not None:
        raise CycleError(refusal(purged, doing))


def check_recheck(store: Store, cycle: str, cooldown: int) -> None:
    """Refuse a ``--dry-run`` re-check of a cycle's draw once a cycle it read was purged
    (``db.purge.Rereads``): the same export and seed can no longer give the same draw, and
    a re-check that differed would call a sound draw unsound. ``cooldown`` is
    ``[sampling] worker_cooldown_cycles``."""
    found = store.draws.cycle(cycle)
    if found is None:
        return
    purges = Purges(store)
    done = purges.purged_cycles()
    reads = purges.recheck_reads(cooldown).get(found.id)
    gone = [done[c.id] for c in (*reads.cooled, *reads.later) if c.id in done] if reads else []
    if gone:
        names = ", ".join(f"{p.name!r} (on {p.purged_at[:10]})" for p in gone)
        raise CycleError(
            f"cannot re-check the draw of {found.name!r}: it read who was drawn in cycles"
            f" purged since for retention ({names}), so the same export and seed can no"
            " longer give the same draw. The draw stands as it was recorded.")


def purge_of(store: Store, cycle: str) -> Purged | None:
    """The purge of the cycle a name means (in any case); None if it was not purged, or
    there is no such cycle."""
    found = store.draws.cycle(cycle)
    return None if found is None else Purges(store).purged_cycles().get(found.id)


def refusal(purged: Purged, doing: str) -> str:
    """Why ``doing`` cannot be done for a purged cycle."""
    return (f"cannot {doing}: cycle {purged.name!r} was purged on {purged.purged_at[:10]}"
            f" (retention, `qaudit purge --before {date.fromisoformat(purged.before):%d/%m/%Y}`),"
            " so the record no longer holds who its cases were about. Its figures and"
            " published reports remain.")


def purged_cycle_names(store: Store) -> frozenset[str]:
    """The names of the purged cycles, as stored."""
    return frozenset(p.name for p in Purges(store).purged_cycles().values())


def purged_cycle_of(store: Store, reference: str) -> str | None:
    """The purged cycle a reference (as a form or register shows it: ``<cycle>-NNN``)
    belonged to, if any: a form of a purged cycle is explained, not called unknown. The
    whole reference must have that shape: '2026-27-C1-re-audits-001' is a reference of
    '2026-27 C1 re-audits', not of '2026-27 C1'."""
    typed = reference.strip().casefold()
    for purged in Purges(store).purged_cycles().values():
        if re.fullmatch(f"{re.escape(cycle_key(purged.name))}-[0-9]+", typed):
            return purged.name
    return None


def check_workshop_not_purged(store: Store, workshop_id: int, doing: str) -> None:
    """Refuse ``doing`` (e.g. "take in grades") for a purged workshop."""
    reason = workshop_refusal(store, workshop_id, doing)
    if reason is not None:
        raise QauditError(reason)


def workshop_refusal(store: Store, workshop_id: int, doing: str) -> str | None:
    """Why ``doing`` cannot be done for the workshop, if it was purged; else None."""
    purged = Purges(store).purged_workshops().get(workshop_id)
    if purged is None:
        return None
    return (f"cannot {doing}: the workshop {purged.name!r} was purged on"
            f" {purged.purged_at[:10]} (retention), so its participants are no longer"
            " on record.")


@dataclass(frozen=True)
class PurgedHistory:
    """The persons and records of the purged audits, as their keyed pseudonyms
    (``db.purge``'s list, unlinked from the purged rows): a draw asks whether a case was
    audited in a purged cycle without the record keeping who, nor where or when."""

    persons: frozenset[str]
    records: frozenset[str]
    pseudonym: Callable[[str, str], str]

    def audited(self, person_id: str = "", record_id: str = "") -> bool:
        """Whether the person, or the record, was drawn in a purged cycle."""
        return (self.pseudonym("PER", person_id) in self.persons
                or self.pseudonym("REC", record_id) in self.records)

    def among(self, persons: Iterable[str], records: Iterable[str]
              ) -> tuple[frozenset[str], frozenset[str]]:
        """Of these persons and records (a case export's), those drawn in a purged cycle:
        what a draw adds to ``Draws.drawn_elsewhere`` so that a record audited before is
        not audited again, across a purge."""
        if not self.persons and not self.records:
            return frozenset(), frozenset()
        return (frozenset(p for p in set(persons) if self.audited(person_id=p)),
                frozenset(r for r in set(records) if self.audited(record_id=r)))


def purged_history(ws: Workspace, store: Store) -> PurgedHistory:
    """What ``Draws.drawn_elsewhere`` no longer knows of the purged cycles' cases: their
    persons and records, as the workspace's key makes their pseudonyms (the key is made
    only if there are any)."""
    from qaudit.privacy import pseudonymiser

    persons, records = Purges(store).purged_people()
    key = ws.pseudonym_key() if persons or records else b"\0"
    return PurgedHistory(persons, records, pseudonymiser(key))
