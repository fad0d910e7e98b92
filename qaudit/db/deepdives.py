"""The deep dives: their terms of reference, filters and size, stored beside the cycle
(of kind deep_dive) that holds their draw."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qaudit.db.store import Store


@dataclass(frozen=True)
class DeepDives:
    db: Store
