"""The auditors the Service Managers named, read back from their returned workbooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qaudit.db.store import Store


class Assignments:
    """The auditors the Service Managers named, read back from their returned workbooks."""

    def __init__(self, store: Store) -> None:
        self.store = store
