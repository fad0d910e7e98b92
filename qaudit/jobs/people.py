"""Who must not be named in anything published: every id, name and email address the
record holds (allocations, returns, escalations, the staff list, the auditors the Service
Managers named, the addresses messages went to)."""

from __future__ import annotations

from qaudit.config import DEFAULT_AUDITOR_ROLES
from qaudit.db import Store
from qaudit.grading import ESCALATED_TO
from qaudit.privacy import Scrubber, identifiers_to_scrub, scrubber


def known_identifiers(store: Store,
                      roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES) -> list[str]:
    """Every person id, record id, worker id, team, reference, email address and name the
    record holds, with every part of each name that is not a common word, longest first:
    none of it appears in anything published. The roles people pick from drop-downs (the
    workspace's ``auditor_roles``, the escalation choices) are not names."""
    people = store.reporting.known_people()
    return identifiers_to_scrub(people.identifiers, people.names, (*roles, *ESCALATED_TO))


def scrub_for_publication(store: Store,
                          roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES) -> Scrubber:
    """Free text with every known id, reference, email address and name (and titled names,
    id-shaped text and email addresses the record does not know) replaced by '(removed)'
    (``privacy.scrubber``)."""
    people = store.reporting.known_people()
    return scrubber(people.identifiers, names=people.names,
                    roles=(*roles, *ESCALATED_TO), cycles=people.cycles)
