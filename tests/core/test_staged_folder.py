"""A folder of outputs is replaced whole (``files.staged_folder``): the old one set aside
and kept for a cycle's workbooks, or deleted once the new one is in place for an export
(a copy kept would be one more copy of personal data); a failure changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from qaudit.files import MARKER, made_by_qaudit, staged_folder

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
