"""The workspace database: every SQL statement qaudit runs lives in this package.

SQLite, with the schema kept as numbered migrations recorded in ``schema_migrations``
(the shape of sqlite-utils' Migrations). Every write that belongs together happens in
one ``BEGIN IMMEDIATE`` transaction, so a crash leaves the database as it was. Rows
cross to callers as frozen dataclasses, never as dicts.
"""

from qaudit.db.draws import AllocationRow, Cycle, DrawRecord, IssuedAllocation
from qaudit.db.moderation import ModeratedPair, Outcome, ReturnedAudit, Sample, SampleItem
from qaudit.db.reporting import (
    AllocationProgress,
    AnswerCount,
    DataTable,
    GradedAudit,
    KnownPeople,
)
from qaudit.db.returns import (
    Escalation,
    EscalationItem,
    NewReturn,
    RiItem,
    StoredReturn,
)
from qaudit.db.schema import MIGRATIONS, SCHEMA_VERSION
from qaudit.db.store import Store

__all__ = [
    "MIGRATIONS", "SCHEMA_VERSION", "AllocationProgress", "AllocationRow", "AnswerCount",
    "Cycle", "DataTable", "DrawRecord", "Escalation", "EscalationItem", "GradedAudit",
    "IssuedAllocation", "KnownPeople", "ModeratedPair", "NewReturn", "Outcome",
    "ReturnedAudit", "RiItem", "Sample", "SampleItem", "Store", "StoredReturn",
]
