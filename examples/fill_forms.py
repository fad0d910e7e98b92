"""Fill generated forms the way people do, for the demo and the tests. Synthetic only.

    python examples/fill_forms.py CYCLE_DIR OUT_DIR --managers [--seed N]
    python examples/fill_forms.py CYCLE_DIR RETURNS_DIR [--seed N] [--mistakes DIR]
                                  [--named OUT_DIR]
    python examples/fill_forms.py CYCLE_DIR OUT_DIR --moderation

With ``--managers``, each Service Manager names an auditor for their cases (name, work
email, role, date allocated), mostly from a few of their senior staff, so some auditors
are named for several cases; one leaves a case unnamed for now. With ``--named``, the
audit forms are filled in the name of the auditor the Service Manager named.

Auditors type answers in varied case and spacing (``yes``, `` Y ``, ``n/a``), add some
comments, grade some cases Requires improvement with corrective actions, escalate one,
and one inserts a row above the questions. About nine in ten audits and eight in ten
self-reflections come back. With ``--mistakes``, a few more forms are filled wrongly
(an unknown grade, no rationale, a formula, an escalation without whom or when) so the
demo can show what ingest refuses.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.worksheet import Worksheet

GRADES = ("Requires improvement", "Adequate", "Good", "Outstanding")
GRADE_WEIGHTS = (0.1, 0.25, 0.5, 0.15)
NO_RATE = {"Requires improvement": 0.45, "Adequate": 0.25, "Good": 0.08, "Outstanding": 0.02}
AUDITORS = ("Ruth Okonjo", "Marcus Fenwick", "Priya Raman", "Tom Ashdown", "Helen Cartwright",
            "Grace Mbeki", "Daniel Wren", "Sofia Lindqvist")
ROLES = ("Senior Practitioner", "senior practitioner", "Advanced Practitioner", "Practice Lead",
         "Team Manager")
COMMENTS = (
    "Clear record of the person's own words.", "No evidence of this in the case notes.",
    "Partly: discussed but not recorded in detail.", "Good use of the person's strengths.",
    "Carer's views recorded separately.", "Advocacy not considered.",
)


def named_cell(wb: Workbook, name: str) -> tuple[Worksheet, str]:
    ((sheet, ref),) = list(wb.defined_names[name].destinations)
    return wb[sheet], ref.replace("$", "")


class Typed(str):
    """Text typed without a leading apostrophe: Excel makes ``=1+1`` a formula, ``#N/A`` an
    error. Plain strings are written as text, as a person's apostrophe would keep them."""


def put(wb: Workbook, name: str, value: Any) -> None:
    ws, ref = named_cell(wb, name)
    cell = ws[ref]
    cell.value = value
    if isinstance(value, str) and not isinstance(value, Typed):
        cell.data_type = "s"


def typed(answer: str, rng: random.Random) -> str:
    """An answer as a person might type it instead of choosing from the drop-down."""
    variants = {
        "Yes": ["Yes", "Yes", "yes", " Yes ", "Y", "YES"],
        "No": ["No", "No", "no", "N", " no"],
        "N/A": ["N/A", "n/a", "NA", "N/a"],
    }[answer]
    return rng.choice(variants)


def insert_rows_like_excel(wb: Workbook, ws: Worksheet, idx: int, amount: int = 1) -> None:
    """Insert rows as Excel does: names, merged cells and drop-downs below move down."""
    ws.insert_rows(idx, amount)
    for name, definition in list(wb.defined_names.items()):
        sheet, ref = next(iter(definition.destinations))
        m = re.match(r"^\$([A-Z]+)\$(\d+)$", ref)
        if sheet == ws.title and m and int(m[2]) >= idx:
            target = f"'{sheet}'!${m[1]}${int(m[2]) + amount}"
            wb.defined_names[name] = DefinedName(name, attr_text=target)
    for merged in list(ws.merged_cells.ranges):
        if merged.min_row >= idx:
            ws.merged_cells.remove(merged)
            moved = CellRange(merged.coord)
            moved.shift(row_shift=amount)
            ws.merged_cells.add(moved)
    for dv in ws.data_validations.dataValidation:
        ranges = []
        for cell_range in dv.sqref.ranges:
            moved = CellRange(cell_range.coord)
            if moved.min_row >= idx:
                moved.shift(row_shift=amount)
            ranges.append(moved.coord)
        dv.sqref = " ".join(ranges)  # type: ignore[assignment]


def meta(wb: Workbook) -> dict[str, str]:
    return {str(k): str(v) for k, v, *_ in wb["_qaudit"].iter_rows(values_only=True)}


def fill_audit(
    src: Path, dst: Path, rng: random.Random, *, grade: str | None = None,
    escalate: bool = False, insert_row: bool = False, overrides: Mapping[str, Any] = (),
    when: date | None = None, auditor: str | None = None,
) -> dict[str, Any]:
    """Fill one audit form; returns what was meant (answers normalised) for checking."""
    wb = load_workbook(src)
    grade = grade or rng.choices(GRADES, GRADE_WEIGHTS)[0]
    questions = sorted(n[4:] for n in wb.defined_names if n.startswith("ans_"))
    meant: dict[str, Any] = {"grade": grade, "answers": {}}
    for qid in questions:
        roll = rng.random()
        answer = "N/A" if roll < 0.06 else ("No" if roll < 0.06 + NO_RATE[grade] else "Yes")
        put(wb, f"ans_{qid}", typed(answer, rng))
        comment = rng.choice(COMMENTS) if rng.random() < 0.3 else None
        put(wb, f"cmt_{qid}", comment)
        meant["answers"][qid] = (answer, comment or "")
    done = when or date.today() - timedelta(days=rng.randint(0, 3))
    put(wb, "grade", grade if rng.random() < 0.8 else f" {grade.lower()} ")
    put(wb, "rationale", f"Graded {grade} on the evidence in the assessment and case notes.")
    put(wb, "strengths", "The person's wishes are clear throughout." if rng.random() < 0.7
        else None)
    put(wb, "learning", "Record the eligibility outcomes explicitly to reach Good or better.")
    put(wb, "share_good_practice", "Yes" if grade in GRADES[2:] and rng.random() < 0.5 else "No")
    if grade == GRADES[0]:
        put(wb, "ri_action", "Team manager to review the assessment with the practitioner.")
        put(wb, "ri_by", "Team manager")
        put(wb, "ri_due", done + timedelta(days=28))
    put(wb, "esc_raised", "Yes" if escalate else "No")
    if escalate:
        put(wb, "esc_to", "Team manager")
        put(wb, "esc_name", "A. Manager")
        put(wb, "esc_date", done)
        put(wb, "esc_note", "Risk to the person not followed up; manager agreed a visit.")
    drawn_auditor = rng.choice(AUDITORS)  # drawn even when named, so the seed fills the same
    put(wb, "auditor_name", auditor or drawn_auditor)
    put(wb, "auditor_role", rng.choice(ROLES))
    put(wb, "auditor_date", done)
    for name, value in dict(overrides).items():
        put(wb, name, value)
    if insert_row:
        ws, ref = named_cell(wb, f"ans_{questions[0]}")
        insert_rows_like_excel(wb, ws, int(re.sub(r"\D", "", ref)) - 1)
    dst.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dst)
    return meant


def fill_reflection(src: Path, dst: Path, rng: random.Random) -> None:
    wb = load_workbook(src)
    put(wb, "sr_went_well", "I involved the person's daughter as they wished.")
    put(wb, "sr_differently", "Record the strengths conversation in more detail."
        if rng.random() < 0.6 else None)
    put(wb, "sr_support", "Training on the eligibility regulations." if rng.random() < 0.4
        else None)
    put(wb, "sr_grade", rng.choice([*GRADES[1:], None]))
    put(wb, "sr_date", date.today() - timedelta(days=rng.randint(0, 5)))
    dst.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dst)


def auditor_email(name: str) -> str:
    """A synthetic work email for a synthetic auditor (example.org is reserved for examples)."""
    return ".".join(re.sub(r"[^a-z]", "", part) for part in name.lower().split()) + "@example.org"


def manager_cases(wb: Workbook) -> list[str]:
    """The references of a Service Manager workbook, in the table's row order."""
    return list(json.loads(meta(wb)["references"]))


FIRST_NAMES = ("Adaeze", "Bryony", "Callum", "Delia", "Eamon", "Farah", "Gethin", "Hana",
               "Idris", "Jolene", "Kwame", "Lowri", "Mirela", "Niall", "Orla", "Pavel")
LAST_NAMES = ("Achterberg", "Brennan", "Castellano", "Dunmore", "Ekwueme", "Fairweather",
              "Gorecki", "Halloran", "Iqbal", "Jennings", "Kowalczyk", "Lindgren")


def senior_staff(rng: random.Random, managers: int, each: int = 3) -> list[list[str]]:
    """Synthetic senior practitioners, ``each`` per Service Manager, nobody in two teams."""
    names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(names)
    return [names[i * each:(i + 1) * each] for i in range(managers)]


def fill_manager(
    src: Path, dst: Path, rng: random.Random, *, blank: tuple[int, ...] = (),
    overrides: Mapping[str, Any] = (), when: date | None = None, insert_row: bool = False,
    pool: list[str] | None = None,
) -> dict[str, tuple[str, str, str]]:
    """A Service Manager names an auditor for each case (row ``n`` from 1; rows in ``blank``
    are left for later), choosing among two or three of their senior staff (``pool``), so
    some are named for several cases. Returns reference -> (name, email, role) as meant."""
    wb = load_workbook(src)
    pool = pool or rng.sample(AUDITORS, 3)
    roles = {name: rng.choice(ROLES[2:]) for name in pool}
    meant: dict[str, tuple[str, str, str]] = {}
    for n, reference in enumerate(manager_cases(wb), start=1):
        if n in blank:
            continue
        name = rng.choice(pool)
        role = roles[name]
        email = auditor_email(name)
        put(wb, f"sm_{n}_auditor", name if rng.random() < 0.8 else f" {name} ")
        put(wb, f"sm_{n}_email", email if rng.random() < 0.8 else email.upper())
        put(wb, f"sm_{n}_role", role if rng.random() < 0.8 else role.lower())
        put(wb, f"sm_{n}_date", when or date.today() - timedelta(days=rng.randint(0, 3)))
        meant[reference] = (name, email, role)
    for name, value in dict(overrides).items():
        put(wb, name, value)
    if insert_row:
        ws, _ = named_cell(wb, "sm_1_auditor")
        insert_rows_like_excel(wb, ws, 4, 2)
    dst.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dst)
    return meant


def named_auditors(folder: Path) -> dict[str, str]:
    """Reference -> the auditor named in the filled Service Manager workbooks of a folder."""
    named: dict[str, str] = {}
    for book in sorted(folder.glob("*.xlsx")):
        wb = load_workbook(book)
        for n, reference in enumerate(manager_cases(wb), start=1):
            ws, ref = named_cell(wb, f"sm_{n}_auditor")
            if ws[ref].value:
                named[reference] = str(ws[ref].value).strip()
    return named


def fill_managers(cycle_dir: Path, out: Path, seed: int) -> None:
    rng = random.Random(seed)
    books = sorted((cycle_dir / "service-managers").glob("*.xlsx"))
    for i, (book, pool) in enumerate(zip(books, senior_staff(rng, len(books)), strict=True)):
        fill_manager(book, out / book.name, rng, blank=(2,) if i == 0 else (), pool=pool)


THEMES = ("Person's voice", "Quality of practice", "Impact of practice", "Quality of recording",
          "Applying the grading criteria", "Quality of feedback")
LEARNING = (
    "Rationale should cite the eligibility outcomes, not only the assessment summary.",
    "Good balance of strengths and learning in the feedback.",
    "Grade was generous: the person's voice is missing from the support plan.",
    "Feedback could say more specifically how to reach Good.",
)


def fill_moderation(src: Path, dst: Path, rng: random.Random,
                    overrides: Mapping[str, Any] = ()) -> dict[int, str]:
    """The Practice Leads' session: mostly agreeing, sometimes a grade apart."""
    wb = load_workbook(src)
    positions = sorted(int(k[5:]) for k in meta(wb) if k.startswith("item_"))
    sheet = wb["Moderation"]
    agreed: dict[int, str] = {}
    for n in positions:
        _, ref = named_cell(wb, f"mod_{n}_grade")
        shown = sheet[f"E{ref[1:]}"].value
        rank = GRADES.index(shown) if shown in GRADES else rng.randrange(4)
        if rng.random() < 0.2:
            rank = min(3, max(0, rank + rng.choice((-1, 1))))
        agreed[n] = GRADES[rank]
        put(wb, f"mod_{n}_grade", GRADES[rank] if rng.random() < 0.8 else GRADES[rank].upper())
        put(wb, f"mod_{n}_constructive", "Yes" if rng.random() < 0.85 else "No")
        put(wb, f"mod_{n}_strengths", "Yes" if rng.random() < 0.8 else "no")
        put(wb, f"mod_{n}_learning_named", "Yes" if rng.random() < 0.7 else "N")
        put(wb, f"mod_{n}_theme", rng.choice(THEMES))
        put(wb, f"mod_{n}_comments", "Discussed as a group." if rng.random() < 0.5 else None)
        put(wb, f"mod_{n}_learning", rng.choice(LEARNING))
    for name, value in dict(overrides).items():
        put(wb, name, value)
    dst.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dst)
    return agreed


MISTAKES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("unknown-grade", {"grade": "Excellent"}),
    ("no-rationale", {"rationale": None}),
    ("formula-answer", {"ans_V1": Typed("=1+1")}),
    ("escalation-without-whom", {"esc_raised": "Yes", "esc_to": None, "esc_date": None}),
)


def fill_cycle(cycle_dir: Path, out: Path, seed: int, mistakes: Path | None,
               named: Mapping[str, str] | None = None) -> None:
    named = named or {}
    rng = random.Random(seed)
    forms = sorted((cycle_dir / "audit-forms").glob("*-audit.xlsx"))
    returned = [f for f in forms if rng.random() < 0.9]
    left = [f for f in forms if f not in returned]
    escalated = inserted = False
    for form in returned:
        grade = rng.choices(GRADES, GRADE_WEIGHTS)[0]
        escalate = grade == GRADES[0] and not escalated
        fill_audit(form, out / form.name, rng, grade=grade, escalate=escalate,
                   insert_row=not inserted,
                   auditor=named.get(form.name.removesuffix("-audit.xlsx")))
        escalated |= escalate
        inserted = True
    for form in sorted((cycle_dir / "self-reflection").glob("*.xlsx")):
        if rng.random() < 0.8:
            fill_reflection(form, out / form.name, rng)
    if mistakes is not None:
        for (label, overrides), form in zip(MISTAKES, left, strict=False):
            fill_audit(form, mistakes / f"{form.stem}-{label}.xlsx", rng, grade="Good",
                       overrides=overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cycle_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mistakes", type=Path)
    parser.add_argument("--moderation", action="store_true",
                        help="fill CYCLE_DIR/moderation/*.xlsx into OUT instead")
    parser.add_argument("--managers", action="store_true",
                        help="fill CYCLE_DIR/service-managers/*.xlsx into OUT instead")
    parser.add_argument("--named", type=Path,
                        help="filled Service Manager workbooks: audit forms in their names")
    args = parser.parse_args()
    if args.managers:
        fill_managers(args.cycle_dir, args.out, args.seed)
        print(f"Filled the Service Manager workbooks into {args.out}")
        return
    if args.moderation:
        for book in sorted((args.cycle_dir / "moderation").glob("*-moderation.xlsx")):
            fill_moderation(book, args.out / book.name, random.Random(args.seed))
        print(f"Filled the moderation workbook into {args.out}")
        return
    fill_cycle(args.cycle_dir, args.out, args.seed, args.mistakes,
               named_auditors(args.named) if args.named else None)
    print(f"Filled forms in {args.out}" + (f"; wrong ones in {args.mistakes}"
                                            if args.mistakes else ""))


if __name__ == "__main__":
    main()
