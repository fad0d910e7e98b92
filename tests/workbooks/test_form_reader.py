"""The returned-form reader against the one it replaced: the workbooks the tests make, and
hostile ones, read both ways, with the same answer.

``openpyxl_read_form`` below is the reader qaudit had before (``openpyxl.load_workbook``,
every cell and style of the workbook), kept as the oracle. ``read_form`` reads only the
parts and cells a form's answers live in; for every workbook here both must give the same
meta sheet and the same named cells (sheet, reference, value, type), or both refuse it.
Where they may differ (a document type declaration, a part not in UTF-8, damage in a part
the new reader never reads) the test says so and checks the new reader's refusal.
"""

from __future__ import annotations

import io
import random
import re
import warnings
import zipfile
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import fill_forms
import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils import quote_sheetname
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from conftest import EXAMPLES, qaudit_ok, small_workspace
from qaudit.errors import FormFileError
from qaudit.workbooks import reader, xlsx
from qaudit.workbooks.cells import META_SHEET, clean_text, read_text
from qaudit.workbooks.reader import RawForm, read_form
from qaudit.workbooks.workshop import GradingSheet, write_grading_workbook

CYCLE = "2026-27 C3"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


# --- the reader before, kept as the oracle --------------------------------------------------


def openpyxl_read_form(path: Path) -> RawForm:
    """What qaudit's reader gave before it read only what a form needs."""
    data = reader.form_bytes(path)
    reader._check_archive(data).close()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(data), data_only=False, keep_links=False)
    except Exception as exc:
        raise FormFileError("damaged", "damaged") from exc
    if META_SHEET not in wb.sheetnames:
        raise FormFileError("not a form", "not-a-form")
    meta: dict[str, str] = {}
    for row in wb[META_SHEET].iter_rows(max_col=2, max_row=reader.MAX_META_ROWS,
                                        values_only=True):
        key, value = (*row, None, None)[:2]
        if isinstance(key, str):
            meta[key] = "" if value is None else read_text(str(value))
    cells = {}
    for name, definition in wb.defined_names.items():
        found = _old_named_cell(wb, name, definition)
        if found is not None:
            cells[name] = found
    return RawForm(path, reader.hashlib.sha256(data).hexdigest(), meta, cells)


def _old_named_cell(wb: Workbook, name: str, definition: Any) -> reader.NamedCell | None:
    try:
        destinations = list(definition.destinations)
    except Exception:
        return None
    for sheet, ref in destinations:
        plain = ref.replace("$", "")
        if sheet not in wb.sheetnames or not reader._CELL.match(plain):
            continue
        column, row = reader._CELL.match(plain).groups()  # type: ignore[union-attr]
        if int(row) > reader.MAX_ROW or (column > "XFD" and len(column) == 3):
            continue
        cell = wb[sheet][plain]
        value = read_text(cell.value) if isinstance(cell.value, str) else cell.value
        return reader.NamedCell(name, sheet, plain, value, cell.data_type)
    return None


def answer(read: Callable[[Path], RawForm], path: Path) -> tuple[Any, ...]:
    """What a reader made of a file: its refusal's code, or everything it read."""
    try:
        raw = read(path)
    except FormFileError as exc:
        return ("refused", exc.code)
    return ("read", raw.sha256, raw.meta,
            {n: (c.sheet, c.ref, _comparable(c.value), c.data_type) for n, c in raw.cells.items()})


def _comparable(value: Any) -> Any:
    if isinstance(value, ArrayFormula | DataTableFormula):  # no equality of their own
        return type(value).__name__, sorted(vars(value).items())
    return value


def assert_read_alike(path: Path) -> tuple[Any, ...]:
    old, new = answer(openpyxl_read_form, path), answer(read_form, path)
    assert new == old
    return new


# --- the workbooks the tests make -----------------------------------------------------------


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every kind of workbook qaudit writes and takes back, issued and filled in."""
    root = tmp_path_factory.mktemp("made")
    ws = small_workspace(root / "ws", 1)
    qaudit_ok(ws.root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "3", "--due",
              (date.today() + timedelta(days=10)).strftime("%d/%m/%Y"))
    cycle = ws.cycle_dir(CYCLE)
    audits = sorted((cycle / "audit-forms").glob("*.xlsx"))
    reflection = sorted((cycle / "self-reflection").glob("*.xlsx"))[0]
    manager = sorted((cycle / "service-managers").glob("*.xlsx"))[0]
    back = root / "back"
    for n, form in enumerate(audits[:10]):
        fill_forms.fill_audit(form, back / form.name, random.Random(n), insert_row=n == 2,
                              grade="Requires improvement" if n == 1 else None, escalate=n == 1)
    qaudit_ok(ws.root, "ingest", back)
    qaudit_ok(ws.root, "moderate", "select", "--cycle", CYCLE, "--seed", "1")
    books = {"issued-audit": audits[0], "issued-reflection": reflection,
             "issued-manager": manager, "filled-audit": back / audits[0].name,
             "filled-ri-escalated": back / audits[1].name,
             "row-inserted": back / audits[2].name,
             "issued-moderation": next((cycle / "moderation").glob("*.xlsx"))}
    fill_forms.fill_reflection(reflection, root / "reflection.xlsx", random.Random(1))
    fill_forms.fill_manager(manager, root / "manager.xlsx", random.Random(1), blank=(2,),
                            insert_row=True)
    fill_forms.fill_moderation(books["issued-moderation"], root / "moderation.xlsx",
                               random.Random(2))
    grading = GradingSheet("ws-1", "Q2 workshop", 7, date(2026, 9, 14), "Participant 1", "",
                           (("Case A", "Care Act review"), ("Case B", "MCA")), b"k" * 32)
    write_grading_workbook(root / "grading.xlsx", grading)
    fill_forms.put(loaded := openpyxl.load_workbook(root / "grading.xlsx"),
                   next(iter(loaded.defined_names)), "Good")
    loaded.save(root / "grading-filled.xlsx")
    return books | {"filled-reflection": root / "reflection.xlsx",
                    "filled-manager": root / "manager.xlsx",
                    "filled-moderation": root / "moderation.xlsx",
                    "issued-grading": root / "grading.xlsx",
                    "filled-grading": root / "grading-filled.xlsx"}


@pytest.fixture(params=["whole", "streamed"])
def part_reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every comparison twice: parts parsed whole (as a form's are) and streamed (as a
    part beyond a few megabytes is), the second by lowering the threshold."""
    if request.param == "streamed":
        monkeypatch.setattr(xlsx, "_WHOLE", 100)
    return str(request.param)


@pytest.mark.parametrize("kind", [
    "issued-audit", "issued-reflection", "issued-manager", "issued-moderation",
    "issued-grading", "filled-audit", "filled-ri-escalated", "row-inserted",
    "filled-reflection", "filled-manager", "filled-moderation", "filled-grading",
])
def test_every_workbook_qaudit_takes_back_reads_as_before(
    made: dict[str, Path], kind: str, part_reading: str
) -> None:
    found = assert_read_alike(made[kind])
    assert found[0] == "read" and found[3], found


# --- the same workbooks, changed in every way a reader must agree on ------------------------


def _edited(src: Path, dst: Path, change: Callable[[Workbook], object]) -> Path:
    wb = openpyxl.load_workbook(src)
    change(wb)
    wb.save(dst)
    return dst


def _cell(wb: Workbook, name: str) -> Any:
    ((title, ref),) = list(wb.defined_names[name].destinations)
    return wb[title][ref.replace("$", "")]


def _set(wb: Workbook, values: dict[str, Any]) -> None:
    for name, value in values.items():
        _cell(wb, name).value = value


def _point(wb: Workbook, targets: dict[str, str]) -> None:
    for name, target in targets.items():
        wb.defined_names[name] = DefinedName(name, attr_text=target)


def _merge_over_answers(wb: Workbook) -> None:
    answer_cell, comment = _cell(wb, "ans_V1"), _cell(wb, "cmt_V2")
    sheet = answer_cell.parent
    sheet.merge_cells(f"B{answer_cell.row}:C{answer_cell.row}")  # the answer is covered
    sheet.merge_cells(f"{comment.coordinate}:E{comment.row}")  # the comment is its top-left


def _rename_sheet(title: str) -> Callable[[Workbook], None]:
    def rename(wb: Workbook) -> None:
        old = wb.worksheets[0].title
        wb.worksheets[0].title = title
        for name, definition in list(wb.defined_names.items()):
            ((sheet, ref),) = list(definition.destinations)
            if sheet == old:
                wb.defined_names[name] = DefinedName(
                    name, attr_text=f"{quote_sheetname(title)}!{ref}")
    return rename


def _reserved_and_local_names(wb: Workbook) -> None:
    sheet = wb.worksheets[0]
    sheet.print_area = "A1:D20"
    sheet.print_title_rows = "1:2"
    _point(wb, {"_xlnm.Criteria": "Audit!$C$19", "_xlnm._FilterDatabase": "Audit!$C$20"})
    sheet.defined_names["grade"] = DefinedName("grade", attr_text="Audit!$A$1")  # local


def _typed_values(wb: Workbook) -> None:
    _set(wb, {"ans_V1": 3, "ans_V2": 2.5, "ans_V3": True, "ans_V4": datetime(2026, 1, 2, 9),
              "ans_V5": time(10, 30), "cmt_V1": fill_forms.Typed("=SUM(1,2)"),
              "cmt_V2": fill_forms.Typed("#N/A"), "cmt_V3": date(2026, 3, 4),
              "cmt_V4": 45000.75, "cmt_V5": -1})
    for name, number_format in (("ans_V1", "0.00"), ("ans_V5", "h:mm"), ("cmt_V4", "[h]:mm"),
                                ("cmt_V3", "mmm yy"), ("cmt_V5", "General")):
        _cell(wb, name).number_format = number_format


def _escaped_text(wb: Workbook) -> None:
    _set(wb, {"cmt_V1": clean_text("a tab\there, a bell\x07, CR\r\nLF and _x0041_ typed"),
              "cmt_V2": "_x0041_ left as written", "cmt_V3": "=not a formula",
              "rationale": clean_text("\ufffe and \x00 and ü and 😀")})
    for name in ("cmt_V1", "cmt_V2", "cmt_V3", "rationale"):
        _cell(wb, name).data_type = "s"


def _meta_oddities(wb: Workbook) -> None:
    meta = wb[META_SHEET]
    meta["A40"], meta["B40"] = "number", 12.5
    meta["A41"], meta["B41"] = "when", datetime(2026, 5, 6)
    meta["A42"], meta["B42"] = "flag", True
    meta["A43"], meta["B43"] = 7, "a number is not a key"
    meta["A44"] = "=formula key"
    meta["A101"], meta["B101"] = "beyond", "the hundredth row"
    meta["A45"], meta["B45"] = "form_kind", "audit"  # a key again: the last one counts


OPENPYXL_CHANGES: dict[str, Callable[[Workbook], object]] = {
    "merged-cells-over-names": _merge_over_answers,
    "name-to-a-range": lambda wb: _point(wb, {"grade": "Audit!$C$47:$C$48"}),
    "name-to-a-list": lambda wb: _point(wb, {"grade": "Audit!$C$5,Audit!$C$6"}),
    "name-to-the-hidden-sheet": lambda wb: _point(wb, {"grade": "'_qaudit'!$B$3"}),
    "names-far-into-the-hidden-sheet": lambda wb: (
        wb[META_SHEET].__setitem__("AB3", "far right"),
        wb[META_SHEET].__setitem__("A150", "far down"),
        _point(wb, {"grade": "'_qaudit'!$AB$3", "rationale": "'_qaudit'!$A$150"})),
    "name-to-a-formula": lambda wb: _point(wb, {"grade": "OFFSET(Audit!$A$1,1,1)"}),
    "name-to-ref-errors": lambda wb: _point(wb, {"grade": "#REF!", "rationale": "Audit!#REF!"}),
    "name-to-constants": lambda wb: _point(wb, {"grade": '"Good"', "rationale": "42"}),
    "name-with-arithmetic": lambda wb: _point(wb, {"grade": "Audit!$C$5+1"}),
    "name-lower-case": lambda wb: _point(wb, {"grade": "Audit!$c$47"}),
    "name-to-a-missing-sheet": lambda wb: _point(wb, {"grade": "Gone!$C$47"}),
    "name-beyond-the-sheet": lambda wb: _point(wb, {"grade": "Audit!$XFD$1048576",
                                                    "rationale": "Audit!$A$1048577"}),
    "sheet-with-apostrophes": _rename_sheet("O'Brien's audit"),
    "sheet-with-a-space": _rename_sheet("Audit form"),
    "sheet-with-accents": _rename_sheet("Überprüfung"),
    "reserved-and-local-names": _reserved_and_local_names,
    "values-of-every-type": _typed_values,
    "escaped-and-hidden-characters": _escaped_text,
    "hidden-sheet-oddities": _meta_oddities,
    "dates-from-1904": lambda wb: (setattr(wb, "epoch", CALENDAR_MAC_1904),
                                   _set(wb, {"cmt_V1": datetime(2026, 2, 3)})),
}


@pytest.mark.parametrize("change", sorted(OPENPYXL_CHANGES))
def test_a_changed_form_reads_as_before(
    made: dict[str, Path], tmp_path: Path, change: str, part_reading: str
) -> None:
    path = _edited(made["filled-audit"], tmp_path / f"{change}.xlsx", OPENPYXL_CHANGES[change])
    assert_read_alike(path)


# --- the XML as other programs write it -----------------------------------------------------


def _rezipped(src: Path, dst: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    with zipfile.ZipFile(src) as archive:
        parts = {i.filename: archive.read(i) for i in archive.infolist()}
    change(parts)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)
    return dst


def _sheets(parts: dict[str, bytes], change: Callable[[str], str]) -> None:
    for name in [p for p in parts if p.startswith("xl/worksheets/sheet")]:
        parts[name] = change(parts[name].decode()).encode()


_INLINE = re.compile(r'<c ([^>]*?)t="inlineStr"([^>]*)><is>(.*?)</is></c>', re.S)


def _shared_strings(parts: dict[str, bytes], *, keep_part: bool = True,
                    keep_type: bool = True) -> None:
    """Every inline string made a shared string, as Excel writes them (one of them rich
    text with a phonetic run, which is left out of its text)."""
    strings: list[str] = []

    def share(m: re.Match[str]) -> str:
        strings.append(m[3])
        return f'<c {m[1]}t="s"{m[2]}><v>{len(strings) - 1}</v></c>'

    _sheets(parts, lambda text: _INLINE.sub(share, text))
    strings.append('<r><t>rich </t></r><r><rPr><b/></rPr><t>text</t></r><rPh sb="0" eb="1">'
                   '<t>ignored</t></rPh>')
    items = "".join(f"<si>{s}</si>" for s in strings)
    if keep_part:
        parts["xl/sharedStrings.xml"] = (f'<sst xmlns="{MAIN}" count="{len(strings)}">'
                                         f"{items}</sst>").encode()
    if keep_type:
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
            b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')


def _in_row_of(name_ref: str, extra: str) -> Callable[[str], str]:
    """Add ``extra`` cells at the end of the row holding ``name_ref``."""
    row = re.sub(r"\D", "", name_ref)
    return lambda text: re.sub(rf'(<row r="{row}"[^>]*>.*?)(</row>)', rf"\g<1>{extra}\g<2>",
                               text, count=1, flags=re.S)


XML_CHANGES: dict[str, Callable[[dict[str, bytes]], None]] = {
    "shared-strings": _shared_strings,
    "cells-without-references": lambda parts: _sheets(
        parts, lambda text: re.sub(r'(<row r="2[0-9]"[^>]*>)(.*?)</row>',
                                   lambda m: m[1] + re.sub(r' r="[A-Z]+\d+"', "", m[2])
                                   + "</row>", text, flags=re.S)),
    "rows-without-numbers": lambda parts: _sheets(
        parts, lambda text: re.sub(r'<row r="\d+"', "<row", text)),
    "lower-case-references": lambda parts: _sheets(
        parts, lambda text: re.sub(r' r="([A-Z]+)(\d+)"',
                                   lambda m: f' r="{m[1].lower()}{m[2]}"', text)),
    "row-numbers-as-decimals": lambda parts: _sheets(  # rows without a height: openpyxl
        parts, lambda text: re.sub(r'<row r="(\d+)">', r'<row r="\1.0">', text)),  # (not a size)
    "a-cell-written-twice": lambda parts: _sheets(parts, _in_row_of(
        "C47", '<c r="C47" t="inlineStr"><is><t>Outstanding</t></is></c>')),
    "formulas-of-every-kind": lambda parts: _sheets(parts, lambda text: _in_row_of(
        "C19", '<c r="E19"><f t="shared" ref="E19:E21" si="4">A19&amp;"x"</f><v>1</v></c>'
               '<c r="F19"><f t="array" ref="F19">1+1</f><v>2</v></c>')(_in_row_of(
        "C20", '<c r="E20"><f t="shared" si="4"/><v>1</v></c>')(text))),
    "raw-cell-types": lambda parts: _sheets(parts, _in_row_of(
        "C19", '<c r="E19" t="str"><v>text from a formula</v></c><c r="F19" t="b"><v>0</v>'
               '</c><c r="G19" t="e"><v>#DIV/0!</v></c><c r="H19" t="d"><v>2026-07-08T09:10'
               ':11</v></c><c r="I19" t="x"><v>odd</v></c><c r="J19" t="inlineStr"/>'
               '<c r="K19" t="s"/><c r="L19"><v></v></c><c r="M19"><v>1E3</v></c>')),
    "a-cell-at-the-very-last-place": lambda parts: _sheets(parts, lambda text: re.sub(
        r'<dimension ref="[^"]*"', '<dimension ref="A1:XFD1048576"', text).replace(
        "</sheetData>", '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>far</t>'
        "</is></c></row></sheetData>", 1)),
    "main-namespace-prefixed": lambda parts: _sheets(parts, lambda text: re.sub(
        r"<(/?)(?![?!])", r"<\1x:", text).replace(f'xmlns="{MAIN}"', f'xmlns:x="{MAIN}"')),
}
#: Names pointing at the cells the XML changes above add (the form has none there).
EXTRA_NAMES = {f"extra_{col}": f"Audit!${col}$19" for col in "EFGHIJKLM"} | {
    "extra_E20": "Audit!$E$20", "extra_E21": "Audit!$E$21", "extra_far": "Audit!$XFD$1048576"}


@pytest.mark.parametrize("change", sorted(XML_CHANGES))
def test_xml_as_other_programs_write_it_reads_as_before(
    made: dict[str, Path], tmp_path: Path, change: str, part_reading: str
) -> None:
    named = _edited(made["filled-audit"], tmp_path / "named.xlsx",
                    lambda wb: _point(wb, EXTRA_NAMES))
    path = _rezipped(named, tmp_path / f"{change}.xlsx", XML_CHANGES[change])
    found = assert_read_alike(path)
    assert found[0] == "read"


@pytest.mark.parametrize(("change", "why"), [
    (lambda parts: _shared_strings(parts, keep_part=False), "a listed part is missing"),
    (lambda parts: _shared_strings(parts, keep_part=False, keep_type=False),
     "cells name shared strings there are none of"),
    (lambda parts: _sheets(parts, lambda t: t.replace('r="C47" s="9"', 'r="C47" s="999"')),
     "a style that does not exist"),
    (lambda parts: _sheets(parts, lambda t: t.replace('r="C47" s="9"', 'r="C47" s=""')),
     "a style that is not a number"),
    (lambda parts: _sheets(parts, lambda t: t.replace('<row r="47"', '<row r="47.5"')),
     "a row number that is not whole"),
    (lambda parts: _sheets(parts, _in_row_of("C19", '<c r="ZZZZ19"><v>1</v></c>')),
     "a reference beyond any column"),
    (lambda parts: _sheets(parts, _in_row_of("C47", '<c r="C47"><v>not a number</v></c>')),
     "a number that is not one"),
    (lambda parts: parts.pop("xl/workbook.xml"), "no workbook"),
    (lambda parts: parts.pop("[Content_Types].xml"), "no content types"),
    (lambda parts: parts.pop("xl/_rels/workbook.xml.rels"), "no relationships"),
    (lambda parts: parts.update({"xl/worksheets/sheet1.xml": b"<worksheet"}), "cut short"),
    (lambda parts: parts.update({"xl/workbook.xml": parts["xl/workbook.xml"].replace(
        b'r:id="rId1"', b'r:id="rId99"')}), "a sheet without its relationship"),
    (lambda parts: parts.update({"xl/workbook.xml": parts["xl/workbook.xml"].replace(
        b'name="Audit"', b'name="Au/dit"')}), "a sheet title Excel forbids"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_damage_where_the_answers_are_is_refused_by_both(
    made: dict[str, Path], tmp_path: Path, change: Callable[[dict[str, bytes]], None],
    why: str, part_reading: str,
) -> None:
    path = _rezipped(made["filled-audit"], tmp_path / "damaged.xlsx", change)
    assert assert_read_alike(path)[0] == "refused", why


def test_a_sheet_without_its_part_or_listed_twice_is_titled_as_before(
    made: dict[str, Path], tmp_path: Path, part_reading: str
) -> None:
    def change(parts: dict[str, bytes]) -> None:
        # (each declares the r: prefix: openpyxl with lxml declares it on each sheet, not
        # on the root)
        r = b' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
        parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(
            b"</sheets>", b'<sheet name="AUDIT" sheetId="9" r:id="rId1"' + r + b"/>"
            b'<sheet name="Ghost" sheetId="8" r:id="rId3"' + r + b'/><sheet name="NoId"'
            b' sheetId="7"/></sheets>')

    path = _rezipped(made["filled-audit"], tmp_path / "twice.xlsx", change)
    assert assert_read_alike(path)[0] == "read"


# --- hostile: the new reader refuses cleanly, or reads safely ------------------------------


_DOCTYPES = {
    "entity-expansion": '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
    "external-entity": '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    "plain-doctype": "<!DOCTYPE worksheet>",
}


@pytest.mark.parametrize("doctype", sorted(_DOCTYPES))
@pytest.mark.parametrize("part", ["xl/workbook.xml", "xl/worksheets/sheet1.xml",
                                  "xl/styles.xml", "[Content_Types].xml",
                                  "xl/_rels/workbook.xml.rels", "xl/sharedStrings.xml"])
def test_a_document_type_in_any_part_read_is_refused(
    made: dict[str, Path], tmp_path: Path, part: str, doctype: str
) -> None:
    """openpyxl (with defusedxml) refused entities but read a bare DOCTYPE; no workbook
    Excel writes has one, so now any is refused, in every part the reader reads."""
    def change(parts: dict[str, bytes]) -> None:
        _shared_strings(parts)
        text = parts[part].decode()
        body = text.split("?>", 1)[1] if text.startswith("<?xml") else text
        parts[part] = (_DOCTYPES[doctype] + body).encode()

    path = _rezipped(made["filled-audit"], tmp_path / "doctype.xlsx", change)
    assert answer(read_form, path) == ("refused", "damaged")


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1", "cp037"])
def test_a_part_not_in_utf8_is_refused(
    made: dict[str, Path], tmp_path: Path, encoding: str
) -> None:
    """Whatever a part declares, it is read as UTF-8: a DTD hidden in another encoding
    (EBCDIC, say) never reaches the parser as one."""
    def change(parts: dict[str, bytes]) -> None:
        text = parts["xl/workbook.xml"].decode().replace("Audit", "Aüdit")
        body = text.split("?>", 1)[1] if text.startswith("<?xml") else text
        parts["xl/workbook.xml"] = (f'<?xml version="1.0" encoding="{encoding}"?>'
                                    + _DOCTYPES["plain-doctype"] * (encoding == "cp037")
                                    + body).encode(encoding)

    path = _rezipped(made["filled-audit"], tmp_path / "encoded.xlsx", change)
    assert answer(read_form, path) == ("refused", "damaged")


def test_a_merged_range_over_the_whole_sheet_is_read_at_once(
    made: dict[str, Path], tmp_path: Path
) -> None:
    """openpyxl made a cell object for every cell under a merge (17 billion here, a hang);
    the reader asks only whether each named cell is under one."""
    path = _rezipped(made["filled-audit"], tmp_path / "merged.xlsx", lambda parts: _sheets(
        parts, lambda t: re.sub(r"(<mergeCells[^>]*>)", r'\1<mergeCell ref="A1:XFD1048576"/>',
                                t)))
    raw = read_form(path)
    assert raw.cells and {c.value for c in raw.cells.values()} == {None}
    assert raw.meta["form_kind"] == "audit"


def test_a_huge_sheet_is_streamed_not_built_in_memory(
    made: dict[str, Path], tmp_path: Path
) -> None:
    """A sheet beyond a few megabytes is read as a stream (the rows before are dropped as
    it goes), with the same answers."""
    rng = random.Random(5)
    filler = "".join(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>'
                     f'{"".join(rng.choices("abcdefghij", k=400))}</t></is></c></row>'
                     for n in range(200, 12_000))
    path = _rezipped(made["filled-audit"], tmp_path / "huge.xlsx", lambda parts: _sheets(
        parts, lambda t: t.replace("</sheetData>", filler + "</sheetData>", 1)
        if "_qaudit" not in t else t))
    assert len(filler) > xlsx._WHOLE
    assert assert_read_alike(path)[0] == "read"


def test_mutated_forms_read_as_before_or_are_refused(
    made: dict[str, Path], tmp_path: Path
) -> None:
    """Fuzz: a form's XML parts corrupted and zipped again. The new reader raises nothing
    but its own refusal, and what both readers read, they read alike."""
    with zipfile.ZipFile(made["filled-audit"]) as archive:
        parts = {i.filename: archive.read(i) for i in archive.infolist()}
    rng = random.Random(20261126)
    both_read = 0
    for n in range(80):
        name = rng.choice([p for p in parts if p.endswith((".xml", ".rels"))])
        text = bytearray(parts[name])
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(text))
            text[at:at + rng.randint(0, 12)] = rng.choice(
                [b"", b"<", b">", b"&", b'"', b"\x00", b"#REF!", b"999999", b'<c r="ZZ9"/>',
                 b'<c r="C47"><v>1</v></c>', b"<mergeCell ref=\"A1:D99\"/>", b"s=\"7\""])
        path = _rezipped(made["filled-audit"], tmp_path / f"mutant-{n}.xlsx",
                         lambda p, name=name, text=bytes(text): p.update({name: text}))
        new = answer(read_form, path)
        old = answer(openpyxl_read_form, path)
        if new[0] == old[0] == "read":
            both_read += 1
            assert new == old, name
    assert both_read >= 10


# --- the usual definition of a name, read without openpyxl's tokenizer -----------------------


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.from_regex(r"\A(?:'(?:[^']|''){1,12}'|[A-Za-z0-9_.]{1,8})!\$?[A-Z]{1,3}\$?[0-9]{1,8}\Z"),
    st.text(alphabet="'!$:,ABCxyz019 _.#-", min_size=1, max_size=20),
))
def test_a_plain_definition_points_where_openpyxl_says(definition: str) -> None:
    plain = reader._PLAIN_DEFINITION.fullmatch(definition)
    if plain is None:
        return
    expected = list(DefinedName("n", attr_text=definition).destinations)
    assert [(plain[1] or plain[2], plain[3])] == expected
