"""Who must not be named in anything published: every id and name the record holds."""

from __future__ import annotations

from collections.abc import Callable

from qaudit.config import DEFAULT_AUDITOR_ROLES
from qaudit.db import Store
from qaudit.privacy import identifiers_to_scrub, scrubber
from qaudit.workbooks.forms import ESCALATED_TO


def known_identifiers(store: Store,
                      roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES) -> list[str]:
    """Every person id, record id, worker id, team and name the record holds, with every
    part of each name, longest first; the roles people pick from drop-downs (the
    workspace's ``auditor_roles``, the escalation choices) are not names."""
    people = store.reporting.known_people()
    return identifiers_to_scrub(people.identifiers, people.names, (*roles, *ESCALATED_TO))


def scrub_for_publication(store: Store, roles: tuple[str, ...] = DEFAULT_AUDITOR_ROLES
                          ) -> Callable[[str], str]:
    """Free text with every known id and name replaced by '(removed)'."""
    return scrubber(known_identifiers(store, roles))
