"""Workbooks written from a saved template read back exactly as openpyxl's own save of the
same workbook: every cell, style, name, drop-down and protection; text stays text."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable
from copy import copy
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.xml.functions import tostring

from qaudit.config import Settings
from qaudit.questions import load_question_set
from qaudit.workbooks.cells import META_SHEET, clean_text, put, read_text
from qaudit.workbooks.forms import FormCase, FormTemplate, audit_form, self_reflection_form
from qaudit.workbooks.manager import ManagerWorkbooks, manager_workbook
from qaudit.workbooks.reader import read_form
from qaudit.workbooks.template import BookTemplate
from workbooks.test_manager_workbook import allocation, book
from workbooks.test_workbooks import HOSTILE, case

#: Text a form may be given: anything (control characters, XML's specials, edge
#: whitespace), and the pieces of OOXML's _xHHHH_ escapes put together at random.
TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(["_x", "_", "x", "0041", "000D", "005F", "_x0041_", "\r", "\n",
                              "\t", " ", "=", "+", "@", "&", "<", ">", "\x00", "\x1f",
                              "\ufffe", "é", "]]>"]), max_size=12).map("".join),
    st.sampled_from(HOSTILE),
)
STRING_FIELDS = ("cycle", "reference", "audit_type_name", "person_id", "practitioner", "team",
                 "quadrant", "record_id", "work_type", "return_to", "follows_up")


def seen(path: Path) -> dict[str, Any]:
    """Everything a reader or a person finds in a workbook, sheet by sheet."""
    wb = load_workbook(path)
    found: dict[str, Any] = {
        "sheets": [(ws.title, ws.sheet_state) for ws in wb.worksheets],
        "names": {name: d.attr_text for name, d in wb.defined_names.items()},
    }
    for ws in wb.worksheets:
        found[ws.title] = {
            "cells": {c.coordinate: (c.value, c.data_type, c.number_format,
                                     *map(copy, (c.font, c.fill, c.border, c.alignment,
                                                 c.protection)))
                      for row in ws.iter_rows() for c in row},
            "merged": sorted(str(r) for r in ws.merged_cells.ranges),
            "validations": sorted((
                (dv.type, dv.formula1, dv.formula2, str(dv.sqref), dv.prompt, dv.error,
                 dv.allow_blank, dv.showErrorMessage, dv.showInputMessage)
                for dv in ws.data_validations.dataValidation), key=repr),
            "protection": ws.protection,
            "print": (ws.print_title_rows, ws.page_setup, ws.print_options, ws.page_margins,
                      tostring(ws.HeaderFooter.to_tree()), ws.freeze_panes),
            "columns": {k: d.width for k, d in ws.column_dimensions.items()},
            "rows": {k: d.height for k, d in ws.row_dimensions.items()},
        }
    return found


def both(tmp: Path, template: FormTemplate, form: FormCase) -> tuple[Path, Path]:
    """The form for ``form`` written from the template, and saved by openpyxl itself."""
    fast, slow = tmp / "template.xlsx", tmp / "openpyxl.xlsx"
    template.write(fast, form)
    template.fill(form).save(slow)
    return fast, slow


def deep_dive_reaudit_form() -> FormTemplate:
    return audit_form(load_question_set("care_act_assessment"), "Care Act assessment",
                      Settings().grades, "ws1", b"k" * 32, marking="OFFICIAL & SENSITIVE",
                      terms=(("Purpose", "=Why we look"), ("Scope", "Carers\r\nonly")),
                      follow_up=True)


FORMS: dict[str, Callable[[], FormTemplate]] = {
    "audit": lambda: audit_form(load_question_set("mca_assessment"), "MCA",
                                Settings().grades, "ws1", b"k" * 32),
    "deep dive re-audit": deep_dive_reaudit_form,
    "self-reflection": lambda: self_reflection_form("MCA", "ws1", b"k" * 32),
}


@pytest.mark.parametrize("kind", FORMS)
def test_a_form_from_its_template_reads_back_as_openpyxls_own(tmp_path: Path,
                                                               kind: str) -> None:
    form = case(practitioner="=Smith, Jo", team="_x0041_ team\x07", record_id=" WS-1 ",
                work_type="Review & <assessment>", return_to="", follows_up="2026-27-C1-004")
    fast, slow = both(tmp_path, FORMS[kind](), form)
    assert seen(fast) == seen(slow)
    fast_form, slow_form = read_form(fast), read_form(slow)
    assert fast_form.meta == slow_form.meta and fast_form.cells == slow_form.cells
    assert fast_form.meta["reference"] == "2026-27-C3-001"


def test_one_template_writes_each_case_its_own_cells(tmp_path: Path) -> None:
    template = deep_dive_reaudit_form()
    for n in (1, 2):
        form = case(reference=f"R-00{n}", practitioner=f"Worker {n}",
                    completed_date=date(2026, 9, n), follows_up=f"2026-27-C1-00{n}")
        fast, slow = both(tmp_path, template, form)
        assert seen(fast) == seen(slow)
        assert read_form(fast).meta["reference"] == f"R-00{n}"


@settings(max_examples=500)
@given(text=TEXT)
def test_text_comes_back_from_its_cell_as_written(text: str) -> None:
    """What a cell holds (OOXML's _xHHHH_ escapes) reads back as the text itself: a literal
    escape stays literal, a control character comes back, wherever they meet."""
    assert read_text(clean_text(text)) == text


@cache
def reflection_form() -> FormTemplate:
    """One layout for every example (each case fills every cell a case fills)."""
    return FORMS["self-reflection"]()


@settings(max_examples=40, deadline=None)
@given(text=TEXT)
def test_any_text_reads_back_as_written_and_as_openpyxl_writes_it(text: str) -> None:
    """Whatever the text, the template's form holds what openpyxl's would, cell for cell,
    and reading it gives back the text itself: never a formula, escapes undone once."""
    form = case(**dict.fromkeys(STRING_FIELDS, text))
    with tempfile.TemporaryDirectory() as tmp:
        fast, slow = both(Path(tmp), reflection_form(), form)
        fast_seen = seen(fast)
        assert fast_seen == seen(slow)
        fast_form, slow_form = read_form(fast), read_form(slow)
    assert fast_form.cells == slow_form.cells and fast_form.meta == slow_form.meta
    assert fast_form.meta["reference"] == fast_form.meta["cycle"] == text
    for name in ("case_practitioner", "case_team", "case_record_id"):
        cell = fast_form.cells[name]
        assert cell.data_type != "f"
        assert (cell.value or "") == text
        value, data_type, *_ = fast_seen[cell.sheet]["cells"][cell.ref]
        assert read_text(value or "") == text and data_type != "f"


def test_service_manager_workbooks_read_back_as_openpyxls_own(tmp_path: Path) -> None:
    books = ManagerWorkbooks()
    specs = [book(3), book(3, manager="=Other", allocations=[
        allocation(n, team="_x000D_ team", worker_name="+Ann") for n in (4, 5, 6)]), book(1)]
    for n, spec in enumerate(specs):
        fast, slow = tmp_path / f"{n}-template.xlsx", tmp_path / f"{n}-openpyxl.xlsx"
        books.write(fast, spec)
        manager_workbook(spec).save(slow)
        assert seen(fast) == seen(slow), n
        assert read_form(fast).meta == read_form(slow).meta
    assert read_form(tmp_path / "1-template.xlsx").meta["manager"] == "=Other"


def test_the_archive_is_a_plain_deflated_zip_of_openpyxls_parts(tmp_path: Path) -> None:
    template = FORMS["audit"]()
    fast, slow = both(tmp_path, template, case())
    with zipfile.ZipFile(fast) as ours, zipfile.ZipFile(slow) as theirs:
        assert ours.testzip() is None
        assert [i.filename for i in ours.infolist()] == [i.filename for i in theirs.infolist()]
        assert {i.compress_type for i in ours.infolist()} == {zipfile.ZIP_DEFLATED}
        unchanged = {"xl/styles.xml", "xl/workbook.xml", "xl/theme/theme1.xml"}
        assert all(ours.read(name) == theirs.read(name) for name in unchanged)


def test_a_copy_must_fill_exactly_the_template_cells(tmp_path: Path) -> None:
    wb = Workbook()
    put(wb.active, "A1", "")
    template = BookTemplate(wb, [("Sheet", "A1")])
    with pytest.raises(ValueError, match="exactly the template's cells"):
        template.write(tmp_path / "a.xlsx", {("Sheet", "A2"): "x"})
    with pytest.raises(ValueError, match="A2 of sheet 'Sheet' is in the template 0 times"):
        BookTemplate(wb, [("Sheet", "A2")])
    template.write(tmp_path / "a.xlsx", {("Sheet", "A1"): "=1+1"})
    cell = load_workbook(tmp_path / "a.xlsx")["Sheet"]["A1"]
    assert (cell.value, cell.data_type) == ("=1+1", "s")


def test_a_template_cell_holds_text_or_a_date(tmp_path: Path) -> None:
    wb = Workbook()
    put(wb.active, "A1", "")
    template = BookTemplate(wb, [("Sheet", "A1")])
    with pytest.raises(TypeError, match="not int"):
        template.write(tmp_path / "a.xlsx", {("Sheet", "A1"): 3})  # type: ignore[dict-item]


def test_the_hidden_sheet_stays_very_hidden(tmp_path: Path) -> None:
    fast, _ = both(tmp_path, FORMS["self-reflection"](), case())
    assert load_workbook(fast)[META_SHEET].sheet_state == "veryHidden"
