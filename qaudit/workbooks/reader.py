"""Opening a returned form safely and reading its named cells and hidden meta sheet.

A returned workbook is untrusted input. Before any XML is parsed the archive is checked
(size, number of entries, how far it would expand); openpyxl then parses with
defusedxml, which refuses entity tricks. Cells are read by their defined names, so a
user who inserted rows above the questions moves nothing that matters.
"""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl

from qaudit.errors import FormFileError, QauditError
from qaudit.workbooks.cells import META_SHEET, read_text

MAX_FILE_BYTES = 20 * 1024**2
MAX_ENTRIES = 400
MAX_EXPANDED_BYTES = 100 * 1024**2
MAX_EXPANSION_RATIO = 150

@dataclass(frozen=True)
class NamedCell:
    """One input cell found by its defined name, with what it holds."""

    name: str
    sheet: str
    ref: str
    value: Any
    data_type: str  # openpyxl: n, s, d, b, f (formula), e (error)


@dataclass
class RawForm:
    path: Path
    sha256: str
    meta: dict[str, str]
    cells: dict[str, NamedCell] = field(default_factory=dict)


def _check_archive(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        raise FormFileError("the file is empty; ask for the form to be sent again", "empty-file")
    if size > MAX_FILE_BYTES:
        raise FormFileError(
            f"the file is {size / 1024**2:.0f} MB, far larger than an audit form; send the"
            " form itself, without pasted pictures or extra sheets", "too-large"
        )
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FormFileError(
            "the workbook is password-protected (or an old .xls file); remove the password"
            " in Excel (File > Info > Protect Workbook) and send it again", "password-protected"
        )
    if not head.startswith(b"PK\x03\x04"):
        raise FormFileError("the file is not an Excel workbook; send the .xlsx form",
                            "not-a-workbook")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise FormFileError(f"the workbook is damaged ({exc}); send it again",
                            "damaged") from exc
    if len(entries) > MAX_ENTRIES:
        raise FormFileError(
            f"the workbook holds {len(entries)} parts, far more than an audit form; refused"
            " as unsafe", "unsafe"
        )
    expanded = sum(e.file_size for e in entries)
    if expanded > MAX_EXPANDED_BYTES or expanded > MAX_EXPANSION_RATIO * max(size, 1):
        raise FormFileError(
            f"the workbook would expand to {expanded / 1024**2:.0f} MB from"
            f" {size / 1024:.0f} KB on disk; refused as unsafe", "unsafe"
        )


def read_form(path: Path) -> RawForm:
    """Read a returned form's meta sheet and every defined-name cell, or raise FormFileError."""
    if not openpyxl.DEFUSEDXML:
        raise QauditError(
            "safe XML parsing is off (defusedxml missing or OPENPYXL_DEFUSEDXML set);"
            " reinstall qaudit and unset OPENPYXL_DEFUSEDXML"
        )
    _check_archive(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about features it drops
            wb = openpyxl.load_workbook(path, data_only=False, keep_links=False)
    except Exception as exc:  # damaged parts, forbidden XML entities, unknown content
        raise FormFileError(
            f"the workbook cannot be read ({type(exc).__name__}: {exc}); send it again",
            "damaged",
        ) from exc
    if META_SHEET not in wb.sheetnames:
        raise FormFileError(
            "this is not a qaudit form (its hidden identification sheet is missing); use"
            " the form that was issued for the case", "not-a-form"
        )
    meta: dict[str, str] = {}
    for key, value, *_ in wb[META_SHEET].iter_rows(values_only=True):
        if isinstance(key, str):
            meta[key] = "" if value is None else read_text(str(value))
    cells: dict[str, NamedCell] = {}
    for name, definition in wb.defined_names.items():
        for sheet, ref in definition.destinations:
            if sheet not in wb.sheetnames or ":" in ref:
                continue
            cell = wb[sheet][ref.replace("$", "")]
            value = read_text(cell.value) if isinstance(cell.value, str) else cell.value
            cells[name] = NamedCell(name, sheet, ref.replace("$", ""), value, cell.data_type)
            break
    wb.close()
    return RawForm(path, digest, meta, cells)
