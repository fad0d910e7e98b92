"""The one error family of qaudit, and findings: problems collected as data.

Library code raises these; only ``cli.py`` turns them into an ``Error: ...`` line
and exit status 1. Every message says what was wrong and what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass


class QauditError(Exception):
    """A mistake the user can put right. The message says how."""


class WorkspaceError(QauditError):
    """No workspace, or one that cannot be used."""


class ConfigError(QauditError):
    """A setting in qaudit.toml is wrong."""


class ExportError(QauditError):
    """The case export cannot be read or lacks what a draw needs."""


class CycleError(QauditError):
    """A cycle is unknown, already drawn, or cannot be changed."""


class QuestionSetError(QauditError):
    """An audit question set is missing or malformed."""


@dataclass(frozen=True)
class Finding:
    """One problem found in a file: where it is and what is allowed instead."""

    file: str
    sheet: str
    cell: str
    message: str
    value: str = ""
