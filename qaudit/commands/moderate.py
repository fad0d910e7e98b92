"""`qaudit moderate`: the moderation sample, the session workbook, outcomes, agreement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from qaudit.commands.common import app, current_workspace, out
from qaudit.errors import QauditError
from qaudit.grading import GRADE_LABELS
from qaudit.jobs.ingest import REFUSED
from qaudit.jobs.moderate import ingest_outcomes, learning_markdown, select, stats

moderate_app = typer.Typer(
    help="Moderation by the Practice Leads: the 20% sample, its workbook, the outcomes and"
    " how far auditors and moderators agree.",
    no_args_is_help=True, rich_markup_mode="rich",
    epilog="Example: [bold]qaudit moderate select --cycle '2026-27 C3'[/bold], fill the"
    " workbook at the session, then [bold]qaudit moderate ingest FILE[/bold] and"
    " [bold]qaudit moderate stats --cycle '2026-27 C3'[/bold]",
)
app.add_typer(moderate_app, name="moderate")
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@moderate_app.command(
    "select",
    epilog="Example: [bold]qaudit moderate select --cycle '2026-27 C3'[/bold]\n\n"
    "Blind session: [bold]qaudit moderate select --cycle '2026-27 C3' --blind[/bold]",
)
def moderate_select(
    cycle: Annotated[str, typer.Option("--cycle", "-c", help="Cycle to moderate.")],
    rate: Annotated[float | None, typer.Option(
        "--rate", help="Share of returned audits (default: [moderation] rate, 0.2).")] = None,
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
    """Draw the cycle's moderation sample and write the workbook for the group session.

    ceil(rate x returned audits), seeded and recorded, spread so every auditor and every
    grade appears where the numbers allow.
    """
    ws = current_workspace()
    with ws.store() as store:
        chosen = select(ws, store, cycle, rate=rate, seed=seed, redraw=redraw, blind=blind,
                        out=out_dir, dry_run=dry_run)
    if as_json:
        print(json.dumps(chosen.to_json(), indent=2))
        return
    out.print(escape(
        f"Moderation sample for {cycle}: {len(chosen.references)} of {chosen.returned}"
        f" returned audits ({chosen.rate:.0%}); auditors {chosen.auditors_covered} of"
        f" {chosen.auditors}, grades {chosen.grades_covered} of {chosen.grades}."
    ))
    out.print(escape("References: " + ", ".join(chosen.references)))
    if chosen.workbook:
        out.print(escape(f"Workbook for the session: {chosen.workbook}"))
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
    ws = current_workspace()
    with ws.store() as store:
        result = ingest_outcomes(store, file, replace=replace)
    findings = result.findings or []
    if as_json:
        print(json.dumps({"file": str(file), "status": result.status, "cycle": result.cycle,
                          "items": result.items, "grades_changed": result.changed_grades,
                          "findings": [f.__dict__ for f in findings]}, indent=2))
    elif result.status == REFUSED:
        table = Table(title="Refused: nothing of this workbook was stored", title_justify="left",
                      box=box.SIMPLE_HEAD)
        for col in ("Sheet", "Cell", "Value found", "Problem"):
            table.add_column(col, overflow="fold")
        for f in findings:
            table.add_row(*(escape(v) for v in (f.sheet, f.cell, f.value, f.message)))
        out.print(table)
    elif result.status == "unchanged":
        out.print(escape(f"{file.name}: unchanged; these outcomes of {result.cycle} are already"
                         " recorded."))
    else:
        out.print(escape(f"{file.name}: {result.status}; {result.items} moderated audits of"
                         f" {result.cycle}, {result.changed_grades} grade(s) changed by the"
                         " moderators (now the grades of record)."))
    if result.status == REFUSED:
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
    ws = current_workspace()
    with ws.store() as store:
        figures = stats(store, cycle)
    if as_json:
        print(json.dumps(figures, indent=2))
        return
    _show_stats(figures)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _show_stats(f: dict[str, Any]) -> None:
    if not f["moderated"]:
        out.print(escape(f"No moderation outcomes recorded for {f['cycle']}."))
        return
    ci = f["weighted_kappa_95ci"]
    out.print(escape(
        f"Moderation, {f['cycle']}: {f['moderated']} audits moderated,"
        f" {f['grades_changed']} grade(s) changed."
    ))
    out.print(f"  exact agreement {_pct(f['exact_agreement'])}; within one grade"
              f" {_pct(f['within_one_grade'])}")
    out.print(f"  quadratic-weighted kappa {_num(f['weighted_kappa'])}"
              + (f" (95% CI {ci[0]:.2f} to {ci[1]:.2f})" if ci else "")
              + f"; Gwet's AC2 {_num(f['gwet_ac2'])}")
    fb = f["feedback"]
    out.print(f"  feedback constructive {fb['constructive']}, names strengths"
              f" {fb['names_strengths']}, names learning {fb['names_learning']}"
              f" of {f['moderated']}")
    table = Table(title="Auditor's grade (rows) by moderated grade (columns)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("")
    short = ["RI", "Adequate", "Good", "Outstanding"]
    for label in short:
        table.add_column(label, justify="right")
    for label, row in zip(GRADE_LABELS, f["table"]["counts"], strict=True):
        table.add_row(label, *(str(n) for n in row))
    out.print(table)
    table = Table(title="Audit the auditor: mean moderated minus auditor grade",
                  title_justify="left", box=box.SIMPLE_HEAD)
    for col, justify in (("Auditor", "left"), ("n", "right"), ("Mean difference", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for entry in f["leniency"]:
        table.add_row(escape(entry["auditor"]), str(entry["n"]),
                      f"{entry['mean_difference']:+.2f}")
    out.print(table)
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
    ws = current_workspace()
    with ws.store() as store:
        text = learning_markdown(store, cycle, anonymise)
    if out_file is None:
        print(text)
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_suffix(out_file.suffix + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(out_file)
    out.print(escape(f"Wrote {out_file}"))
