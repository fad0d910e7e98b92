"""The one error family of qaudit, and findings: problems collected as data.

Library code raises these; only ``cli.py`` turns them into an ``Error: ...`` line
and exit status 1. Every message says what was wrong and what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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


class StaffListError(QauditError):
    """A staff list that cannot be read, or holds a value qaudit will not store."""


class BrokenTemplateError(QauditError):
    """A report or message template that cannot be rendered (broken, or doing what a
    template may not): the message names its file and line."""


class StorageError(QauditError):
    """The database could not be written (a full disk, a lost network share): nothing of
    the write in hand was stored."""


class FormFileError(QauditError):
    """A returned file as a whole cannot be taken: not a workbook, locked, damaged, unsafe."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Finding:
    """One problem found in a file: where it is and what is allowed instead.

    ``code`` is stable (tests and ``--json`` consumers match it); ``message`` is for people
    and may be reworded.
    """

    code: str
    file: str
    sheet: str
    cell: str
    message: str
    value: str = ""


class Status(StrEnum):
    """What became of one returned file."""

    ACCEPTED = "accepted"
    UNCHANGED = "unchanged"
    REPLACED = "replaced"
    SUPERSEDED = "superseded"  # an older copy of a return since replaced: skipped
    REFUSED = "refused"
