"""`qaudit moderate`: the moderation sample, the session workbook, outcomes, agreement."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qaudit.commands.common import (
    JsonOption,
    current_workspace,
    err,
    escape,
    out,
    print_document,
    print_json,
    print_path,
    today,
)
from qaudit.commands.tables import findings_table, numbers, show, table, text
from qaudit.errors import QauditError, Status
from qaudit.files import write_text
from qaudit.grading import GRADES

if TYPE_CHECKING:
    from qaudit.jobs.moderate import ModerationStats

moderate_app = typer.Typer(
    help="Moderation by the Practice Leads: the 20% sample, its workbook, the outcomes and"
    " how far auditors and moderators agree.",
    no_args_is_help=True, rich_markup_mode="rich",
    epilog="Example: [bold]qaudit moderate select --cycle '2026-27 C3'[/bold], fill the"
    " workbook at the session, then [bold]qaudit moderate ingest FILE[/bold] and"
    " [bold]qaudit moderate stats --cycle '2026-27 C3'[/bold]",
)


def register(app: typer.Typer) -> None:
    app.add_typer(moderate_app, name="moderate")


@moderate_app.command(
    "select",
    epilog="Example: [bold]qaudit moderate select --cycle '2026-27 C3'[/bold]\n\n"
    "Blind session: [bold]qaudit moderate select --cycle '2026-27 C3' --blind[/bold]\n\n"
    "More audits came back since: the same command again tops the sample up (a new round"
    " with its own workbook; earlier picks and outcomes stay).",
)
def moderate_select(
    cycle: Annotated[str, typer.Option("--cycle", "-c", help="Cycle to moderate.")],
    rate: Annotated[float | None, typer.Option(
        "--rate", help="Share of returned audits (default: \\[moderation] rate, 0.2).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for the draw.")] = None,
    redraw: Annotated[bool, typer.Option(
        "--redraw", help="Draw again (only before any outcome is recorded). Logged.")] = False,
    blind: Annotated[bool, typer.Option(
        "--blind", help="Leave the auditor's grade out of the workbook.")] = False,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Folder for the workbook (default: the cycle's folder).",
        file_okay=False)] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show the sample; write and store nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Draw the cycle's moderation sample, or top it up, and write the session's workbook.

    ceil(rate x returned audits), seeded and recorded, spread so every auditor and every
    grade appears where the numbers allow. Run again after more audits come back: the
    sample is topped up to ceil(rate x audits returned now), keeping every earlier pick.
    """
    from qaudit.jobs.moderate import select

    ws = current_workspace()
    with ws.store() as store:
        chosen = select(ws, store, cycle, today=today(), rate=rate, seed=seed, redraw=redraw,
                        blind=blind, out=out_dir, dry_run=dry_run)
    for warning in chosen.warnings:
        err.print(escape(f"Warning: {warning}"), style="yellow")
    if as_json:
        print_json(chosen.to_json())
        return
    if not chosen.references:
        out.print(escape(
            f"The moderation sample of {cycle} already holds {chosen.in_sample} of"
            f" {chosen.returned} returned audits (target {chosen.target}, {chosen.rate:.0%});"
            " nothing to add."))
        return
    what = "Moderation sample" if chosen.round == 1 else f"Top-up (round {chosen.round})"
    out.print(escape(
        f"{what} for {cycle}: {len(chosen.references)} audits added, {chosen.in_sample} of"
        f" {chosen.returned} returned audits in the sample (target {chosen.target},"
        f" {chosen.rate:.0%}); auditors {chosen.auditors_covered} of {chosen.auditors},"
        f" grades {chosen.grades_covered} of {chosen.grades}."
    ))
    out.print(escape("References: " + ", ".join(chosen.references)))
    if chosen.workbook:
        print_path("Workbook for the session:", chosen.workbook)
    else:
        out.print("[bold]Dry run:[/bold] nothing was written or stored.")
    out.print(f"Seed [bold]{chosen.seed}[/bold] (recorded).")


@moderate_app.command(
    "ingest",
    epilog="Example: [bold]qaudit moderate ingest 2026-27-C3-moderation.xlsx[/bold]",
)
def moderate_ingest(
    file: Annotated[Path, typer.Argument(help="The filled moderation workbook.")],
    replace: Annotated[bool, typer.Option(
        "--replace", help="Replace outcomes already recorded (kept as history).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Record the session's outcomes: the moderated grade becomes the grade of record.

    Checked whole before anything is stored; the same workbook twice changes nothing.
    """
    from qaudit.jobs.moderate import ingest_outcomes

    ws = current_workspace()
    with ws.store() as store:
        result = ingest_outcomes(store, file, replace=replace, today=today())
    if as_json:
        print_json(result.to_json())
    elif result.status is Status.REFUSED:
        show(findings_table("Refused: nothing of this workbook was stored", result.findings,
                            with_file=False))
    elif result.status is Status.UNCHANGED:
        out.print(escape(f"{file.name}: unchanged; these outcomes of {result.cycle} are already"
                         " recorded."))
    else:
        out.print(escape(f"{file.name}: {result.status}; {result.items} moderated audits of"
                         f" {result.cycle}, {result.changed_grades} grade(s) changed by the"
                         " moderators (now the grades of record)."))
    if result.status is Status.REFUSED:
        raise typer.Exit(1)


@moderate_app.command(
    "stats",
    epilog="Example: [bold]qaudit moderate stats --cycle '2026-27 C3'[/bold]  or"
    "  [bold]qaudit moderate stats --all[/bold]",
)
def moderate_stats(
    cycle: Annotated[str | None, typer.Option("--cycle", "-c", help="One cycle.")] = None,
    all_cycles: Annotated[bool, typer.Option("--all", help="Every cycle together.")] = False,
    as_json: JsonOption = False,
) -> None:
    """How far auditors and moderators agree, and each auditor's leniency across cycles."""
    if (cycle is None) == (not all_cycles):
        raise QauditError("give either --cycle NAME or --all.")
    from qaudit.jobs.moderate import stats

    ws = current_workspace()
    with ws.store() as store:
        figures = stats(store, cycle)
    if as_json:
        print_json(figures.to_json())
        return
    _show_stats(figures)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _show_stats(f: ModerationStats) -> None:
    if not f.moderated:
        out.print(escape(f"No moderation outcomes recorded for {f.cycle}."))
        return
    a = f.agreement
    ci = a.kappa_ci
    out.print(escape(
        f"Moderation, {f.cycle}: {f.moderated} audits moderated,"
        f" {f.grades_changed} grade(s) changed."
    ))
    out.print(f"  exact agreement {_pct(a.exact)}; within one grade {_pct(a.within_one)}")
    out.print(f"  quadratic-weighted kappa {_num(a.kappa)}"
              + (f" (95% CI {ci.low:.2f} to {ci.high:.2f})" if ci else "")
              + f"; Gwet's AC2 {_num(a.ac2)}")
    fb = f.feedback
    out.print(f"  feedback constructive {fb['constructive']}, names strengths"
              f" {fb['names_strengths']}, names learning {fb['names_learning']}"
              f" of {f.moderated}")
    grades = table()
    text(grades, "")
    numbers(grades, *(grade.short for grade in GRADES))
    for grade, row in zip(GRADES, a.table, strict=True):
        grades.add_row(grade.label, *(str(n) for n in row))
    show(grades, "Auditor's grade (rows) by moderated grade (columns)")
    leniency = table()
    text(leniency, "Auditor")
    numbers(leniency, "n", "Mean difference")
    for entry in f.leniency:
        leniency.add_row(escape(entry.auditor), str(entry.n), f"{entry.mean_difference:+.2f}")
    show(leniency, "Audit the auditor: mean moderated minus auditor grade")
    out.print("A negative difference means the auditor graded higher than the moderators.")


@moderate_app.command(
    "learning",
    epilog="Example: [bold]qaudit moderate learning --cycle '2026-27 C3' --anonymise --out"
    " workshop.md[/bold]",
)
def moderate_learning(
    cycle: Annotated[str | None, typer.Option("--cycle", "-c", help="One cycle (default:"
                                              " all).")] = None,
    anonymise: Annotated[bool, typer.Option(
        "--anonymise", help="For audit workshops: no person, practitioner or auditor"
        " identifiable.")] = False,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write Markdown here.",
                                                  dir_okay=False)] = None,
) -> None:
    """Moderation learning per theme and per auditor, for the Service Manager for Practice
    Quality and the Principal Social Worker, or anonymised for workshops."""
    from qaudit.jobs.moderate import learning_markdown

    ws = current_workspace()
    with ws.store() as store:
        text = learning_markdown(store, cycle, anonymise, tuple(ws.settings.auditor_roles),
                                 ws.settings.marking)
    if out_file is None:
        print_document(text)
        return
    write_text(out_file, text + "\n")
    print_path("Wrote", out_file)
