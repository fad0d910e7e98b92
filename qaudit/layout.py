"""A cycle's folder: where each file qaudit writes for a cycle lives, and its name.

One home for every name, so that the jobs that write the files (``jobs.allocate``,
``jobs.report``, ``jobs.send``) and the ones that find them again to attach them
(``mail.letters``, ``jobs.send``) cannot drift apart. Pure and light (paths and names
only: no pandas, no openpyxl), so ``qaudit send`` finds what to attach without loading
what wrote it. The cycle's folder itself is the workspace's (``Workspace.cycle_dir``),
or ``allocate --out``.

No file name holds a person's name or id: Service Managers' workbooks are numbered.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from qaudit.values import cycle_slug

REGISTER = "register.xlsx"
AUDIT_FORMS = "audit-forms"
SELF_REFLECTION = "self-reflection"
SERVICE_MANAGERS = "service-managers"
REPORTS = "reports"
OUTBOX = "outbox"
FEEDBACK_PACKS = "feedback"
#: The charts ``rendering.charts`` draws beside a report's Markdown, each an SVG file.
CHARTS = ("grades", "trend")


def register(folder: Path) -> Path:
    """The allocation register: the draw's facts and every case drawn."""
    return folder / REGISTER


def audit_form(folder: Path, reference: str) -> Path:
    """An allocation's audit form: ``audit-forms/<reference>-audit.xlsx``."""
    return folder / AUDIT_FORMS / f"{reference}-audit.xlsx"


def reflection_form(folder: Path, reference: str) -> Path:
    """An allocation's self-reflection form:
    ``self-reflection/<reference>-self-reflection.xlsx``."""
    return folder / SELF_REFLECTION / f"{reference}-self-reflection.xlsx"


def manager_workbooks(service_managers: Iterable[str]) -> dict[str, str]:
    """Each Service Manager of a draw -> their workbook's file name, numbered in name
    order (``service-manager-01.xlsx``), so that no name appears in a file name. Give it
    every Service Manager of the draw: the numbers depend on the whole set."""
    managers = sorted(set(service_managers), key=str.casefold)
    return {m: f"service-manager-{n:02d}.xlsx" for n, m in enumerate(managers, start=1)}


def manager_workbook(folder: Path, file_name: str) -> Path:
    """A Service Manager's workbook, by the name ``manager_workbooks`` gave it."""
    return folder / SERVICE_MANAGERS / file_name


def report_folder(folder: Path) -> Path:
    """Where ``qaudit report`` writes the cycle's reports unless told otherwise."""
    return folder / REPORTS


def summary_stem(cycle: str, internal: bool = False) -> str:
    """The Board summary's file name without its extension: ``2026-27-C3-summary``."""
    return _stem(cycle, "summary", internal)


def highlights_stem(cycle: str, internal: bool = False) -> str:
    """The network's highlights: ``2026-27-C3-highlights``."""
    return _stem(cycle, "highlights", internal)


def quadrant_stem(cycle: str, quadrant: str, internal: bool = False) -> str:
    """One quadrant's outcome report: ``2026-27-C3-quadrant-north-east``."""
    return _stem(cycle, f"quadrant-{cycle_slug(quadrant).lower()}", internal)


def _stem(cycle: str, report: str, internal: bool) -> str:
    # The QA team's internal version shows every figure: its name says so.
    return f"{cycle_slug(cycle)}-{report}{'-internal' if internal else ''}"


def chart_file(stem: str, chart: str) -> str:
    """A chart's SVG file beside the report's Markdown: ``<stem>-grades.svg``."""
    return f"{stem}-{chart}.svg"


def outbox(folder: Path, kind: str) -> Path:
    """Where ``qaudit send`` leaves the drafts of one kind of message."""
    return folder / OUTBOX / kind


def feedback_packs(folder: Path) -> Path:
    """Where the feedback packs sent are kept, as they went."""
    return folder / FEEDBACK_PACKS
