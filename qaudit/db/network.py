"""Whether the workspace lives on a network share, and what qaudit does about it.

SQLite's locking is only as good as the file system's; on a council network drive
(CIFS/SMB, NFS) it is weaker than on a local disk, and the SQLite authors warn that WAL
mode does not work there at all. qaudit keeps the rollback journal (journal mode DELETE,
SQLite's default, never WAL), waits for a busy database (``store.BUSY_SECONDS``) and
leaves a note of who holds the workspace (``db.holders``). ``share_note`` says so, once
per process: looking at the mounts is cheap, but no command should do it twice.
"""

from __future__ import annotations

import ntpath
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

#: The Linux file system types of network shares, and what to call them.
NETWORK_TYPES = {"cifs": "CIFS/SMB", "smb3": "CIFS/SMB", "smbfs": "CIFS/SMB",
                 "nfs": "NFS", "nfs4": "NFS"}
MOUNTS = Path("/proc/self/mounts")
DRIVE_REMOTE = 4  # GetDriveTypeW's answer for a mapped network drive


def _unescape(field: str) -> str:
    r"""A mounts field as the path it names: spaces and tabs are written ``\040``, ``\011``."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def linux_share(folder: str, mounts: str) -> str | None:
    """'CIFS/SMB' or 'NFS' where the longest mount point holding ``folder`` (absolute) is
    a network share, in the text of ``/proc/self/mounts``; None otherwise."""
    best, kind = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue  # a damaged line names nothing
        point = _unescape(fields[1]).rstrip("/") or "/"
        inside = folder == point or folder.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, NETWORK_TYPES.get(fields[2].lower())
    return kind


def windows_share(folder: str, drive_type: Callable[[str], int]) -> str | None:
    r"""'SMB' for a UNC path (``\\server\share``) or a drive letter that ``drive_type``
    (``GetDriveTypeW``) says is remote; None otherwise."""
    drive = ntpath.splitdrive(folder)[0]
    if drive.startswith(("\\\\", "//")):
        return "SMB"
    if drive and drive_type(drive + "\\") == DRIVE_REMOTE:
        return "SMB"
    return None


def _get_drive_type(root: str) -> int:
    import ctypes

    return int(ctypes.windll.kernel32.GetDriveTypeW(root))  # type: ignore[attr-defined]


def share_kind(folder: Path, platform: str = sys.platform) -> str | None:
    """What kind of network share ``folder`` is on, or None for a local disk (or where it
    cannot be told)."""
    absolute = str(folder.absolute())
    if platform == "win32":
        return windows_share(absolute, _get_drive_type)
    try:
        mounts = MOUNTS.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return linux_share(absolute, mounts)


def describe(kind: str) -> str:
    """What a share means for the officers who use the workspace on it."""
    return (f"This workspace is on a network share ({kind}). qaudit keeps SQLite's rollback"
            " journal there (never WAL, which does not work on a share), waits for another"
            " officer's command to finish, and says who holds the workspace when it is busy."
            " Keep one officer writing at a time, and back up (`qaudit backup`) often.")


@lru_cache(maxsize=8)
def share_note(folder: Path) -> str:
    """``describe`` for a workspace on a share, else ''; worked out once per process."""
    kind = share_kind(folder)
    return describe(kind) if kind else ""
