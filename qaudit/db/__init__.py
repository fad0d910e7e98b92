"""The workspace database: every SQL statement qaudit runs lives in this package.

SQLite, with the schema kept as numbered migrations recorded in ``schema_migrations``
(the shape of sqlite-utils' Migrations). Every write that belongs together happens in
one ``BEGIN IMMEDIATE`` transaction, so a crash leaves the database as it was.
"""

from qaudit.db.moderation import Outcome, ReturnedAudit, SampleItem, Store
from qaudit.db.returns import RI_STEPS, IssuedAllocation, StoredReturn
from qaudit.db.schema import MIGRATIONS, SCHEMA_VERSION
from qaudit.db.store import AllocationRow, Cycle, DrawRecord

__all__ = [
    "MIGRATIONS", "RI_STEPS", "SCHEMA_VERSION", "AllocationRow", "Cycle", "DrawRecord",
    "IssuedAllocation", "Outcome", "ReturnedAudit", "SampleItem", "Store", "StoredReturn",
]
