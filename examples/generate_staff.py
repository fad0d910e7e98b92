"""Make a synthetic staff list that matches the example case export. Synthetic only.

Every practitioner of ``examples/case-export.xlsx`` gets a row with their worker id, name
and team as the export gives them, a role, their team manager as line manager and their
team's Service Manager; then each team's manager, each Service Manager and a Head of
Service per quadrant get rows of their own (auditors are chosen among Senior Practitioners
and above, so they must be on the list too). Emails are invented, ``first.last@example.org``
(a reserved domain: nothing can ever be sent there). A few practitioners have no email, to
show how ``qaudit staff import`` lists them.

Usage::

    python examples/generate_staff.py --export examples/case-export.xlsx --seed 11 \\
        --out examples/staff.csv

The same export and seed always give the same bytes (``random.Random(seed)``; the global
random state is never used).
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generate_export import FIRST_NAMES, SURNAMES  # noqa: E402

HEADERS = ["Worker ID", "Name", "Email", "Team", "Role", "Line Manager", "Line Manager Email",
           "Service Manager", "Service Manager Email"]
DOMAIN = "example.org"
#: Roles of the practitioners whose work is audited, and how often each is given.
PRACTITIONER_ROLES = (("Social Worker", 0.55), ("Social Care Practitioner", 0.25),
                      ("Occupational Therapist", 0.12), ("Assistant Practitioner", 0.08))
WITHOUT_EMAIL = 4


@dataclass(frozen=True)
class Person:
    worker_id: str
    name: str
    email: str
    team: str
    role: str
    line_manager: Person | None = None
    service_manager: Person | None = None

    def row(self) -> list[str]:
        lm, sm = self.line_manager, self.service_manager
        return [self.worker_id, self.name, self.email, self.team, self.role,
                lm.name if lm else "", lm.email if lm else "", sm.name if sm else "",
                sm.email if sm else ""]


def read_organisation(export: Path) -> list[tuple[str, str, str, str, str]]:
    """(worker id, name, team, Service Manager, quadrant) of every worker in the export,
    read as qaudit reads it, in worker id order."""
    from qaudit.config import Settings
    from qaudit.workbooks.case_export import read_export

    cases = read_export(export, Settings()).cases
    workers = cases[["worker_id", "worker_name", "team", "service_manager", "quadrant"]]
    first = workers.drop_duplicates("worker_id").sort_values("worker_id")
    return [tuple(str(v) for v in row) for row in first.itertuples(index=False)]  # type: ignore[misc]


class Emails:
    """first.last@example.org, made unique with a number where two people share a name."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def __call__(self, name: str) -> str:
        words = re.findall(r"[a-z]+", name.lower().replace("'", ""))
        local = ".".join([words[-1], words[0]] if name.lstrip().startswith("=") else words)
        address, n = f"{local}@{DOMAIN}", 1
        while address in self.taken:
            n += 1
            address = f"{local}{n}@{DOMAIN}"
        self.taken.add(address)
        return address


def build_staff(export: Path, seed: int) -> list[Person]:
    rng = random.Random(f"staff:{seed}")
    workers = read_organisation(export)
    taken = {w[1] for w in workers} | {w[3] for w in workers}
    email = Emails()

    def new_name() -> str:
        while True:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
            if name not in taken:
                taken.add(name)
                return name

    numbers = iter(rng.sample(range(10000, 100000), 200))
    quadrants = sorted({w[4] for w in workers})
    heads: dict[str, Person] = {}
    for quadrant in quadrants:
        name = new_name()
        heads[quadrant] = Person(f"H{next(numbers)}", name, email(name),
                                 f"{quadrant} Adult Social Care", "Head of Service")
    managers: dict[str, Person] = {}
    for _, _, _, sm, quadrant in workers:
        if sm not in managers:
            managers[sm] = Person(f"S{next(numbers)}", sm, email(sm),
                                  f"{quadrant} Adult Social Care", "Service Manager",
                                  heads[quadrant], heads[quadrant])
    team_managers: dict[str, Person] = {}
    for _, _, team, sm, _ in workers:
        if team not in team_managers:
            name = new_name()
            team_managers[team] = Person(f"T{next(numbers)}", name, email(name), team,
                                         "Team Manager", managers[sm], managers[sm])
    by_team: dict[str, list[tuple[str, str, str, str, str]]] = {}
    for w in workers:
        by_team.setdefault(w[2], []).append(w)
    senior: dict[str, str] = {}
    for _team, members in sorted(by_team.items()):
        chosen = rng.sample(members, 2 if len(members) >= 5 else 1)
        senior[chosen[0][0]] = "Senior Practitioner"
        if len(chosen) > 1:
            senior[chosen[1][0]] = rng.choice(("Senior Practitioner", "Advanced Practitioner"))
    roles, weights = zip(*PRACTITIONER_ROLES, strict=True)
    no_email = set(rng.sample([w[0] for w in workers if w[0] not in senior], WITHOUT_EMAIL))
    people = []
    for worker_id, name, team, sm, _ in workers:
        role = senior.get(worker_id) or rng.choices(roles, weights)[0]
        address = "" if worker_id in no_email else email(name)
        people.append(Person(worker_id, name, address, team, role, team_managers[team],
                             managers[sm]))
    return [*people, *team_managers.values(), *managers.values(), *heads.values()]


def staff_csv(people: list[Person]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows(p.row() for p in people)
    return text.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", type=Path, default=HERE / "case-export.xlsx")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=HERE / "staff.csv")
    args = parser.parse_args(argv)
    people = build_staff(args.export, args.seed)
    args.out.write_text(staff_csv(people), encoding="utf-8", newline="")
    print(f"Wrote {len(people)} people to {args.out}")


if __name__ == "__main__":
    main()
