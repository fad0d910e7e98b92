"""`qaudit workshop make|ingest|stats|list`: audit-the-auditor workshops."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qaudit.commands.common import (
    JsonOption,
    current_workspace,
    date_option,
    err,
    escape,
    out,
    print_json,
    print_path,
    progress_bar,
    step,
    today,
)
from qaudit.commands.tables import findings_table, fixed, numbers, show, table, text
from qaudit.errors import Status

if TYPE_CHECKING:
    from qaudit.agreement import Coefficient
    from qaudit.jobs.workshop import WorkshopStats

workshop_app = typer.Typer(
    help="Audit-the-auditor workshops: several auditors grade the same anonymised cases on"
    " their own, and how far they agree (with each other and with the grade of record) is"
    " measured. The framework asks for one at least quarterly; `qaudit plan show` shows"
    " each quarter's.",
    no_args_is_help=True, rich_markup_mode="rich",
    epilog="Example: [bold]qaudit workshop make 'Q2 2026-27' --cases 6 --participants 8"
    " --held 14/09/2026[/bold], hand out the pack and the grading workbooks, then"
    " [bold]qaudit workshop ingest FOLDER[/bold] and [bold]qaudit workshop stats"
    " 'Q2 2026-27'[/bold]",
)


def register(app: typer.Typer) -> None:
    app.add_typer(workshop_app, name="workshop")


@workshop_app.command(
    "make",
    epilog="Example: [bold]qaudit workshop make 'Q2 2026-27' --cases 6 --participants 8"
    " --held 14/09/2026[/bold]\n\n"
    "Named participants, cases from one cycle: [bold]qaudit workshop make 'Q3 2026-27'"
    " --cases 5 --participants 'Ruth Okonjo, Tom Ashdown, Priya Raman' --from-cycle"
    " '2026-27 C3'[/bold]",
)
def workshop_make(
    name: Annotated[str, typer.Argument(help="The workshop's name, e.g. 'Q2 2026-27'.")],
    cases: Annotated[int, typer.Option("--cases", "-n", help="How many returned audits to"
                                       " grade (2 to 40).")],
    participants: Annotated[str, typer.Option(
        "--participants", "-p", help="How many participants (e.g. 8), or their names"
        " separated by commas.")],
    from_cycle: Annotated[str | None, typer.Option(
        "--from-cycle", "-c", help="Take the cases from this cycle (default: every cycle"
        " not cancelled).")] = None,
    held: Annotated[str | None, typer.Option(
        "--held", help="The day the workshop was held (dd/mm/yyyy; default today): it"
        " decides the quarter it counts for, so not a day to come, nor more than a year"
        " ago.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for the draw of cases"
                                             " (recorded).")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Folder to write the workshop's folder in (default: the"
        " workspace's workshops folder).", file_okay=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Make a workshop: draw its cases and write the pack and a grading workbook each.

    The cases are returned audits drawn at random (seeded, recorded), spread over audit
    types and grades of record as far as they allow. The pack shows each case's audited
    work (answers, comments, strengths and learning) with every person, practitioner and
    auditor identifier removed, and without its grade; each participant grades every case
    in a grading workbook of their own.
    """
    from qaudit.jobs.workshop import MakeRequest, make

    given = participants.strip()
    count: int | tuple[str, ...] = int(given) if given.isdigit() else tuple(given.split(","))
    held_on = today() if held is None else date_option(held, "--held")
    ws = current_workspace()
    with ws.store() as store, progress_bar(quiet=as_json) as progress:
        made = make(ws, store, MakeRequest(
            name=name, cases=cases, participants=count, held_on=held_on, today=today(),
            from_cycle=from_cycle, seed=seed, out=out_dir),
            on_file=step(progress, "Writing workbooks"))
    if as_json:
        print_json(made.to_json())
        return
    drawn = table()
    fixed(drawn, "Case")
    text(drawn, "Audit type")
    fixed(drawn, "Reference (not in the pack)")
    for label, kind, reference in made.cases:
        drawn.add_row(escape(label), escape(kind), escape(reference))
    show(drawn, escape(f"Workshop {made.name}, held on {made.held_on:%d/%m/%Y}"))
    out.print(escape(
        f"{len(made.cases)} cases from {made.candidates} returned audits: audit types"
        f" {made.types_covered} of {made.types_available}, grades of record"
        f" {made.grades_covered} of {made.grades_available}."))
    print_path("Pack:", made.pack)
    print_path(f"Grading workbooks ({len(made.grading)}), in", made.folder)
    out.print(f"Seed [bold]{made.seed}[/bold] (recorded).")


@workshop_app.command(
    "ingest",
    epilog="Example: [bold]qaudit workshop ingest workshops/Q2-2026-27/returned[/bold]\n\n"
    "Only one workshop's: [bold]qaudit workshop ingest FOLDER --workshop 'Q2"
    " 2026-27'[/bold]\n\n"
    "A participant's corrected workbook: [bold]qaudit workshop ingest"
    " corrected/Q2-2026-27-grading-participant-03.xlsx --replace[/bold]",
)
def workshop_ingest(
    paths: Annotated[list[Path], typer.Argument(help="Filled grading workbooks, or folders"
                                                " holding them.")],
    workshop: Annotated[str | None, typer.Option(
        "--workshop", help="Refuse workbooks of any other workshop.")] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Let a workbook with other grades replace a participant's grades"
        " already in (the earlier ones are kept as history).")] = False,
    restore: Annotated[bool, typer.Option(
        "--restore", help="Let an older copy, since replaced, become the"
        " participant's grades again (implies --replace).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Record the participants' grades: each workbook whole, or not at all.

    The same grades again change nothing ("unchanged"). A workbook with other grades from a
    participant whose grades are in is refused, each difference listed, unless --replace;
    an older copy of grades since replaced is skipped ("superseded"), so ingesting the
    original folder again never undoes a correction. Two workbooks of one participant with
    different grades in one run are both refused. Exit status 1 if any file was refused.
    """
    from qaudit.jobs.workshop import ingest

    ws = current_workspace()
    with ws.store() as store:
        results = ingest(store, paths, today=today(), workshop=workshop, replace=replace,
                         restore=restore)
    refused = [r for r in results if r.status is Status.REFUSED]
    if as_json:
        print_json([r.to_json() for r in results])
    else:
        files = table()
        fixed(files, "File", "Status")
        text(files, "Workshop, participant: grades")
        for r in results:
            graded = f": {r.graded} graded" if r.graded else ""
            files.add_row(escape(r.path.name), str(r.status),
                          escape(f"{r.workshop}, {r.participant}{graded}" if r.workshop
                                 else r.participant))
        show(files)
        for r in results:
            for warning in r.warnings:
                err.print(escape(f"Warning: {r.path.name}: {warning}"), style="yellow")
            if r.ungraded and r.status in (Status.ACCEPTED, Status.REPLACED):
                err.print(escape(f"Warning: {r.path.name}: {', '.join(r.ungraded)} not graded"
                                 " (counted as missing)."), style="yellow")
        findings = [f for r in refused for f in r.findings]
        if findings:
            show(findings_table("Refused: nothing of these workbooks was stored", findings))
    if refused:
        raise typer.Exit(1)


@workshop_app.command(
    "stats",
    epilog="Example: [bold]qaudit workshop stats 'Q2 2026-27'[/bold]",
)
def workshop_stats(
    name: Annotated[str, typer.Argument(help="The workshop.")],
    internal: Annotated[bool, typer.Option(
        "--internal", help="Show participants' names and the cases' references (for the"
        " workshop's lead only).")] = False,
    as_json: JsonOption = False,
) -> None:
    """How far the participants agree: Fleiss' kappa, Gwet's AC2 and Krippendorff's alpha.

    Gwet's AC2 uses ordinal weights and Krippendorff's alpha the ordinal metric, so grades
    one apart count as closer than grades three apart; each has a 95% interval (a
    percentile bootstrap over cases, seeded with the workshop's recorded seed). Then each
    participant against the grade of record (the moderated grade where the audit was
    moderated), and the cases graded most differently.
    """
    from qaudit.jobs.workshop import stats

    ws = current_workspace()
    with ws.store() as store:
        result = stats(ws, store, name)
    if as_json:
        print_json(result.to_json(internal))
        return
    _print_stats(result, internal)


def _figure(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _print_stats(s: WorkshopStats, internal: bool) -> None:
    from qaudit.grading import GRADES, LABEL

    a = s.agreement
    out.print(escape(f"Workshop {s.workshop}, held on {s.held_on:%d/%m/%Y}: {a.cases} cases,"
                     f" {s.returned} of {s.participants} participants' grades in,"
                     f" {a.grades} grades."))
    coefficients = table()
    text(coefficients, "Coefficient")
    numbers(coefficients, "Value", "95% interval")

    def row(c: Coefficient) -> None:
        ci = "—" if c.interval is None else (f"{c.interval.low:.2f} to"
                                             f" {c.interval.high:.2f}")
        coefficients.add_row(c.name, _figure(c.value), ci)

    for coefficient in (a.fleiss_kappa, a.gwet_ac2, a.krippendorff_alpha):
        row(coefficient)
    show(coefficients, "Agreement among the participants")
    out.print(escape(f"Intervals: percentile bootstrap over cases, {s.resamples} resamples,"
                     f" seed {s.seed} (the workshop's). A dash: undefined (every grade the"
                     " same) or too few cases."))
    people = table()
    text(people, "Participant")
    numbers(people, "Graded", "Same grade", "Within one", "Mean grades apart")
    text(people, "Leaning")
    numbers(people, "Weighted kappa")
    for p in s.by_participant:
        g = p.against
        lean = ("—" if g.mean_difference is None else "more generous"
                if g.mean_difference > 0.25 else "harsher" if g.mean_difference < -0.25
                else "in line")
        who = p.label + (f" ({p.name})" if internal and p.name else "")
        people.add_row(escape(who), str(g.graded), _percent(g.exact), _percent(g.within_one),
                       _figure(g.mean_distance), lean, _figure(g.weighted_kappa))
    show(people, "Each participant against the grade of record")
    cases = table()
    text(cases, "Case, audit type", "Grade of record")
    numbers(cases, *(g.short for g in GRADES), "Mean grades apart")
    for c in s.cases:
        case = f"{c.label} ({c.reference})" if internal else c.label
        cases.add_row(escape(f"{case}\n{c.audit_type}"),
                      LABEL.get(c.grade_of_record, c.grade_of_record),
                      *(str(n) for n in c.counts), _figure(c.disagreement))
    show(cases, "Cases graded most differently first")


@workshop_app.command(
    "list",
    epilog="Example: [bold]qaudit workshop list[/bold]",
)
def workshop_list(as_json: JsonOption = False) -> None:
    """Every workshop: when it was held, its cases, participants and grades returned."""
    from qaudit.jobs.workshop import summaries

    ws = current_workspace()
    with ws.store() as store:
        rows = summaries(store)
    if as_json:
        print_json([{"workshop": r.name, "held_on": r.held_on.isoformat(),
                     "from_cycle": r.from_cycle, "cases": r.cases,
                     "participants": r.participants, "returned": r.returned} for r in rows])
        return
    if not rows:
        out.print("No workshop yet; make one with `qaudit workshop make NAME --cases N"
                  " --participants N`.")
        return
    workshops = table()
    text(workshops, "Workshop")
    fixed(workshops, "Held on")
    text(workshops, "Cases from")
    numbers(workshops, "Cases", "Participants", "Returned")
    for r in rows:
        workshops.add_row(escape(r.name), f"{r.held_on:%d/%m/%Y}", escape(r.from_cycle or "all"),
                          str(r.cases), str(r.participants), str(r.returned))
    show(workshops)

