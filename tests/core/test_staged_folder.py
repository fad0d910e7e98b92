"""A folder of outputs is replaced whole (``files.staged_folder``): the old one set aside
and kept for a cycle's workbooks, or deleted once the new one is in place for an export
(a copy kept would be one more copy of personal data); a failure changes nothing. Scratch
folders of a qaudit that was killed are removed, on Windows too."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

import pytest

from qaudit.files import MARKER, clean_stale_scratch, made_by_qaudit, staged_folder

#: A name that is also a glob pattern, and an earlier copy set aside beside it.
NAME = "qa-data [1]"
EARLIER = f"{NAME}.replaced-20250101T000000Z"


def fill(folder: Path, text: str) -> None:
    with staged_folder(folder, keep_replaced=False) as scratch:
        (scratch / "allocations.csv").write_text(text, encoding="utf-8")


def listing(parent: Path) -> dict[str, str]:
    """Every folder in ``parent`` and what its file holds."""
    return {p.name: (p / "allocations.csv").read_text(encoding="utf-8")
            for p in parent.iterdir() if (p / "allocations.csv").is_file()}


def test_a_cycles_folder_replaced_is_kept_beside_the_new_one(tmp_path: Path) -> None:
    target = tmp_path / "C1"
    for text in ("old", "new"):
        with staged_folder(target) as scratch:
            (scratch / "allocations.csv").write_text(text, encoding="utf-8")
    found = listing(tmp_path)
    assert found.pop("C1") == "new"
    ((kept, text),) = found.items()
    assert kept.startswith("C1.replaced-") and text == "old"


def test_an_export_replaced_is_deleted_once_the_new_one_is_in_place(tmp_path: Path) -> None:
    target = tmp_path / NAME
    fill(target, "old")
    (tmp_path / EARLIER).mkdir()  # set aside by an earlier qaudit: not this run's to delete
    (tmp_path / EARLIER / "allocations.csv").write_text("earlier", encoding="utf-8")
    fill(target, "new")
    assert listing(tmp_path) == {NAME: "new", EARLIER: "earlier"}
    assert made_by_qaudit(target)


@pytest.mark.parametrize("keep", [True, False])
def test_a_failure_leaves_the_old_folder_and_nothing_else(tmp_path: Path, keep: bool) -> None:
    target = tmp_path / NAME
    fill(target, "old")
    with pytest.raises(OSError, match="No space"), staged_folder(target, keep) as scratch:
        (scratch / "allocations.csv").write_text("half", encoding="utf-8")
        raise OSError(28, "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]
    assert listing(tmp_path) == {NAME: "old"}


def test_the_marker_says_what_the_folder_is(tmp_path: Path) -> None:
    fill(tmp_path / "export", "rows")
    said = (tmp_path / "export" / MARKER).read_text(encoding="utf-8")
    assert said.startswith("made by qaudit") and "export" in said


class FakeKernel32:
    """Windows' kernel32 as qaudit asks it whether a process runs: the processes by id with
    their exit codes (259, STILL_ACTIVE, while one runs); the ids it may not open (access
    denied, error 5); any other id is no process's (error 87)."""

    def __init__(self, codes: dict[int, int], denied: set[int]) -> None:
        self.codes, self.denied = codes, denied
        self.last_error = 0
        self.open: set[int] = set()

    def OpenProcess(self, access: int, inherit: bool, pid: int) -> int:
        if pid in self.codes:
            self.open.add(pid)
            return pid
        self.last_error = 5 if pid in self.denied else 87
        return 0

    def GetExitCodeProcess(self, handle: int, code: Any) -> int:
        code.contents.value = self.codes[handle]
        return 1

    def CloseHandle(self, handle: int) -> int:
        self.open.remove(handle)
        return 1


def test_on_windows_scratch_folders_of_processes_gone_are_removed_and_no_process_is_signalled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows ``os.kill(pid, 0)`` probes nothing (it sends Ctrl+C, or terminates the
    process): Windows itself is asked. A folder is kept while its process runs, or when
    Windows will not say (another user's process)."""
    kernel32 = FakeKernel32({111: 259, 222: 0}, denied={444})
    monkeypatch.setattr(ctypes, "WinDLL", lambda name, use_last_error: kernel32, raising=False)
    monkeypatch.setattr(ctypes, "get_last_error", lambda: kernel32.last_error, raising=False)

    def no_signal(pid: int, sig: int) -> None:
        raise AssertionError(f"os.kill({pid}, {sig}) on Windows")

    monkeypatch.setattr(os, "kill", no_signal)
    for pid, what in ((111, "running"), (222, "exited"), (333, "gone"), (444, "denied")):
        (tmp_path / f".qaudit-{pid}-{what}").mkdir()
    with monkeypatch.context() as windows:
        windows.setattr(os, "name", "nt")
        removed = clean_stale_scratch(tmp_path)
    assert sorted(p.name for p in removed) == [".qaudit-222-exited", ".qaudit-333-gone"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".qaudit-111-running",
                                                          ".qaudit-444-denied"]
    assert kernel32.open == set()  # every handle opened was closed
