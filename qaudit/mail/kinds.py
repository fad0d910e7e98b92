"""The kinds of message ``qaudit send`` sends and the two ways out. Light: the command
module imports it to list the choices in ``--help``."""

from __future__ import annotations

from enum import StrEnum


class MessageKind(StrEnum):
    """What a run of ``qaudit send`` sends; also the ``kind`` recorded with each message."""

    ALLOCATIONS = "allocations"  # each Service Manager's workbook, to name the auditors
    FORMS = "forms"  # the audit form to the auditor, the self-reflection to the practitioner
    REMINDERS = "reminders"  # overdue returns; a second reminder escalates
    FEEDBACK = "feedback"  # the feedback pack to the practitioner and their line manager
    REPORTS = "reports"  # quadrant outcome reports and the network's highlights


class Route(StrEnum):
    """How a message leaves: a draft in the outbox, or through the SMTP relay."""

    DRAFT = "draft"
    SMTP = "smtp"
