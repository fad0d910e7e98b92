"""A workbook laid out once and written many times, each copy with a few cells of its own.

A cycle writes hundreds of forms of a handful of layouts, and openpyxl takes tens of
milliseconds to save each, nearly all of it walking its object model, although one case's
file differs from the next only in a few cells. A :class:`BookTemplate` saves the layout
once and keeps the parts of its zip archive; each copy is the saved parts with the copy's
cells put into the XML of the sheets that hold them (as :func:`cells.cell_xml` writes a
cell: the rule of :func:`cells.put`, text never a formula), and its own reference in the
footer of each printed page (a sheet's :data:`FOOTER`, as :func:`paper.page_reference` puts
it: one line, ``&`` doubled, XML-escaped).

The parts no copy changes (styles, theme, the workbook and its names, the unchanged
sheets) are deflated once, with the template, and each copy's archive is written here
around them: ``zipfile`` can only deflate a part again for every file.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from openpyxl import Workbook

from qaudit.workbooks.cells import cell_xml, put
from qaudit.workbooks.paper import page_reference, page_text

#: A cell a copy fills: (sheet title, reference such as "C6"), or (sheet title, FOOTER).
CellKey = tuple[str, str]
#: Where a key names a sheet's page footer (its left part, the copy's reference), not a cell.
FOOTER = "footer"
#: What a template's footers hold where each copy's reference goes, found in the footer's
#: XML (the zero-width spaces as characters or as references, as lxml writes them), which
#: no footer text can hold: :func:`paper.page_text` keeps no zero-width space.
_FOOTER_SLOT = "\u200bpage reference\u200b"
_ZERO_WIDTH = "(?:\u200b|&#8203;|&#x200[bB];)"
_IN_FOOTER = re.compile(f"{_ZERO_WIDTH}page reference{_ZERO_WIDTH}")
_FOOTER = re.compile(r"<oddFooter>.*?</oddFooter>", re.DOTALL)
#: What a template's date cell holds until a copy's date is put in (text cells hold "").
BLANK_DATE = date(2000, 1, 1)
_STYLE = re.compile(r'\bs="(\d+)"')


class BookTemplate:
    """A workbook saved once; :meth:`write` makes a copy with its own ``cells``.

    The workbook must already hold every one of ``cells`` (a placeholder of the type the
    copies will hold: a date cell's style carries the date format), so that each is in the
    saved XML with the style it keeps."""

    def __init__(self, wb: Workbook, cells: Collection[CellKey]) -> None:
        footers = {title: wb[title].oddFooter.left.text for title, ref in cells if ref == FOOTER}
        for title in footers:
            wb[title].oddFooter.left.text = _FOOTER_SLOT
        buffer = io.BytesIO()
        wb.save(buffer)
        for title, text in footers.items():  # the workbook as it was given
            wb[title].oddFooter.left.text = text
        with zipfile.ZipFile(buffer) as archive:
            members = {info.filename: archive.read(info) for info in archive.infolist()}
        self.cells = frozenset(cells)
        sheets = {}
        for ws in wb.worksheets:
            keys = [key for key in self.cells if key[0] == ws.title]
            if keys:
                part = ws.path.lstrip("/")
                sheets[part] = _cut(part, members[part].decode("utf-8"), keys)
        self._parts: list[_Part | _Sheet] = [
            sheets.get(name) or _Part.deflated(name, data) for name, data in members.items()
        ]

    def write(self, path: Path, values: Mapping[CellKey, str | date]) -> None:
        """Write a copy holding ``values`` (every template cell, and only those)."""
        if values.keys() != self.cells:
            raise ValueError(f"a copy fills exactly the template's cells; got"
                             f" {sorted(values.keys() ^ self.cells)} wrong")
        parts = [p if isinstance(p, _Part) else _Part.deflated(p.name, p.render(values))
                 for p in self._parts]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_archive(parts, datetime.now()))


def fill_cells(wb: Workbook, values: Mapping[CellKey, str | date]) -> Workbook:
    """Put ``values`` into ``wb`` with :func:`cells.put`: a layout's placeholders before it
    is saved as a template, or a whole copy in openpyxl's object model."""
    for (title, ref), value in values.items():
        if ref == FOOTER:
            page_reference(wb[title], str(value))
        else:
            put(wb[title], ref, value)
    return wb


@dataclass(frozen=True)
class _Slot:
    """Where one filled cell goes in its sheet's XML, and the style it keeps."""

    key: CellKey
    style: str


@dataclass(frozen=True)
class _Sheet:
    """A sheet's XML cut around the cells a copy fills: text, slot, text, ..., text."""

    name: str
    texts: tuple[str, ...]
    slots: tuple[_Slot, ...]

    def render(self, values: Mapping[CellKey, str | date]) -> bytes:
        parts = [self.texts[0]]
        for slot, text in zip(self.slots, self.texts[1:], strict=True):
            value = values[slot.key]
            parts.append(xml_escape(page_text(str(value))) if slot.key[1] == FOOTER
                         else cell_xml(slot.key[1], value, slot.style))
            parts.append(text)
        return "".join(parts).encode("utf-8")


def _cut(name: str, xml: str, keys: list[CellKey]) -> _Sheet:
    """Cut the sheet ``name``'s XML around the ``<c>`` element of each of ``keys`` (each must be
    there, once)."""
    found = []
    for key in keys:
        if key[1] == FOOTER:
            footer = _FOOTER.search(xml)
            slots = list(_IN_FOOTER.finditer(footer[0])) if footer else []
            if footer is None or len(slots) != 1:
                raise ValueError(f"the footer of sheet {key[0]!r} is not in the template once")
            found.append((footer.start() + slots[0].start(), footer.start() + slots[0].end(),
                          _Slot(key, "")))
            continue
        pattern = re.compile(rf'<c r="{key[1]}"(?=[\s/>])([^>]*?)(?:/>|>.*?</c>)', re.DOTALL)
        matches = list(pattern.finditer(xml))
        if len(matches) != 1:
            raise ValueError(f"cell {key[1]} of sheet {key[0]!r} is in the template"
                             f" {len(matches)} times, not once")
        style = _STYLE.search(matches[0][1])
        found.append((matches[0].start(), matches[0].end(), _Slot(key, style[1] if style else "")))
    found.sort(key=lambda f: f[0])
    texts, at = [], 0
    for start, end, _ in found:
        texts.append(xml[at:start])
        at = end
    texts.append(xml[at:])
    return _Sheet(name, texts=tuple(texts), slots=tuple(slot for _, _, slot in found))


# --- the zip archive ------------------------------------------------------------------------
# As zipfile writes a part (ZIP_DEFLATED at zlib's default level, made on Unix, read and
# write for the owner), without the size limits a workbook never comes near (ZIP64).

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_VERSION = 20  # 2.0: deflate
_MADE_ON_UNIX = 3 << 8
_DEFLATED = 8
_UTF8_NAME = 0x800
_READ_WRITE = 0o600 << 16


@dataclass(frozen=True)
class _Part:
    """One part of an archive, deflated: its name, CRC-32, size and deflated bytes."""

    name: str
    crc: int
    size: int
    data: bytes

    @classmethod
    def deflated(cls, name: str, data: bytes) -> _Part:
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        return cls(name, zlib.crc32(data), len(data), compressor.compress(data)
                   + compressor.flush())


def _archive(parts: Sequence[_Part], when: datetime) -> bytes:
    """A zip archive of ``parts``, each dated ``when``."""
    dos_time = when.hour << 11 | when.minute << 5 | when.second // 2
    dos_date = (when.year - 1980) << 9 | when.month << 5 | when.day
    body: list[bytes] = []
    directory: list[bytes] = []
    offset = 0
    for part in parts:
        name = part.name.encode("utf-8")
        flags = 0 if part.name.isascii() else _UTF8_NAME
        common = (flags, _DEFLATED, dos_time, dos_date, part.crc, len(part.data), part.size,
                  len(name))
        local = _LOCAL.pack(0x04034B50, _VERSION, *common, 0)
        directory.append(_CENTRAL.pack(0x02014B50, _MADE_ON_UNIX | _VERSION, _VERSION, *common,
                                       0, 0, 0, 0, _READ_WRITE, offset) + name)
        body += (local, name, part.data)
        offset += len(local) + len(name) + len(part.data)
    central = b"".join(directory)
    end = _END.pack(0x06054B50, 0, 0, len(parts), len(parts), len(central), offset, 0)
    return b"".join(body) + central + end
