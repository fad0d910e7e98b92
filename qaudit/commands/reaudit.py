"""`qaudit reaudit select|list|stats`: later work of a Requires improvement audit,
re-audited, and what the pairs show."""

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
from qaudit.commands.tables import NOTE_WIDTH, fixed, numbers, show, table, text
from qaudit.grading import LABEL

if TYPE_CHECKING:
    from qaudit.jobs.reaudit import ReauditRound, ReauditStats

reaudit_app = typer.Typer(
    help="Re-audits: after a Requires improvement audit and its corrective action, a later"
    " piece of the same practitioner's work is audited to see whether change happened.",
    no_args_is_help=True, rich_markup_mode="rich",
    epilog="Example: [bold]qaudit reaudit select export.xlsx --after '2026-27 C3' --from"
    " 01/12/2026 --to 31/01/2027[/bold], fill and [bold]qaudit ingest[/bold] the forms, then"
    " [bold]qaudit reaudit stats[/bold]",
)

AfterOption = Annotated[str, typer.Option(
    "--after", help="The regular cycle the round comes after: audits of this cycle or"
    " before are considered, and cycles are counted up to it.")]
GradesOption = Annotated[str, typer.Option(
    "--grades", help="Grades of record followed up, separated by commas.")]
MinCyclesOption = Annotated[int | None, typer.Option(
    "--min-cycles", help="Regular cycles drawn after the audit's, up to --after, before it is"
                         " due (default: \\[reaudits] min_cycles, 2).")]


def register(app: typer.Typer) -> None:
    app.add_typer(reaudit_app, name="reaudit")


def _grade(key: str | None) -> str:
    return LABEL.get(key, key) if key else "—"


@reaudit_app.command(
    "select",
    epilog="Example: [bold]qaudit reaudit select export.xlsx --after '2026-27 C3' --from"
    " 01/12/2026 --to 31/01/2027[/bold]\n\nCheck first: the same with [bold]--dry-run"
    "[/bold]; re-check a recorded round with its [bold]--seed N --dry-run[/bold].",
)
def reaudit_select(
    export: Annotated[Path, typer.Argument(help="A new case export: .xlsx, .xlsm or .csv.")],
    after: AfterOption,
    date_from: Annotated[str, typer.Option(
        "--from", help="First completion date of the later work drawn (dd/mm/yyyy).")],
    date_to: Annotated[str, typer.Option(
        "--to", help="Last completion date of the later work drawn (dd/mm/yyyy).")],
    grades: GradesOption = "requires_improvement",
    min_cycles: MinCyclesOption = None,
    cycle: Annotated[str | None, typer.Option(
        "--cycle", "-c", help="Name of the round (default: '<--after> re-audits').")] = None,
    due: Annotated[str | None, typer.Option(
        "--due", help="Returns due by (default: today + \\[cycle] return_days).")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Seed for the draw (default: a fresh one).")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Folder for the workbooks (default: <workspace>/cycles/<round>).",
        file_okay=False)] = None,
    sheet: Annotated[str | None, typer.Option(
        "--sheet", help="Read this sheet (default: found by header).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show the draw; write and store nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Draw a round of re-audits: one later piece of work of each practitioner (or team,
    \\[reaudits] by) whose audit was graded Requires improvement, once its corrective
    action is recorded and enough regular cycles have been drawn since.

    The later work is completed after the audited work and after its corrective action
    (the step's --on date), and inside --from/--to, drawn at random with a recorded seed;
    work of the audit's own type is preferred. The cool-down is waived for those workers
    only (recorded as the reason); persons and records audited before are still not drawn.
    Each re-audit is linked to the audit it follows up, which is followed up once. The round
    is a cycle of its own: its forms go through ingest, moderation and sending like any
    cycle's. A round is final once drawn: to draw it again, `qaudit cycle cancel ROUND`,
    then select again. --seed N --dry-run on a round already drawn re-checks it against who
    was due when it was drawn (recorded), whatever has been recorded since.
    """
    from qaudit.jobs.allocate import commit_allocation
    from qaudit.jobs.reaudit import SelectRequest, parse_grades, plan_round

    request = SelectRequest(
        export=export, after=after.strip(), date_from=date_option(date_from, "--from"),
        date_to=date_option(date_to, "--to"), today=today(), grades=parse_grades(grades),
        min_cycles=min_cycles, cycle=cycle.strip() if cycle else None,
        due=date_option(due, "--due") if due is not None else None, seed=seed,
        sheet=sheet, out=out_dir, dry_run=dry_run,
    )
    ws = current_workspace()
    with ws.store() as store, progress_bar(quiet=as_json) as progress:
        planned = plan_round(ws, store, request, progress=step(progress, "Reading export"))
        if not dry_run:
            commit_allocation(ws, store, planned.plan,
                              on_file=step(progress, "Writing workbooks"))
    plan = planned.plan
    for warning in plan.warnings:
        err.print(escape(f"Warning: {warning}"), style="yellow")
    if as_json:
        result = planned.to_json()
        result["dry_run"] = dry_run
        result["out"] = None if dry_run else str(plan.out_dir)
        print_json(result)
        return
    from qaudit.commands.allocate import show_plan

    show_plan(ws, plan)
    _show_round(planned)
    if dry_run:
        out.print("[bold]Dry run:[/bold] nothing was written or stored.")
    else:
        print_path(
            f"Wrote {len(plan.files)} workbooks: register.xlsx, {len(plan.managers)} Service"
            f" Manager workbooks, {len(plan.allocations)} audit forms and"
            f" {len(plan.allocations)} self-reflection forms, in", plan.out_dir)
    out.print(f"Seed [bold]{plan.seed}[/bold] (recorded; --seed {plan.seed} --dry-run on the"
              " same export reproduces this draw).")


def _show_round(planned: ReauditRound) -> None:
    drawn = table()
    fixed(drawn, "Follows up")
    text(drawn, "Grade")
    fixed(drawn, "Re-audit")
    text(drawn, "Note", min_width=NOTE_WIDTH)
    for d in planned.drawn:
        drawn.add_row(escape(d.audit.reference), _grade(d.audit.grade),
                      escape(d.reference or "not drawn"), escape(d.reason or d.drawn_because))
    show(drawn, escape(f"Re-audits for {planned.plan.request.cycle}"))
    if planned.not_drawn:
        out.print(escape(f"{len(planned.not_drawn)} due a re-audit had no eligible later work:"
                         " they stay due; draw again from a later export."), style="bold")
    if planned.due.not_due:
        out.print(escape(f"{len(planned.due.not_due)} other audit(s) not due now; `qaudit"
                         f" reaudit list --after '{planned.due_after}'` says why."))


@reaudit_app.command(
    "list",
    epilog="Example: [bold]qaudit reaudit list[/bold]  or  [bold]qaudit reaudit list --after"
    " '2026-27 C3' --min-cycles 1[/bold]",
)
def reaudit_list(
    after: Annotated[str | None, typer.Option(
        "--after", help="Count cycles up to this regular cycle (default: the latest drawn).")
    ] = None,
    grades: GradesOption = "requires_improvement",
    min_cycles: MinCyclesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every audit in the grades followed up, with its re-audit: waiting (and why), due,
    drawn (not returned) or returned (graded). Internal: references, not names."""
    from qaudit.jobs.reaudit import DueQuery, parse_grades, standings

    keys = parse_grades(grades)
    ws = current_workspace()
    with ws.store() as store:
        if after is None:
            cycles = store.reaudits.regular_cycles()
            after = cycles[-1] if cycles else None
        rows = standings(store, ws.settings, DueQuery(after.strip(), keys, min_cycles)
                         if after else None)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    if not rows:
        out.print("No audits to follow up with a re-audit yet.")
        return
    listed = table()
    fixed(listed, "Reference")
    text(listed, "Team", "Grade")
    fixed(listed, "State")
    text(listed, "Detail", min_width=NOTE_WIDTH)
    for r in rows:
        listed.add_row(escape(r.audit.reference), escape(r.audit.team), _grade(r.audit.grade),
                       r.state, escape(r.detail))
    show(listed, "Re-audits (internal)")


@reaudit_app.command(
    "stats",
    epilog="Example: [bold]qaudit reaudit stats[/bold]  or  [bold]qaudit reaudit stats"
    " --json[/bold]",
)
def reaudit_stats(as_json: JsonOption = False) -> None:
    """What the re-audits show, over the pairs whose re-audit is returned: grade before and
    after, the questions answered No before and Yes after, and the share improved with a
    95% Wilson interval. Internal: the figures are not suppressed."""
    from qaudit.jobs.reaudit import stats

    ws = current_workspace()
    with ws.store() as store:
        result = stats(store)
    if as_json:
        print_json(result.to_json())
        return
    _show_stats(result)


def _show_stats(result: ReauditStats) -> None:
    o = result.outcomes
    if not o.pairs:
        out.print("No re-audits drawn yet; `qaudit reaudit select` draws them.")
        return
    pairs = table()
    fixed(pairs, "Audit")
    text(pairs, "Grade")
    fixed(pairs, "Re-audit")
    text(pairs, "Grade", "Change")
    for p in result.pairs:
        pairs.add_row(escape(p.first_reference), _grade(p.first_grade), escape(p.reference),
                      _grade(p.grade),
                      p.change or ("not compared" if p.returned else "not returned"))
    show(pairs, "Re-audits and the audits they follow up (internal)")
    out.print(f"{o.returned} of {o.pairs} re-audits returned: {o.improved} improved,"
              f" {o.same} the same, {o.worse} worse.")
    if o.not_compared:
        out.print(f"{o.not_compared} returned re-audit(s) not compared: the audit followed"
                  " up has no grade of record.")
    if o.compared and o.interval is not None and o.share_improved is not None:
        lo, hi = o.interval
        out.print(f"Share improved: {o.share_improved:.0%} (95% interval {lo:.0%} to"
                  f" {hi:.0%}, Wilson, over {o.compared} returned pairs).")
    if o.grades:
        moves = table()
        text(moves, "Before", "After")
        numbers(moves, "Pairs")
        for before, after, n in o.grades:
            moves.add_row(_grade(before), _grade(after), str(n))
        show(moves, "Grade before and after")
    if o.questions:
        questions = table()
        fixed(questions, "Question")
        numbers(questions, "No then Yes", "Yes then No")
        for q in o.questions:
            questions.add_row(escape(q.question_id), str(q.no_then_yes), str(q.yes_then_no))
        show(questions, "Questions answered No before and Yes after")

