"""The staff list and the feedback conversations (qaudit staff import, qaudit feedback record)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qaudit.db.store import Store


class People:
    """The staff list and the feedback conversations."""

    def __init__(self, store: Store) -> None:
        self.store = store
