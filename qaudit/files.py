"""Writing files so that nobody ever finds half of one.

Every file qaudit writes for people (workbooks, reports, settings, the analysts' data
set) is written beside its target under a temporary name and renamed into place, so a
crash or a full disk leaves either the old file or the new one, never a torn one. A
folder of outputs (a cycle's or a workshop's workbooks, a CSV export) is written whole
into a scratch folder and moved into place the same way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from qaudit.layout import set_aside


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` to write to; renamed onto ``target`` if the block
    succeeds, removed if it fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically, through the temporary file's own descriptor
    (one open, not two as with :func:`atomic_path`: it counts when a run writes hundreds)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def write_text(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_bytes(target, text.encode("utf-8"))


#: Every folder of outputs qaudit makes holds this file: a folder without it is not
#: qaudit's to move or replace.
MARKER = ".qaudit-folder"
_MARKER_TEXT = ("made by qaudit: a folder of its outputs (a cycle's or a workshop's workbooks, or"
                " an export)\n")
_SCRATCH = ".qaudit-"


def made_by_qaudit(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def clean_stale_scratch(parent: Path) -> list[Path]:
    """Remove scratch folders left by a qaudit that was killed (they hold personal data):
    those whose process is gone. Returns what was removed."""
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for folder in parent.glob(f"{_SCRATCH}*"):
        pid = folder.name.removeprefix(_SCRATCH).split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


#: Windows: the right to ask a process for its exit code; the code of one still running; and
#: what OpenProcess says of a process id no process has (ERROR_INVALID_PARAMETER).
_QUERY_LIMITED_INFORMATION = 0x1000
_STILL_ACTIVE = 259
_NO_SUCH_PROCESS = 87


def process_alive(pid: int) -> bool:
    """Whether a process of this computer still runs (when unsure, yes: what it holds is
    kept): the one that made a scratch folder, or that holds the workspace."""
    if pid == os.getpid():
        return True
    if os.name == "nt":
        return _alive_on_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is not ours, or the platform cannot tell: keep it
        return True
    return True


def _alive_on_windows(pid: int) -> bool:
    """Asked of Windows itself: ``os.kill`` probes nothing there (signal 0 is CTRL_C_EVENT,
    a Ctrl+C sent to a console's process group; any other signal terminates the process).
    A process id that cannot be opened because no process has it is gone; one that can be
    opened runs until it has an exit code."""
    import ctypes

    # WinDLL and get_last_error exist on Windows alone, where type checkers see them.
    kernel32 = ctypes.WinDLL(  # type: ignore[attr-defined,unused-ignore]
        "kernel32", use_last_error=True)
    handle = kernel32.OpenProcess(_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        last_error: int = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
        return last_error != _NO_SUCH_PROCESS
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.pointer(code)):
            return True
        return code.value == _STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


@contextmanager
def staged_folder(target: Path, keep_replaced: bool = True) -> Iterator[Path]:
    """A scratch folder beside ``target`` to fill; moved into place if the block succeeds,
    removed if it fails. Stale scratch folders of killed runs are removed first.

    An existing ``target`` (which must be qaudit's own) is set aside beside it as
    ``<name>.replaced-<UTC time>`` (``layout.set_aside``): kept, as a redrawn cycle's
    earlier workbooks are (its draw stays in the database, marked replaced); or, with
    ``keep_replaced=False``, deleted once the new folder is in place, where a kept copy
    would only be one more copy of personal data (an export)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_scratch(target.parent)
    scratch = Path(tempfile.mkdtemp(prefix=f"{_SCRATCH}{os.getpid()}-", dir=target.parent))
    (scratch / MARKER).write_text(_MARKER_TEXT)
    try:
        yield scratch
        replaced = (target.rename(set_aside(target, "replaced", datetime.now(UTC)))
                    if target.exists() else None)
        scratch.rename(target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if replaced is not None and not keep_replaced:
        shutil.rmtree(replaced, ignore_errors=True)
