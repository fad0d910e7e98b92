"""Which files a purge removes (``jobs.purge``), and removing them: a cycle's workbooks,
forms, outbox, feedback packs and internal reports, and a workshop's folder; never a
published report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from qaudit import layout
from qaudit.db.purge import Purged
from qaudit.files import MARKER
from qaudit.workspace import Workspace

_YEAR = re.compile(r"^(\d{4}-\d{2})(?!\d)")


def cycle_files(ws: Workspace, name: str) -> tuple[Path, ...]:
    """A cycle's files that hold personal data (``cycle_folder_files``), and the internal
    year report of its year."""
    year = _YEAR.match(name)
    internal = [p for p in layout.year_report_folder(ws.root).glob(
        f"{layout.year_stem(year[1], internal=True)}*") if p.is_file()] if year else []
    return tuple(sorted((*cycle_folder_files(ws, name), *internal)))


def cycle_folder_files(ws: Workspace, name: str) -> tuple[Path, ...]:
    """Everything in a cycle's folder but its published reports (and the folder's
    marker), and every earlier copy of the folder kept beside it (``.replaced-``,
    ``.cancelled-``). Once the cycle is purged, what is found here again is a leftover
    (an internal report made since, a file that was open): the next purge removes it."""
    folder = ws.cycle_dir(name)
    files = [p for p in _files_in(folder) if not _published(ws, name, folder, p)]
    for copy in (*folder.parent.glob(f"{folder.name}.replaced-*"),
                 *folder.parent.glob(f"{folder.name}.cancelled-*")):
        files += _files_in(copy)
    return tuple(sorted(files))


def workshop_files(ws: Workspace, name: str,
                   folders: frozenset[str] = frozenset()) -> tuple[Path, ...]:
    """A workshop's folder (its case pack and grading workbooks), and earlier copies: under
    its name as ``layout`` makes it, and under the name qaudit gave it before
    (``_legacy_slug``), unless that is now another workshop's folder (``folders``: every
    workshop's, as ``values.cycle_key`` gives it)."""
    base = ws.root / layout.WORKSHOPS
    current = layout.workshop_folder(base, name)
    legacy = _legacy_slug(name)
    places = [current]
    if legacy and legacy.casefold() not in folders | {current.name.casefold()}:
        places.append(base / legacy)
    files: set[Path] = set()
    for folder in places:
        files.update(_files_in(folder))
        for copy in base.glob(f"{folder.name}.replaced-*"):  # a slug has no glob characters
            files.update(_files_in(copy))
    return tuple(sorted(files))


#: The names Windows reserves that the folder names of earlier versions avoided.
_LEGACY_RESERVED = re.compile(r"CON|PRN|AUX|NUL|(?:COM|LPT)[1-9]", re.IGNORECASE)


def _legacy_slug(name: str) -> str:
    """A workshop's folder name as qaudit made it before names were folded and cut to
    ``values.SLUG_MAX`` (a workshop's name may be 80 characters, and have accents: 'Été'
    made 't'): a workshop made then is still found, and purged, under that name."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
    return f"cycle-{slug}" if _LEGACY_RESERVED.fullmatch(slug) else slug


def _published(ws: Workspace, name: str, folder: Path, path: Path) -> bool:
    """A published report (no person in it) stays, and so does the folder's marker: every
    file of the reports folder but the cycle's internal reports (``_internal``)."""
    return path == folder / MARKER or (
        path.parent == layout.report_folder(folder) and not _internal(ws, name, path.name))


def _internal(ws: Workspace, cycle: str, file_name: str) -> bool:
    """Whether a file of the cycle's reports folder is one of its internal reports, or a
    chart of one, by the names ``layout`` gives them (the quadrants' as the settings name
    them): a cycle or quadrant named "... internal" has published reports whose names
    hold "-internal" too."""
    charts = [layout.chart_file("", chart) for chart in layout.CHARTS]  # "-grades.svg"
    stem = next((file_name.removesuffix(c) for c in charts if file_name.endswith(c)),
                Path(file_name).stem)
    return stem in {layout.summary_stem(cycle, internal=True),
                    layout.highlights_stem(cycle, internal=True),
                    layout.deep_dive_stem(cycle, internal=True),
                    *(layout.quadrant_stem(cycle, q, internal=True)
                      for q in ws.settings.quadrants)}


def _files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []


def size(files: Iterable[Path]) -> int:
    total = 0
    for path in files:
        try:
            total += path.stat().st_size
        except OSError:  # gone meanwhile: nothing to count
            continue
    return total


def files_left(ws: Workspace, purged: Iterable[Purged],
               files_of: Callable[[Workspace, str], tuple[Path, ...]]) -> list[Path]:
    """What is found again of cycles (or workshops) purged before: files left then, or
    made since."""
    return [p for done in purged for p in files_of(ws, done.name)]


def remove_files(files: Iterable[Path], ws: Workspace, keep: set[Path]) -> list[Path]:
    """Remove each file, then the folders it leaves empty inside the workspace (never the
    workspace's own folders nor those in ``keep``); returns the files that could not be
    removed."""
    keep = keep | {ws.root, *(ws.root / f for f in (layout.CYCLES, layout.REPORTS,
                                                   layout.WORKSHOPS))}
    failed: list[Path] = []
    for path in files:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            failed.append(path)
            continue
        folder = path.parent
        while (folder not in keep and ws.root in folder.parents and folder.is_dir()
               and not any(folder.iterdir())):
            folder.rmdir()
            folder = folder.parent
    return failed
