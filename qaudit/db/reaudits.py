"""The re-audits: which Requires improvement audits are due one, and the linked pairs of
audit and re-audit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qaudit.db.store import Store


@dataclass(frozen=True)
class Reaudits:
    db: Store
