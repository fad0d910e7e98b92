"""Who must not be named in anything published: every id and name the record holds."""

from __future__ import annotations

from qaudit.config import DEFAULT_AUDITOR_ROLES
from qaudit.db import Store
from qaudit.privacy import Scrubber, identifiers_to_scrub, scrubber
from qaudit.workbooks.forms import ESCALATED_TO


def known_identifiers(store: Store,
                      roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES) -> list[str]:
    """Every person id, record id, worker id, team, reference and name the record holds,
    with every part of each name that is not a common word, longest first: none of it
    appears in anything published. The roles people pick from drop-downs (the workspace's
    ``auditor_roles``, the escalation choices) are not names."""
    people = store.reporting.known_people()
    return identifiers_to_scrub(people.identifiers, people.names, (*roles, *ESCALATED_TO))


def scrub_for_publication(store: Store,
                          roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES) -> Scrubber:
    """Free text with every known id, reference and name (and titled or id-shaped ones the
    record does not know) replaced by '(removed)' (``privacy.scrubber``)."""
    people = store.reporting.known_people()
    return scrubber(people.identifiers, names=people.names,
                    roles=(*roles, *ESCALATED_TO), cycles=people.cycles)
