"""Hostile and careless case exports: each ends in one clear ExportError, never a crash.

Every file is built here, small, in a temporary folder. A sheet that would make
python-calamine ask for gigabytes (or abort the whole process, as a failed Rust allocation
does) is read in a child process under a memory limit, so that a regression kills the
child and fails its test rather than taking the test run down with it.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from conftest import REPO
from qaudit.config import Settings
from qaudit.errors import ExportError
from qaudit.values import normalise_id
from qaudit.workbooks.case_export import read_export

SETTINGS = Settings()
HEADERS = ["Record ID", "Person ID", "Work Type", "Completed Date", "Worker ID", "Team",
           "Service Manager", "Quadrant"]
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#: Library internals a message must never show (nor the form reader's "send it again").
INTERNALS = ("XmlError", "at 0..0", "Cfb", "ZipError", "Unable to read workbook", "calamine",
             "BadZipFile", "File is not a zip file", "Bad CRC", "Error tokenizing",
             "Traceback", "send it again")


def human(message: str) -> str:
    """The message, checked to be free of library internals."""
    for word in INTERNALS:
        assert word not in message, f"{word!r} in {message!r}"
    return message


# --- building workbooks by hand ------------------------------------------------------


def cell(ref: str, text: object) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def data_rows(n: int = 3) -> list[list[str]]:
    return [[str(3_100_000 + i), str(400_000 + i), "MCA Assessment", "05/09/2026", "W20011",
             "Mid Team", "Hana Reid", "Mid"] for i in range(n)]


def rows_xml(n: int = 3) -> str:
    """A header row and n data rows, every cell at its own reference (as Excel writes)."""
    out = []
    for r, values in enumerate([HEADERS, *data_rows(n)], start=1):
        cells = "".join(cell(f"{chr(65 + i)}{r}", v) for i, v in enumerate(values))
        out.append(f'<row r="{r}">{cells}</row>')
    return "".join(out)


def sheet_xml(data: str, head: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">{head}'
            f"<sheetData>{data}</sheetData></worksheet>")


def workbook(path: Path, sheet: str | bytes, *, stored: bool = False,
             parts: dict[str, str | bytes] | None = None) -> Path:
    """A minimal .xlsx: one sheet 'Report' (and any extra parts), by zipfile alone."""
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    files: dict[str, str | bytes] = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="applicat'
            'ion/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" Cont'
            'entType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="ap'
            'plication/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Over'
            'ride PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlfo'
            'rmats-officedocument.spreadsheetml.worksheet+xml"/></Types>'),
        "_rels/.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<?xml version="1.0"?><workbook xmlns="{MAIN}" xmlns:r="{rel}"><sheets><sheet '
            'name="Report" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": sheet,
        **(parts or {}),
    }
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def openpyxl_export(path: Path, stray: str | None = None, extra_columns: int = 0) -> Path:
    """An export as openpyxl writes it (with a dimension), optionally with a stray value."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Report"
    ws.append(HEADERS + [f"Extra {i}" for i in range(extra_columns)])
    for values in data_rows(300 if extra_columns else 3):
        ws.append(values + [f"x{i}" for i in range(extra_columns)])
    if stray:
        ws[stray] = "oops"
    wb.save(path)
    return path


def declare_size(path: Path, name: str, size: int) -> None:
    """Rewrite the uncompressed size the archive states for one part (data unchanged)."""
    data = bytearray(path.read_bytes())
    # (signature, offset of the size, of the name's length, of the name): local, central
    for signature, size_at, length_at, name_at in ((b"PK\x03\x04", 22, 26, 30),
                                                   (b"PK\x01\x02", 24, 28, 46)):
        at = data.find(signature)
        while at >= 0:
            length = struct.unpack_from("<H", data, at + length_at)[0]
            if data[at + name_at:at + name_at + length] == name.encode():
                struct.pack_into("<I", data, at + size_at, size)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


# --- sheets that would stretch calamine: read in a child with a memory limit ---------

CHILD = r"""
import json, sys
try:  # a regression then fails the child fast, not the machine (no limit on Windows)
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (3 * 1024**3, 3 * 1024**3))
except (ImportError, ValueError, OSError):
    pass
from pathlib import Path
from qaudit.config import Settings
from qaudit.errors import ExportError
from qaudit.workbooks.case_export import read_export
for name in sys.argv[1:]:
    try:
        read_export(Path(name), Settings())
        outcome = ["read", ""]
    except ExportError as exc:
        outcome = ["ExportError", str(exc)]
    except BaseException as exc:
        outcome = [type(exc).__name__, str(exc)]
    print(json.dumps([name, *outcome]), flush=True)
"""

FAR = '<row r="{row}">' + cell("{ref}", "oops") + "</row>"
STRETCHED: dict[str, tuple[Callable[[Path], Path], str]] = {
    # Typed at Excel's last cell (openpyxl writes the dimension A1:XFD1048576): calamine
    # asked for 549 GB and the process aborted ("memory allocation ... failed", exit 134).
    "stray value at XFD1048576": (
        lambda p: openpyxl_export(p, "XFD1048576"), "has a cell at XFD1048576 that reaches"
        " column XFD"),
    # 200,000 rows by 702 columns: 5.6 GB.
    "stray value at ZZ200000": (
        lambda p: openpyxl_export(p, "ZZ200000"), "has a cell at ZZ200000 that reaches column"
        " ZZ"),
    "the dimension understates the cells": (
        lambda p: workbook(p, sheet_xml(rows_xml() + FAR.format(row=1048576, ref="XFD1048576"),
                                        head='<dimension ref="A1:H4"/>')),
        "XFD1048576"),
    "no dimension, as openpyxl's write-only mode and streaming writers write": (
        lambda p: workbook(p, sheet_xml(rows_xml() + FAR.format(row=1048576, ref="XFD1048576"))),
        "XFD1048576"),
    # calamine takes the last of two r attributes: a plain-looking cell placed far out.
    "a second r attribute": (
        lambda p: workbook(p, sheet_xml(
            rows_xml() + '<row r="9"><c r="A9" r="XFD1048576" t="inlineStr"><is><t>x</t>'
            "</is></c></row>")), "XFD1048576"),
    # Cells may leave out r: calamine counts them along the row, so 16,384 empty cells
    # carry the next one to column XFD.
    "cells without references counted out to XFD": (
        lambda p: workbook(p, sheet_xml(
            rows_xml() + "<row>" + "<c></c>" * 16_383 + '<c t="inlineStr"><is><t>x</t></is>'
            "</c></row>" + "<row></row>" * 3_000 + '<row><c t="inlineStr"><is><t>y</t></is>'
            "</c></row>")), "has a cell at XFD5 that reaches column XFD"),
    "200 columns by 300,000 rows, over the cell budget": (
        lambda p: workbook(p, sheet_xml(rows_xml() + FAR.format(row=300000, ref="GR300000"))),
        "300,000 rows by 200 columns (60,000,000 cells), more than the 50,000,000"),
    "a row past Excel's last": (
        lambda p: workbook(p, sheet_xml(rows_xml() + FAR.format(row=1048577, ref="A1048577"))),
        "beyond the last row or column Excel has"),
}


@pytest.fixture(scope="module")
def stretched_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    folder = tmp_path_factory.mktemp("stretched")
    paths = {name: build(folder / f"case{i}.xlsx")
             for i, (name, (build, _)) in enumerate(STRETCHED.items())}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, paths.values())], cwd=REPO,
        capture_output=True, text=True, timeout=600, check=False,
    )
    found = {Path(line[0]): line[1:] for line in map(json.loads, done.stdout.splitlines())}
    crashed = ["crashed", f"the child died (exit {done.returncode}): {done.stderr[-600:]}"]
    return {name: found.get(path, crashed) for name, path in paths.items()}


@pytest.mark.parametrize("case", list(STRETCHED))
def test_a_sheet_stretched_far_out_is_refused_without_a_crash(
    stretched_outcomes: dict[str, list[str]], case: str
) -> None:
    outcome, message = stretched_outcomes[case]
    assert outcome == "ExportError", message
    assert STRETCHED[case][1] in human(message)
    assert "sheet 'Report'" in message


# --- stretched but harmless, or perfectly normal: still read -------------------------


def test_a_wide_export_is_read(tmp_path: Path) -> None:
    # 68 columns: past 47 the row bound narrows and the start of the sheet is checked again.
    export = read_export(openpyxl_export(tmp_path / "wide.xlsx", extra_columns=60), SETTINGS)
    assert len(export.cases) == 300


def test_a_stray_value_within_the_limits_is_read(tmp_path: Path) -> None:
    export = read_export(openpyxl_export(tmp_path / "stray.xlsx", "IV40"), SETTINGS)
    assert len(export.cases) == 3
    assert set(export.unusable_counts) == {"blank row"}


def test_an_empty_formatted_cell_far_out_is_harmless(tmp_path: Path) -> None:
    sheet = sheet_xml(rows_xml() + '<row r="20"><c r="XFD20" s="0"/><c r="XFC20"></c></row>')
    assert len(read_export(workbook(tmp_path / "x.xlsx", sheet), SETTINGS).cases) == 3


def implicit(values: list[str], tag: str = "<row>") -> str:
    """A row whose cells leave out r: calamine counts them along the row."""
    return tag + "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in values) + "</row>"


@pytest.mark.parametrize("numbered", [False, True], ids=["rows without r", "rows with r"])
def test_cells_without_references_are_read(tmp_path: Path, numbered: bool) -> None:
    rows = [HEADERS, *data_rows(4)]
    xml = "".join(implicit(v, f'<row r="{i}">' if numbered else "<row>")
                  for i, v in enumerate(rows, start=1))
    sheet = sheet_xml(xml + '<row r="9"/>').replace("<worksheet", "<!-- written by X --><worksheet")
    export = read_export(workbook(tmp_path / "x.xlsx", sheet), SETTINGS)
    assert len(export.cases) == 4
    assert export.cases["source_row"].tolist() == [2, 3, 4, 5]


@pytest.mark.parametrize(
    "hidden",
    ["<!-- </row> -->", '<c t="inlineStr"><is x="</row>"><t>x</t></is></c>'],
    ids=["a comment", "a '<' inside an attribute value"],
)
def test_cells_without_references_beside_markup_calamine_skips_are_refused(
    tmp_path: Path, hidden: str
) -> None:
    # calamine skips a comment, and reads past a '<' inside a quoted value, so a "</row>"
    # there must not make the count of the row's cells start again.
    cells = [f"v{i}" for i in range(150)]
    row = implicit(cells).replace("</row>", hidden + implicit(cells, "")[:-6] + "</row>")
    sheet = sheet_xml(implicit(HEADERS) + implicit(data_rows(1)[0]) + row)
    with pytest.raises(ExportError, match="holds cells without references together with"):
        read_export(workbook(tmp_path / "x.xlsx", sheet), SETTINGS)


def prefixed(xml: str) -> str:
    return (xml.replace("<worksheet xmlns=", "<x:worksheet xmlns:x=")
            .replace("</worksheet>", "</x:worksheet>").replace("sheetData>", "x:sheetData>")
            .replace("<row", "<x:row").replace("</row>", "</x:row>").replace("<c ", "<x:c ")
            .replace("</c>", "</x:c>").replace("<is>", "<x:is>").replace("</is>", "</x:is>")
            .replace("<t>", "<x:t>").replace("</t>", "</x:t>"))


def test_a_sheet_written_with_a_namespace_prefix_is_read(tmp_path: Path) -> None:
    sheet = prefixed(sheet_xml(rows_xml()))
    assert "<x:c r=" in sheet
    assert len(read_export(workbook(tmp_path / "x.xlsx", sheet), SETTINGS).cases) == 3


@pytest.mark.parametrize("shift", [1, 2, 4, 6, 9, 14, 25, 40, 700])
@pytest.mark.parametrize("references", [True, False], ids=["with r", "without r"])
def test_a_row_cut_across_two_chunks_is_checked_whole(
    tmp_path: Path, references: bool, shift: int
) -> None:
    # A stored part is read _CHUNK bytes at a time: put the boundary inside a far cell (or
    # inside a row of 300 cells without references) and it must still be seen whole.
    from qaudit.workbooks.sheet_safety import _CHUNK

    if references:
        start = rows_xml()
        far = '<row r="4000">' + cell("IW4000", "x") + "</row>"
    else:
        start = implicit(HEADERS) + implicit(data_rows(1)[0])
        far = "<row>" + "<c><v>1</v></c>" * 300 + "</row>"
    head = sheet_xml(start + '<row r="9">' + cell("I9", "{}") + "</row>").split("</sheetData>")[0]
    fill = _CHUNK - shift - len(head.format("")) - (0 if references else 3_000)
    sheet = head.format("x" * fill) + far + "</sheetData></worksheet>"
    path = workbook(tmp_path / "x.xlsx", sheet, stored=True)
    with pytest.raises(ExportError, match=r"has a cell at (IW4000|KN10) that reaches column"):
        read_export(path, SETTINGS)


def test_a_cell_under_another_prefix_is_checked_too(tmp_path: Path) -> None:
    sheet = sheet_xml(rows_xml()).replace(
        "</sheetData>", f'<row r="9"><y:c xmlns:y="{MAIN}" r="XFD9" t="inlineStr"><y:is><y:t>x'
        "</y:t></y:is></y:c></row></sheetData>")
    with pytest.raises(ExportError, match="has a cell at XFD9 that reaches column XFD"):
        read_export(workbook(tmp_path / "x.xlsx", sheet), SETTINGS)


# --- the archive: zip bombs, parts that lie, entities, too many parts ----------------


@pytest.mark.parametrize("padded", [False, True], ids=["the whole archive", "one part"])
def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path, padded: bool) -> None:
    # 72 MB of spaces deflate to about 70 KB (1,000 times); padded with 1 MB that does not
    # compress, the archive as a whole expands only 70 times, but that one part still 1,000.
    path = tmp_path / "bomb.xlsx"
    parts: dict[str, str | bytes] = {"xl/media/image1.bin": os.urandom(1 << 20)} if padded else {}
    workbook(path, sheet_xml(rows_xml()), parts=parts)
    with (zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
          archive.open("xl/media/padding.xml", "w") as fh):
        for _ in range(72):
            fh.write(b" " * (1 << 20))
    with pytest.raises(ExportError) as caught:
        read_export(path, SETTINGS)
    message = human(str(caught.value))
    assert "when opened" in message and "zip bomb" in message
    what = r"\(its part xl/media/padding\.xml\)" if padded else r"bomb\.xlsx"
    assert re.search(what + r" would expand from \d\d KB to 72 MB when opened", message)


def test_a_workbook_that_states_gigabytes_is_refused(tmp_path: Path) -> None:
    path = workbook(tmp_path / "big.xlsx", sheet_xml(rows_xml()))
    declare_size(path, "xl/worksheets/sheet1.xml", 4_100_000_000)
    with pytest.raises(ExportError, match=r"to 3\.8 GB when opened"):
        read_export(path, SETTINGS)


def test_a_part_that_holds_more_than_it_states_is_refused(tmp_path: Path) -> None:
    path = workbook(tmp_path / "liar.xlsx", sheet_xml(rows_xml(50)))
    declare_size(path, "xl/worksheets/sheet1.xml", 1_000)
    with pytest.raises(ExportError) as caught:
        read_export(path, SETTINGS)
    assert "holds more data than its own directory states" in human(str(caught.value))


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;'
          '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;'
          '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')


@pytest.mark.parametrize("where", ["shared strings", "sheet"])
def test_xml_entity_expansion_is_refused(tmp_path: Path, where: str) -> None:
    strings = (f'{LAUGHS}<sst xmlns="{MAIN}" count="1" uniqueCount="1"><si><t>&lol3;</t></si>'
               "</sst>")
    sheet = sheet_xml(rows_xml())
    if where == "sheet":
        sheet = LAUGHS + sheet.split("?>", 1)[1].replace("MCA Assessment", "&lol3;")
    path = workbook(tmp_path / "lol.xlsx", sheet, parts={"xl/sharedStrings.xml": strings})
    with pytest.raises(ExportError) as caught:
        read_export(path, SETTINGS)
    assert "document type declaration (<!DOCTYPE>)" in human(str(caught.value))


def test_a_workbook_of_thousands_of_parts_is_refused(tmp_path: Path) -> None:
    parts: dict[str, str | bytes] = {f"xl/media/p{i}.xml": "" for i in range(2_001)}
    path = workbook(tmp_path / "parts.xlsx", sheet_xml(rows_xml()), parts=parts)
    with pytest.raises(ExportError, match="holds 2,006 parts, where a case export has about"):
        read_export(path, SETTINGS)


def test_an_encrypted_zip_is_refused(tmp_path: Path) -> None:
    path = workbook(tmp_path / "locked.xlsx", sheet_xml(rows_xml()))
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")  # the flags of the first part, in the central directory
    struct.pack_into("<H", data, at + 8, struct.unpack_from("<H", data, at + 8)[0] | 1)
    path.write_bytes(bytes(data))
    with pytest.raises(ExportError, match=r"is encrypted \(password-protected\)"):
        read_export(path, SETTINGS)


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"xl/workbook.bin": b"\0"}, r"binary Excel workbook \(\.xlsb\)"),
        ({"content.xml": "<x/>", "mimetype": "x"}, r"OpenDocument spreadsheet \(\.ods\)"),
        ({"word/document.xml": "<x/>"}, "a zip file but not an Excel workbook"),
    ],
)
def test_other_zipped_files_are_named(
    tmp_path: Path, parts: dict[str, str | bytes], message: str
) -> None:
    path = tmp_path / "export.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    with pytest.raises(ExportError, match=message):
        read_export(path, SETTINGS)


@pytest.mark.parametrize(
    ("name", "message"),
    [("export.xls", "Rename it to end in .xlsx"), ("export.csv", "not CSV text")],
)
def test_a_workbook_under_another_suffix_says_to_rename_it(
    tmp_path: Path, name: str, message: str
) -> None:
    path = workbook(tmp_path / name, sheet_xml(rows_xml()))
    with pytest.raises(ExportError, match=message):
        read_export(path, SETTINGS)


# --- damaged files: what is wrong in words, never the library's own text -------------


def _truncated(tmp_path: Path) -> Path:
    path = workbook(tmp_path / "cut.xlsx", sheet_xml(rows_xml(40)))
    path.write_bytes(path.read_bytes()[:1500])
    return path


def _corrupted(tmp_path: Path) -> Path:
    path = workbook(tmp_path / "bad.xlsx", sheet_xml(rows_xml(40)))
    data = bytearray(path.read_bytes())
    start = data.find(b"xl/worksheets/sheet1.xml") + 60
    data[start:start + 200] = bytes(200)
    path.write_bytes(bytes(data))
    return path


def _malformed_xml(tmp_path: Path) -> Path:
    sheet = sheet_xml(rows_xml()).replace("Hana Reid", "&unknown;", 1)
    return workbook(tmp_path / "xml.xlsx", sheet)


def _bad_reference(tmp_path: Path) -> Path:
    return workbook(tmp_path / "ref.xlsx", sheet_xml(rows_xml().replace('r="B2"', 'r="B-2"')))


def _cfb(tmp_path: Path) -> Path:
    path = tmp_path / "protected.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))
    return path


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (_truncated, "is damaged: it is not a complete Excel workbook"),
        (_corrupted, "is damaged"),
        (_malformed_xml, "is damaged or was not written by a spreadsheet program"),
        (_bad_reference, "is damaged or was not written by a spreadsheet program"),
        (_cfb, "is an encrypted (password-protected) or old-style .xls workbook"),
    ],
)
def test_a_damaged_or_locked_workbook_is_described_in_words(
    tmp_path: Path, build: Callable[[Path], Path], message: str
) -> None:
    with pytest.raises(ExportError) as caught:
        read_export(build(tmp_path), SETTINGS)
    assert message in human(str(caught.value))


# --- the reader itself: fastexcel failing, odd cells, what python-calamine would give ---


class FakePanic(BaseException):
    """What a Rust panic inside fastexcel reaches Python as (pyo3's PanicException)."""


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (lambda: __import__("fastexcel").CalamineError("calamine error: XmlError at 0..0"),
         "is damaged or was not written by a spreadsheet program"),
        (lambda: FakePanic("index out of bounds"),
         "is damaged or was not written by a spreadsheet program"),
        (lambda: MemoryError(), "too large to read in the memory this computer has free"),
    ],
    ids=["fastexcel error", "Rust panic", "out of memory"],
)
def test_a_failure_inside_fastexcel_is_described_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Callable[[], BaseException],
    message: str,
) -> None:
    import fastexcel

    def fail(*args: object, **kwargs: object) -> None:
        raise failure()

    monkeypatch.setattr(fastexcel.ExcelReader, "load_sheet", fail)
    with pytest.raises(ExportError) as caught:
        read_export(workbook(tmp_path / "x.xlsx", sheet_xml(rows_xml())), SETTINGS)
    assert message in human(str(caught.value))


def calamine_rows(path: Path) -> list[list[object]]:
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Report")
    return sheet.to_python(skip_empty_area=False)


def error_cells(path: Path, errors: list[str]) -> Path:
    """An export whose data rows each hold one of ``errors`` as the team (a formula's error)."""
    rows = "".join(
        f'<row r="{r}">' + "".join(cell(f"{chr(65 + i)}{r}", v) for i, v in enumerate(values))
        .replace(f'<c r="F{r}" t="inlineStr"><is><t>Mid Team</t></is></c>',
                 f'<c r="F{r}" t="e"><v>{errors[r - 2]}</v></c>') + "</row>"
        for r, values in enumerate([HEADERS, *data_rows(len(errors))], start=1)
    )
    return workbook(path, sheet_xml(rows))


def test_error_cells_read_as_empty(tmp_path: Path) -> None:
    errors = ["#NAME?", "#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NULL!", "#NUM!"]
    path = error_cells(tmp_path / "x.xlsx", errors)
    assert [row[5] for row in calamine_rows(path)[1:]] == [""] * len(errors)
    assert read_export(path, SETTINGS).cases["team"].tolist() == [""] * len(errors)


@pytest.mark.parametrize("error", ["#GETTING_DATA", "#SPILL!", "#BOGUS"])
def test_an_error_value_unknown_to_the_reader_is_refused_in_words(
    tmp_path: Path, error: str
) -> None:
    # calamine (both bindings) stops at it: the file is refused, as it always was.
    with pytest.raises(ExportError) as caught:
        read_export(error_cells(tmp_path / "x.xlsx", [error]), SETTINGS)
    assert "cannot be read as a workbook" in human(str(caught.value))


def test_escapes_and_control_characters_read_as_python_calamine_reads_them(
    tmp_path: Path,
) -> None:
    names = ["Ann_x000D_Lee", "_x0007_Bell", "x_x001B_[2Jy", "Tab&#9;Name", "A_x0041__x0042_",
             "_x00e9_", "Line&#10;Break", "_xD83D__xDE00_", "Ann &amp; Bo", "=SUM(1,1)"]
    rows = "".join(
        f'<row r="{r}">' + "".join(cell(f"{chr(65 + i)}{r}", v) for i, v in enumerate(values))
        + "</row>"
        for r, values in enumerate(
            [[*HEADERS, "Worker"], *[[*row, name] for row, name in zip(
                data_rows(len(names)), names, strict=True)]], start=1)
    )
    path = workbook(tmp_path / "x.xlsx", sheet_xml(rows))
    expected = [normalise_id(row[8]) for row in calamine_rows(path)[1:]]
    assert read_export(path, SETTINGS).cases["worker_name"].tolist() == expected


def test_data_far_from_cell_a1_is_read_from_where_it_is(tmp_path: Path) -> None:
    rows = [[""] * 3 + HEADERS, *([""] * 3 + r for r in data_rows(3))]
    xml = '<row r="2">' + cell("D2", "Case list") + "</row>" + "".join(
        f'<row r="{r}">' + "".join(cell(f"{chr(65 + i)}{r}", v) for i, v in enumerate(values)
                                   if v) + "</row>"
        for r, values in enumerate(rows, start=6)
    )
    export = read_export(workbook(tmp_path / "x.xlsx", sheet_xml(xml)), SETTINGS)
    assert export.header_row == 6
    assert export.columns["record_id"] == "Record ID"
    assert export.cases["record_id"].tolist() == ["3100000", "3100001", "3100002"]
    assert export.cases["source_row"].tolist() == [7, 8, 9]


def test_a_chart_sheet_beside_the_data_is_passed_over_quietly(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from openpyxl.chart import BarChart, Reference

    path = openpyxl_export(tmp_path / "x.xlsx")
    from openpyxl import load_workbook

    wb = load_workbook(path)
    chart = BarChart()
    chart.add_data(Reference(wb["Report"], min_col=1, min_row=1, max_row=4))
    wb.create_chartsheet("Chart", 0).add_chart(chart)
    wb.save(path)
    export = read_export(path, SETTINGS)
    assert export.sheet == "Report" and len(export.cases) == 3
    assert capfd.readouterr().err == ""


# --- fuzzing: mutated exports end in a read or an ExportError, nothing else ----------

#: Pieces a mutation may splice in: far references, odd tags, entities; and for CSV text,
#: delimiters, quotes and bytes of other encodings.
XML_TOKENS = [b'r="XFD1048576"', b'r="ZZ200000"', b' r="A1048577"', b"<c>", b"</row>",
              b"<row>", b'<c r="IV9"><v>1</v></c>', b"<!DOCTYPE x>", b"&lol;", b'"', b"'",
              b"<", b">", b"PK\x03\x04", b"PK\x01\x02", b"\xd0\xcf\x11\xe0"]
CSV_TOKENS = [b",", b";", b"\t", b'"', b"\n", b"\r\n", b"\x00", b"\xff\xfe", b"\xfe\xff",
              b"\xef\xbb\xbf", b"\xe9", b"\xc3\xa9", b"31/02/2026", b"Total"]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, tokens: list[bytes]) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "byte", "token", "bytes", "cut", "drop"]))
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "token":
            data[at:at] = draw(st.sampled_from(tokens))
        elif kind == "bytes":
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        elif kind == "cut":
            del data[at:]
        else:
            del data[at:at + draw(st.integers(1, 40))]
    return bytes(data)


def seed_workbook(stored: bool) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = workbook(Path(folder) / "seed.xlsx", sheet_xml(rows_xml(4)), stored=stored)
        return path.read_bytes()


SEED_CSV = (",".join(HEADERS) + "\r\n" + "".join(",".join(r) + "\r\n" for r in data_rows(4))
            ).encode()


def survives(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    try:
        read_export(path, SETTINGS)
    except ExportError as exc:
        human(str(exc))


FUZZ = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("stored", [True, False], ids=["stored", "deflated"])
def test_mutated_workbooks_are_read_or_refused_in_words(tmp_path: Path, stored: bool) -> None:
    @FUZZ
    @given(content=mutated(seed_workbook(stored), XML_TOKENS))
    def run(content: bytes) -> None:
        survives(tmp_path / "export.xlsx", content)

    run()


def test_mutated_csv_files_are_read_or_refused_in_words(tmp_path: Path) -> None:
    @FUZZ
    @given(content=mutated(SEED_CSV, CSV_TOKENS))
    def run(content: bytes) -> None:
        survives(tmp_path / "export.csv", content)

    run()
