"""Every message qaudit drafted or sent: what, to whom, its content hash and Message-ID."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qaudit.db.store import Store


class Messages:
    """Every message qaudit drafted or sent: what, to whom, its content hash and Message-ID."""

    def __init__(self, store: Store) -> None:
        self.store = store
