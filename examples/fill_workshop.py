"""Fill an audit workshop's grading workbooks as participants would. Synthetic only.

    python examples/fill_workshop.py WORKSHOP_DIR OUT_DIR [--seed N]

Each participant grades every case of the pack: most give the grade most of the room
gives (drawn once per case, seeded), some are a grade more generous or harsher, one in
a while leaves a note; the grades are typed as people do ('good', ' Requires
Improvement'). The filled workbooks go to OUT_DIR, ready for `qaudit workshop ingest`.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from openpyxl import Workbook, load_workbook

GRADES = ("Requires improvement", "Adequate", "Good", "Outstanding")
TYPED = {
    "Requires improvement": ("Requires improvement", "requires improvement", " RI "),
    "Adequate": ("Adequate", "adequate"),
    "Good": ("Good", "good", " Good "),
    "Outstanding": ("Outstanding", "outstanding"),
}
NOTES = ("The person's voice is clear throughout.", "Risks are named but not analysed.",
         "Legal framework not referenced.", "Strong outcomes, well recorded.")


def case_names(wb: Workbook) -> list[int]:
    return sorted(int(n.split("_")[1]) for n in wb.defined_names if n.endswith("_grade"))


def put(wb: Workbook, name: str, value: str) -> None:
    ((sheet, ref),) = list(wb.defined_names[name].destinations)
    cell = wb[sheet][ref.replace("$", "")]
    cell.value = value
    cell.data_type = "s"


def fill_grading(src: Path, dst: Path, rng: random.Random, consensus: dict[int, int],
                 leaning: int = 0, grades: dict[int, str] | None = None) -> None:
    """One participant's workbook: the room's grade of each case, moved by ``leaning``
    (and by chance now and then), or exactly ``grades`` (position -> label) if given."""
    wb = load_workbook(src)
    for n in case_names(wb):
        if grades is not None:
            if n in grades:
                put(wb, f"wsh_{n}_grade", grades[n])
            continue
        rank = consensus[n] + leaning + (rng.choice((-1, 1)) if rng.random() < 0.2 else 0)
        label = GRADES[min(max(rank, 0), 3)]
        put(wb, f"wsh_{n}_grade", rng.choice(TYPED[label]))
        if rng.random() < 0.3:
            put(wb, f"wsh_{n}_note", rng.choice(NOTES))
    dst.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dst)


def fill_workshop(folder: Path, out: Path, seed: int) -> list[Path]:
    rng = random.Random(seed)
    books = sorted(folder.glob("*-grading-participant-*.xlsx"))
    if not books:
        raise SystemExit(f"no grading workbooks in {folder}")
    positions = case_names(load_workbook(books[0]))
    consensus = {n: rng.choices(range(4), weights=(1, 2, 4, 1))[0] for n in positions}
    written = []
    for i, book in enumerate(books):
        leaning = (1 if i % 5 == 1 else -1 if i % 5 == 3 else 0)
        fill_grading(book, out / book.name, rng, consensus, leaning)
        written.append(out / book.name)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workshop_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    written = fill_workshop(args.workshop_dir, args.out_dir, args.seed)
    print(f"{len(written)} grading workbooks filled in {args.out_dir}")


if __name__ == "__main__":
    main()
