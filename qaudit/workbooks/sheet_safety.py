"""What a reader of an untrusted spreadsheet must pass first: the file's kind, the workbook's
safety, the text's encoding.

A case export and a staff list are untrusted input, and whatever is wrong with one ends in
one ``ExportError`` that says what the file is and what to do: never a crash, never memory
exhausted, never a library's own error text (the staff list's reader words them for a staff
list). So a file's kind is sniffed from its bytes, not its name; a workbook is checked
before any parser sees it (see "workbook safety" below); what calamine raises all the same
is put into words (``calamine_errors``); and CSV text is decoded only when its encoding is
certain (``decode``).
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import hashlib
import html
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from qaudit.errors import ExportError
from qaudit.workbooks.sheet_extents import (
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_ROWS,
    Cells,
    Stretched,
    Unsafe,
    column_letters,
    tag_attributes,
)

AGAIN = "Export the report again from the case management system."

# --- file sniffing -------------------------------------------------------------------

_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_TEXT_SUFFIXES = (".csv", ".txt", ".tsv")


def file_kind(path: Path) -> str:
    """"xlsx" or "csv", from the file's first bytes as much as its name; a refusal saying
    what the file is when it is neither (a folder, an old .xls, a workbook named .csv)."""
    if not path.exists():
        raise ExportError(f"{path} does not exist. Check the path and try again.")
    if path.is_dir():
        raise ExportError(f"{path} is a folder. Give the export file itself (.xlsx or .csv).")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    if not head:
        raise ExportError(f"{path} is empty. {AGAIN}")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ExportError(
            f"{path} is an encrypted (password-protected) or old-style .xls workbook. Open it"
            " in Excel, remove any password (File > Info > Protect Workbook), and save it as"
            " an .xlsx workbook."
        )
    if head.startswith(b"PK\x03\x04"):
        if suffix in _WORKBOOK_SUFFIXES:
            return "xlsx"
        if suffix == ".xls":
            raise ExportError(
                f"{path} is an .xlsx workbook with an .xls name. Rename it to end in .xlsx"
                " and try again."
            )
        if suffix in _TEXT_SUFFIXES:
            raise ExportError(
                f"{path} is a workbook (a zipped file), not CSV text. If it is an Excel"
                " workbook, rename it to end in .xlsx; otherwise export the report again"
                " as .csv."
            )
    if suffix in {*_WORKBOOK_SUFFIXES, ".xls"}:
        raise ExportError(
            f"{path} is not an Excel workbook, whatever its name says. {AGAIN[:-1]} as"
            " .xlsx or .csv."
        )
    if suffix not in _TEXT_SUFFIXES:
        raise ExportError(
            f"{path} has suffix {suffix or '(none)'!r}; qaudit reads .xlsx, .xlsm and .csv."
            " Save or export the report as one of those."
        )
    return "csv"


def sha256(path: Path) -> str:
    """The file's SHA-256, read a megabyte at a time: what identifies the file read."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def size_text(n: int) -> str:
    """A size in bytes as a person reads it in a refusal ("12 MB")."""
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GB"
    if n >= 1024**2:
        return f"{n / 1024**2:,.0f} MB" if n >= 10 * 1024**2 else f"{n / 1024**2:.1f} MB"
    return f"{max(n, 1) / 1024:,.0f} KB"


# --- workbook safety -----------------------------------------------------------------
#
# calamine (the parser under fastexcel, and under python-calamine, which lists the sheets)
# trusts a workbook. It inflates every part it reads, however large, and it holds a sheet
# as one dense block from its first to its last cell: one stray cell at
# XFD1048576 asks for 549 GB and aborts the process (a failed Rust allocation cannot be
# caught), one at ZZ200000 takes 5.6 GB. So before calamine opens an .xlsx, the archive
# is checked from its directory, and then every part is inflated once, as a stream, and
# the cell references in it checked (``sheet_extents``).

MAX_PARTS = 2_000  # a case export has about ten
MAX_EXPANDED_BYTES = 4 * 1024**3  # all the parts, inflated
MAX_EXPANSION_RATIO = 100  # a real export inflates about 10 times; a zip bomb 1,000
RATIO_FREE_BYTES = 64 * 1024**2  # inflating to less than this is harmless at any ratio
_CHUNK = 1 << 18  # inflated per step: small enough to reuse memory, large enough to scan


def _inflate(fh: IO[bytes], info: zipfile.ZipInfo) -> Iterator[bytes]:
    """One part of the archive, inflated a chunk at a time and held to its stated size."""
    fh.seek(info.header_offset)
    local = fh.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise Unsafe("is damaged (a part of it cannot be found)")
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    fh.seek(info.header_offset + 30 + name_length + extra_length)
    inflater = (
        zlib.decompressobj(-zlib.MAX_WBITS) if info.compress_type == zipfile.ZIP_DEFLATED
        else None
    )
    left, produced = info.compress_size, 0
    while left > 0 and not (inflater is not None and inflater.eof):
        data = fh.read(min(left, _CHUNK))
        if not data:
            break
        left -= len(data)
        while data:
            if inflater is None:
                out, data = data, b""
            else:
                try:
                    out = inflater.decompress(data, _CHUNK)
                except zlib.error as exc:
                    raise Unsafe("is damaged (a part of it is corrupted)") from exc
                data = inflater.unconsumed_tail
            produced += len(out)
            if produced > info.file_size:
                raise Unsafe(
                    "holds more data than its own directory states, which no spreadsheet"
                    " program writes"
                )
            if out:
                yield out
    if produced != info.file_size or (inflater is not None and not inflater.eof):
        raise Unsafe("is damaged (a part of it is cut short)")


def _check_archive(path: Path, size: int, infos: list[zipfile.ZipInfo]) -> None:
    names = {info.filename.lower() for info in infos}
    if not any(name.endswith("workbook.xml") for name in names):
        if any(name.endswith("workbook.bin") for name in names):
            what = "a binary Excel workbook (.xlsb). Open it in Excel and save it as .xlsx"
        elif "content.xml" in names:
            what = "an OpenDocument spreadsheet (.ods). Open it and save it as .xlsx"
        else:
            what = f"a zip file but not an Excel workbook. {AGAIN[:-1]} as .xlsx or .csv"
        raise ExportError(f"{path} is {what}.")
    if len(infos) > MAX_PARTS:
        raise ExportError(
            f"{path} holds {len(infos):,} parts, where a case export has about ten; qaudit"
            f" will not open it. {AGAIN}"
        )
    for info in infos:
        if info.flag_bits & 0x1:
            raise ExportError(
                f"{path} is encrypted (password-protected). Open it in Excel, remove the"
                " password (File > Info > Protect Workbook), save it, and try again."
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ExportError(
                f"{path} is compressed in a way Excel never uses, so it is not an export"
                f" qaudit can read. {AGAIN}"
            )
    expanded = sum(info.file_size for info in infos)
    if expanded > MAX_EXPANDED_BYTES or (
        expanded > RATIO_FREE_BYTES and expanded > MAX_EXPANSION_RATIO * max(size, 1)
    ):
        what, packed, inflated = "", size, expanded
    else:
        bombs = [i for i in infos if i.file_size > RATIO_FREE_BYTES
                 and i.file_size > MAX_EXPANSION_RATIO * max(i.compress_size, 1)]
        if not bombs:
            return
        what = f" (its part {bombs[0].filename})"
        packed, inflated = bombs[0].compress_size, bombs[0].file_size
    raise ExportError(
        f"{path}{what} would expand from {size_text(packed)} to {size_text(inflated)} when opened,"
        f" {inflated / max(packed, 1):,.0f} times its size. A real case export expands"
        " about ten times, so qaudit will not open this one (it looks like a 'zip bomb')."
        " If it came from the case management system, export the report again; if not,"
        " check where it came from."
    )


def _sheet_names(archive: zipfile.ZipFile) -> dict[str, str]:
    """Part name -> sheet name, read from the workbook for messages (best effort)."""

    def small(name: str) -> bytes:
        if archive.getinfo(name).file_size > 8 * 1024**2:
            raise ValueError(name)
        return archive.read(name)

    try:
        relations = small("xl/_rels/workbook.xml.rels")
        book = small("xl/workbook.xml")
    except (KeyError, ValueError, OSError, RuntimeError, zipfile.BadZipFile, zlib.error):
        return {}
    targets: dict[bytes, str] = {}
    for tag in re.findall(rb"<(?:\w+:)?Relationship\b([^>]*)>", relations):
        found = dict(tag_attributes(tag.removesuffix(b"/")))
        target = html.unescape(found.get(b"Target", b"").decode("utf-8", "replace"))
        part = target[1:] if target.startswith("/") else posixpath.normpath("xl/" + target)
        targets[found.get(b"Id", b"")] = part
    names: dict[str, str] = {}
    for tag in re.findall(rb"<(?:\w+:)?sheet\b([^>]*)>", book):
        found = {k.rpartition(b":")[2]: v for k, v in tag_attributes(tag.removesuffix(b"/"))}
        if b"id" in found and found[b"id"] in targets:
            sheet = html.unescape(found.get(b"name", b"").decode("utf-8", "replace"))
            names[targets[found[b"id"]]] = sheet
    return names


def _stretched(path: Path, sheet: str | None, exc: Stretched) -> ExportError:
    named = f"sheet {sheet!r}" if sheet else "one of its sheets"
    where = f"{path}: {named} has a cell at {exc.ref}"
    if exc.rows > MAX_ROWS or exc.cols > 16_384:
        return ExportError(
            f"{where}, beyond the last row or column Excel has, so the file is damaged or was"
            f" not written by a spreadsheet program. {AGAIN}"
        )
    if exc.cols > MAX_COLUMNS:
        why = (
            f"reaches column {column_letters(exc.cols)}, where a case export has no more than"
            f" {MAX_COLUMNS} columns"
        )
    else:
        why = (
            f"makes the sheet {exc.rows:,} rows by {exc.cols:,} columns"
            f" ({exc.rows * exc.cols:,} cells), more than the {MAX_CELLS:,} qaudit reads"
        )
    return ExportError(
        f"{where} that {why}. Something far from the data (a stray value or formatting)"
        " stretches the sheet: in Excel press Ctrl+End to find the last cell, delete the rows"
        " and columns beyond the data, save, and try again; or export the report again."
    )


def check_workbook(path: Path) -> None:
    """Refuse a workbook calamine could not open safely, before it opens it."""
    damaged = ExportError(
        f"{path} is damaged: it is not a complete Excel workbook (it may have been cut short"
        f" while copying or downloading). {AGAIN}"
    )
    try:
        size = path.stat().st_size
        with zipfile.ZipFile(path) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
            _check_archive(path, size, infos)
            with path.open("rb") as fh:
                for info in infos:
                    try:
                        Cells().check(functools.partial(_inflate, fh, info))
                    except Stretched as exc:
                        sheet = _sheet_names(archive).get(info.filename)
                        raise _stretched(path, sheet, exc) from None
                    except Unsafe as exc:
                        raise ExportError(
                            f"{path} {exc} (in its part {info.filename}), so qaudit will not"
                            " open it. Export the report again, or open it in Excel and save"
                            " it as a new .xlsx workbook."
                        ) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, struct.error, OSError,
            ValueError, OverflowError, NotImplementedError) as exc:
        raise damaged from exc


@contextlib.contextmanager
def calamine_errors(path: Path) -> Iterator[None]:
    """Whatever calamine raises, as an ExportError that says what to do (not its own text)."""
    from python_calamine import PasswordError

    try:
        yield
    except MemoryError as exc:
        raise ExportError(
            f"{path} is too large to read in the memory this computer has free. Close other"
            " programs and try again, or export a shorter date range."
        ) from exc
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except PasswordError as exc:
        raise ExportError(
            f"{path} is password-protected. Open it in Excel, remove the password (File >"
            " Info > Protect Workbook), save it, and try again."
        ) from exc
    except BaseException as exc:  # calamine's errors, and a Rust panic (a BaseException)
        raise ExportError(
            f"{path} is damaged or was not written by a spreadsheet program: its contents"
            " cannot be read as a workbook. Open it in Excel and save it again as .xlsx, or"
            " export the report again."
        ) from exc


# --- CSV text -------------------------------------------------------------------------

_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
SAVE_AS_UTF8 = (
    "Open it in Excel and save it as 'CSV UTF-8 (Comma delimited)', or export the report"
    " again."
)


def _utf16_without_mark(sample: bytes) -> str | None:
    """UTF-16 text saved without a byte-order mark shows as every other byte zero."""
    even, odd = sample[0::2], sample[1::2]
    if len(odd) < 8:
        return None
    if odd.count(0) > 0.6 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.6 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def decode(raw: bytes, path: Path) -> str:
    """The text of a CSV file: UTF-8, UTF-16 (Excel's 'Unicode text') or Windows-1252.

    A file that is partly UTF-8 and partly not (lines pasted in from elsewhere) is refused:
    read either way, some of its names would be silently garbled.
    """
    utf16 = (
        "utf-16" if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        else _utf16_without_mark(raw[:4096])
    )
    if utf16:
        try:
            return raw.decode(utf16)
        except UnicodeDecodeError as exc:
            raise ExportError(
                f"{path} looks like UTF-16 ('Unicode') text but is not valid UTF-16 (it may be"
                f" cut short). {SAVE_AS_UTF8}"
            ) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if _UTF8_SEQUENCE.search(raw):
            line = raw.count(b"\n", 0, exc.start) + 1
            raise ExportError(
                f"{path} mixes text encodings: some lines are UTF-8 and line {line} is not (it"
                " is in another encoding, such as Windows-1252), so names like José would"
                f" come out garbled whichever way it is read. {SAVE_AS_UTF8}"
                " If lines were added by hand, check the names on them afterwards."
            ) from exc
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
