"""Where each file qaudit writes lives, and its name: a cycle's folder, a workshop's, the
reports, the drafts, the decisions kept, and what is moved aside.

One home for every name, so that the jobs that write the files (``jobs.allocate``,
``jobs.report``, ``jobs.send``) and the ones that find them again to attach them
(``mail.letters``, ``jobs.send``) cannot drift apart. Pure and light (paths and names
only: no pandas, no openpyxl), so ``qaudit send`` finds what to attach without loading
what wrote it. A cycle's folder is ``cycle_folder`` (``Workspace.cycle_dir``), or
``allocate --out``.

Every name made from text (a cycle's, a quadrant's, a workshop's) goes through
``values.cycle_slug``, so each is a name Windows accepts, and short enough that every path
stays well inside Windows' 260 characters; times are written without ':'
(``tests/core/test_windows_paths.py`` checks every function here against ``ntpath``). No
file name holds a person's name or id: Service Managers' workbooks are numbered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from qaudit.values import cycle_slug

CYCLES = "cycles"
REGISTER = "register.xlsx"
AUDIT_FORMS = "audit-forms"
SELF_REFLECTION = "self-reflection"
SERVICE_MANAGERS = "service-managers"
REPORTS = "reports"
OUTBOX = "outbox"
FEEDBACK_PACKS = "feedback"
MODERATION = "moderation"
WORKSHOPS = "workshops"
#: The disclosure decisions kept, one file each, under the workspace (``jobs.report``).
DECISION_CACHE = (".cache", "disclosure")
#: The charts ``rendering.charts`` draws beside a report's Markdown, each an SVG file.
CHARTS = ("grades", "trend")


def cycle_folder(root: Path, cycle: str) -> Path:
    """A cycle's folder in the workspace: ``cycles/2026-27-C3``."""
    return root / CYCLES / cycle_slug(cycle)


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
    return _stem(cycle, quadrant_draft(quadrant), internal)


def deep_dive_stem(name: str, internal: bool = False) -> str:
    """A deep dive's report: ``2026-27-DD1-deep-dive``."""
    return _stem(name, "deep-dive", internal)


def year_stem(year: str, internal: bool = False) -> str:
    """The year report: ``2026-27-year``."""
    return _stem(year, "year", internal)


def year_report_folder(root: Path) -> Path:
    """Where the year report goes unless told otherwise: the workspace's ``reports``."""
    return root / REPORTS


def _stem(cycle: str, report: str, internal: bool) -> str:
    # The QA team's internal version shows every figure: its name says so.
    return f"{cycle_slug(cycle)}-{report}{'-internal' if internal else ''}"


def chart_file(stem: str, chart: str) -> str:
    """A chart's SVG file beside the report's Markdown: ``<stem>-grades.svg``."""
    return f"{stem}-{chart}.svg"


def outbox(folder: Path, kind: str) -> Path:
    """Where ``qaudit send`` leaves the drafts of one kind of message."""
    return folder / OUTBOX / kind


def draft(folder: Path, stem: str, number: int = 1) -> Path:
    """A draft in an outbox: ``<stem>.eml``, then ``<stem>-2.eml``... for a second draft of
    the same letter."""
    return folder / (f"{stem}.eml" if number == 1 else f"{stem}-{number}.eml")


def form_draft(reference: str, form: str, what: str = "") -> str:
    """A draft about one form of an allocation: ``2026-27-C3-004-audit-form``,
    ``2026-27-C3-004-self-reflection-reminder``."""
    return "-".join(p for p in (reference, cycle_slug(form).lower(), what) if p)


def quadrant_draft(quadrant: str) -> str:
    """A quadrant's report, and the draft that sends it: ``quadrant-north-east``."""
    return f"quadrant-{cycle_slug(quadrant).lower()}"


def feedback_packs(folder: Path) -> Path:
    """Where the feedback packs sent are kept, as they went."""
    return folder / FEEDBACK_PACKS


def feedback_pack(reference: str) -> str:
    """A feedback pack's file name: ``2026-27-C3-004-feedback.html``."""
    return f"{reference}-feedback.html"


def moderation_workbook(folder: Path, cycle: str, number: int = 1) -> Path:
    """A cycle's moderation session workbook, in ``folder`` (default: the cycle's
    ``moderation`` folder): ``2026-27-C3-moderation.xlsx``, then ``-round-2`` for a
    top-up."""
    suffix = f"-round-{number}" if number > 1 else ""
    return folder / f"{cycle_slug(cycle)}-moderation{suffix}.xlsx"


def moderation_folder(folder: Path) -> Path:
    """Where a cycle's moderation workbooks go unless told otherwise."""
    return folder / MODERATION


def workshop_folder(base: Path, name: str) -> Path:
    """A workshop's folder in ``base`` (default: the workspace's ``workshops``)."""
    return base / cycle_slug(name)


def workshop_pack(folder: Path, name: str) -> Path:
    """A workshop's anonymised case pack: ``Q2-2026-27-cases.xlsx``."""
    return folder / f"{cycle_slug(name)}-cases.xlsx"


def grading_workbook(folder: Path, name: str, position: int) -> Path:
    """A participant's grading workbook: ``Q2-2026-27-grading-participant-03.xlsx``."""
    return folder / f"{cycle_slug(name)}-grading-participant-{position:02d}.xlsx"


def decision_file(folder: Path, key: str) -> Path | None:
    """A kept disclosure decision, named by the hash of its model; None for a key that is
    not one (so nothing else can become a file name)."""
    return folder / f"{key}.json" if re.fullmatch(r"[0-9a-f]{64}", key) else None


def set_aside(path: Path, why: str, when: datetime) -> Path:
    """Where a file or folder moved out of the way goes: beside it, its name followed by why
    and when (UTC, no ':'), e.g. ``2026-27-C3.cancelled-20261104T101500Z``."""
    return path.with_name(f"{path.name}.{why}-{when:%Y%m%dT%H%M%SZ}")
