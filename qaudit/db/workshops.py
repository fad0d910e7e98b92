"""The audit-the-auditor workshops: their cases, participants and grades."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qaudit.db.store import Store


@dataclass(frozen=True)
class Workshops:
    db: Store
