"""A cycle has a kind: one of the year's regular cycles, a deep dive, or a round of re-audits.

Deep dives and re-audits go through the same draw, forms and record as a regular cycle
(``jobs.allocate.Selection``), but only a regular cycle makes the year: its 960, its trend
and the workers' cool-down. These tests draw a cycle of another kind through a minimal
selection of their own, so they hold whatever the deep-dive and re-audit commands add.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from conftest import EXAMPLES, Result, raw_database, small_workspace
from qaudit.db import Cycle, Store
from qaudit.db.draws import DEEP_DIVE, REGULAR
from qaudit.errors import CycleError
from qaudit.jobs.allocate import (
    AllocationPlan,
    AllocationRequest,
    RegularSelection,
    commit_allocation,
    plan_allocation,
)
from qaudit.jobs.plan import year_status
from qaudit.questions import load_question_set
from qaudit.sampling import Draw, DrawRules, StratumResult
from qaudit.workbooks.forms import (
    ABOUT_SHEET,
    FOLLOWS_UP_LABEL,
    FormCase,
    audit_form,
    form_layout,
)
from qaudit.workspace import Workspace

EXPORT = EXAMPLES / "case-export.xlsx"  # work completed 01/08/2026 to 20/11/2026
TODAY = date(2026, 11, 26)


class FirstCases(RegularSelection):
    """A selection of another kind: the first ``n`` eligible cases, with terms."""

    kind = DEEP_DIVE

    def __init__(self, n: int) -> None:
        self.n = n

    def draw(self, eligible: pd.DataFrame, excluded: dict[str, int], rules: DrawRules,
             rng: np.random.Generator) -> Draw:
        chosen = eligible.drop_duplicates("worker_id").head(self.n).copy()
        chosen["stratum_type"] = chosen["audit_type"]
        return Draw(chosen, [StratumResult("all", "deep dive", self.n, len(eligible),
                                           len(chosen))])

    def annotate(self, case: Mapping[Any, Any]) -> dict[str, str]:
        return {"drawn_because": "a test selection"}

    def terms(self) -> tuple[tuple[str, str], ...]:
        return (("Purpose", "=HYPERLINK(\"http://x\")"), ("Method", "Read ten cases"))

    def saved(self, store: Store, cycle: Cycle, plan: AllocationPlan) -> None:
        store.conn.execute(
            "INSERT INTO deep_dives (cycle_id, title, purpose, understand, method,"
            " terms_sha256, question_set, filters_json, size, blocks_later_draws, created_at)"
            " VALUES (?, 't', 'p', 'u', 'm', '', 'q', '[]', ?, 0, '')", (cycle.id, self.n))


def draw(ws: Workspace, cycle: str, first: date, last: date, selection: Any = None,
         seed: int = 3) -> Cycle:
    with ws.store() as store:
        request = AllocationRequest(
            export=EXPORT, cycle=cycle, date_from=first, date_to=last, today=TODAY,
            seed=seed, **({"selection": selection} if selection else {}))
        return commit_allocation(ws, store, plan_allocation(ws, store, request))


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return small_workspace(tmp_path / "ws", 1)


def test_a_deep_dive_is_its_own_kind_of_cycle_outside_the_year(ws: Workspace) -> None:
    regular = draw(ws, "2026-27 C1", date(2026, 8, 1), date(2026, 9, 11))
    themed = draw(ws, "Carers deep dive", date(2026, 8, 1), date(2026, 10, 31), FirstCases(6))
    assert (regular.kind, regular.regular) == (REGULAR, True)
    assert (themed.kind, themed.regular) == (DEEP_DIVE, False)
    with ws.store() as store:
        status = year_status(ws.settings, store, "2026-27")
        assert status.cycles == ["2026-27 C1"]  # its window overlaps C1's: allowed
        assert status.drawn == 20
        assert store.draws.cycles_up_to("Carers deep dive") == ["2026-27 C1"]
        assert store.draws.latest_cycle() == "2026-27 C1"  # `status` without --cycle
        deep = store.draws.allocations("Carers deep dive")
        assert len(deep) == 6 and {a.drawn_because for a in deep} == {"a test selection"}
        # A regular cycle later: the deep dive does not count toward the cool-down, and
        # (stored as not blocking) its people and records stay drawable.
        assert store.draws.recent_workers("2026-27 C2", date(2026, 10, 23), 1) == {
            a.worker_id for a in store.draws.allocations("2026-27 C1")}
        persons, _ = store.draws.drawn_elsewhere("2026-27 C2")
        assert not {a.person_id for a in deep} & persons
    with raw_database(ws) as conn:
        conn.execute("UPDATE deep_dives SET blocks_later_draws = 1")
    with ws.store() as store:
        persons, _ = store.draws.drawn_elsewhere("2026-27 C2")
        assert {a.person_id for a in store.draws.allocations("Carers deep dive")} <= persons


def test_a_name_keeps_its_kind(ws: Workspace) -> None:
    draw(ws, "Carers deep dive", date(2026, 8, 1), date(2026, 10, 31), FirstCases(4))
    with (pytest.raises(CycleError, match="is a deep dive, not a regular cycle"),
          ws.store() as store):
        request = AllocationRequest(
            export=EXPORT, cycle="Carers deep dive", date_from=date(2026, 8, 1),
            date_to=date(2026, 10, 31), today=TODAY, seed=1, redraw=True)
        commit_allocation(ws, store, plan_allocation(ws, store, request))


def test_a_deep_dives_forms_carry_its_terms_as_text_and_keep_the_audit_layout(
    ws: Workspace, run: Callable[..., Result]
) -> None:
    draw(ws, "Carers deep dive", date(2026, 8, 1), date(2026, 10, 31), FirstCases(2))
    forms = sorted((ws.cycle_dir("Carers deep dive") / "audit-forms").glob("*.xlsx"))
    assert len(forms) == 2
    book = load_workbook(forms[0])
    assert book.sheetnames[:2] == ["Audit", ABOUT_SHEET]
    about = book[ABOUT_SHEET]
    texts = [c.value for row in about.iter_rows() for c in row if c.value]
    assert "Terms of reference" in texts and "Read ten cases" in texts
    formula = next(c for row in about.iter_rows() for c in row
                   if isinstance(c.value, str) and "HYPERLINK" in c.value)
    assert formula.data_type == "s"  # text, never a formula
    assert "terms of reference are on the sheet" in str(book["Audit"]["A2"].value)
    register = load_workbook(ws.cycle_dir("Carers deep dive") / "register.xlsx")
    facts = {r[0]: r[1] for r in register["Draw"].iter_rows(values_only=True) if r[0]}
    assert facts.get("Kind") == "deep dive"
    header, *rows = register["Allocations"].iter_rows(values_only=True)
    because = header.index("Drawn because")
    assert header[because - 1] == "Follows up"
    assert {r[because] for r in rows} == {"a test selection"}


def test_a_re_audit_form_names_the_audit_it_follows_up_without_moving_a_named_cell(
    tmp_path: Path,
) -> None:
    questions = load_question_set("care_act_assessment")
    plain = audit_form(questions, "Care Act assessment", {}, "ws")
    follow = audit_form(questions, "Care Act assessment", {}, "ws", follow_up=True)
    case = FormCase(cycle="2026-27 C4 re-audits", reference="2026-27-C4-RE-001",
                    audit_type_name="Care Act assessment", person_id="P1", practitioner="W1",
                    team="T", quadrant="Mid", completed_date=date(2026, 11, 2),
                    due_date=date(2026, 12, 20), follows_up="2026-27-C1-004")
    follow.write(tmp_path / "f.xlsx", case)
    book = load_workbook(tmp_path / "f.xlsx")
    about = {r[0]: r[1] for r in book[ABOUT_SHEET].iter_rows(values_only=True) if r[0]}
    assert about[FOLLOWS_UP_LABEL] == "2026-27-C1-004"

    def named(template: Any) -> dict[str, str]:
        return {name: str(list(d.destinations)) for name, d in
                template.sheet.wb.defined_names.items()}

    assert named(plain) == named(follow)  # ingest's layout check holds for both
    assert set(form_layout("audit", questions)) == set(named(follow))
