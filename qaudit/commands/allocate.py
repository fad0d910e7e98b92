"""`qaudit init` and `qaudit allocate`."""

from __future__ import annotations

from collections import Counter
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
from qaudit.commands.tables import numbers, show, table, text
from qaudit.workspace import Workspace, init_workspace

if TYPE_CHECKING:
    from qaudit.jobs.allocate import AllocationPlan

INIT_EXAMPLE = (
    "Example: [bold]qaudit init audits/2026-27[/bold]  then  [bold]cd audits/2026-27[/bold]"
)
ALLOCATE_EXAMPLE = (
    "Example: [bold]qaudit allocate mosaic-export.xlsx --cycle '2026-27 C3'"
    " --from 01/09/2026 --to 12/10/2026[/bold]; a planned cycle:"
    " [bold]qaudit allocate mosaic-export.xlsx --cycle '2026-27 C3'[/bold]\n\n"
    "Check a recorded draw: the same command with [bold]--seed N[/bold] (the seed it"
    " printed) and [bold]--dry-run[/bold] on the same export gives the same cases, row for"
    " row, even after later cycles were drawn."
)


def register(app: typer.Typer) -> None:
    app.command(epilog=INIT_EXAMPLE)(init)
    app.command(epilog=ALLOCATE_EXAMPLE)(allocate)


def init(
    folder: Annotated[
        Path, typer.Argument(help="Folder for the new workspace (created if missing).")
    ] = Path("."),
    database: Annotated[str, typer.Option(
        "--database", help="An empty PostgreSQL database for a team's record, e.g."
        " postgresql://qa_officer@dbserver/qaudit (password in PGPASSWORD or pgpass);"
        " default: qaudit.db in the folder.")] = "",
) -> None:
    """Create a workspace: a commented qaudit.toml with every setting, and the database."""
    ws = init_workspace(folder, database)
    print_path("Created the workspace", ws.root)
    print_path("with its settings (every setting, commented)", ws.root / "qaudit.toml")
    if database:
        from qaudit.db.postgresql import display

        out.print(f"and its record in {display(database)}")
    else:
        print_path("and its database", ws.db_path)
    out.print("Next: review the quotas and column names in qaudit.toml, then run"
              " `qaudit allocate EXPORT --cycle NAME --from DATE --to DATE`.")


def allocate(
    export: Annotated[Path, typer.Argument(help="Case export: .xlsx, .xlsm or .csv.")],
    cycle: Annotated[str, typer.Option("--cycle", "-c", help="Cycle name, e.g. '2026-27 C3'.")],
    date_from: Annotated[str | None, typer.Option(
        "--from", help="First completion date in the window (dd/mm/yyyy); default: the"
        " plan's, for a planned cycle (`qaudit plan`).")] = None,
    date_to: Annotated[str | None, typer.Option(
        "--to", help="Last completion date in the window (dd/mm/yyyy); default: the plan's.")
    ] = None,
    due: Annotated[
        str | None,
        typer.Option("--due", help="Returns due by (default: the plan's, else today +"
                     " \\[cycle] return_days)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for the draw (default: a fresh one).")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for the workbooks (default:"
                     " <workspace>/cycles/<cycle>).", file_okay=False),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Read this sheet (default: found by header).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the draw; write and store nothing.")
    ] = False,
    redraw: Annotated[
        bool, typer.Option("--redraw", help="Replace this cycle's draw (no returns yet). Logged.")
    ] = False,
    allow_overlap: Annotated[bool, typer.Option(
        "--allow-overlap", help="Draw although the window overlaps another cycle's"
        " (deliberate only: work in both windows could be audited twice).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Draw the cycle's random sample from a case export and write its workbooks.

    A cycle of the year's plan (`qaudit plan`) takes its window and due date from the
    plan; --from, --to and --due override it, with a warning. A window that ends after
    today, overlaps another cycle's, or whose returns are due before it ends is refused.

    Keeps eligible work (audited types, completed in the window, known quadrant), drops
    persons audited before and workers audited too recently, and draws each quadrant x
    audit type quota at random with a recorded seed. Writes register.xlsx, one workbook
    per Service Manager, and an audit form and a self-reflection form per case.

    A name keeps its kind: a deep dive or a round of re-audits is drawn, and re-checked
    with --dry-run, by its own command (`qaudit deep-dive new`, `qaudit reaudit select`),
    never by allocate.
    """
    from qaudit.jobs.allocate import AllocationRequest, commit_allocation, plan_allocation

    request = AllocationRequest(
        export=export, cycle=cycle.strip(),
        date_from=None if date_from is None else date_option(date_from, "--from"),
        date_to=None if date_to is None else date_option(date_to, "--to"),
        today=today(), due=date_option(due, "--due") if due is not None else None, seed=seed,
        out=out_dir, sheet=sheet, redraw=redraw, dry_run=dry_run, allow_overlap=allow_overlap,
    )
    ws = current_workspace()
    with ws.store() as store, progress_bar(quiet=as_json) as progress:
        reading = step(progress, "Reading export")
        plan = plan_allocation(ws, store, request, progress=reading)
        reading(plan.export.rows_read, plan.export.rows_read)
        if not dry_run:
            commit_allocation(ws, store, plan, on_file=step(progress, "Writing workbooks"))
    for warning in plan.warnings:
        err.print(escape(f"Warning: {warning}"), style="yellow")
    if as_json:
        result = plan.to_json()
        result["dry_run"] = dry_run
        result["out"] = None if dry_run else str(plan.out_dir)
        print_json(result)
        return
    show_plan(ws, plan)
    if dry_run:
        out.print("[bold]Dry run:[/bold] nothing was written or stored.")
    else:
        print_path(
            f"Wrote {len(plan.files)} workbooks: register.xlsx, {len(plan.managers)} Service"
            f" Manager workbooks, {len(plan.allocations)} audit forms and"
            f" {len(plan.allocations)} self-reflection forms, in", plan.out_dir)
    out.print(f"Seed [bold]{plan.seed}[/bold] (recorded; --seed {plan.seed} --dry-run on the"
              " same export reproduces this draw).")



def show_plan(ws: Workspace, plan: AllocationPlan) -> None:
    from qaudit.reports import shortfall_sentence

    names = ws.settings.short_names()
    export = plan.export
    where = f"sheet {export.sheet!r}, " if export.sheet else ""
    out.print(escape(
        f"Read {export.rows_read:,} rows from {export.path.name} ({where}header on row"
        f" {export.header_row}): {len(export.cases):,} usable, {plan.eligible:,} eligible"
        f" for {plan.request.cycle}."
    ))
    draw = table()
    text(draw, "Quadrant", "Audit type")
    numbers(draw, "Eligible", "Quota", "Drawn", "Topped up", "Shortfall")
    totals: Counter[str] = Counter()
    for s in plan.strata:
        if s.quota == 0:
            continue
        short = s.shortfall
        draw.add_row(
            escape(s.quadrant), escape(names[s.audit_type]), f"{s.eligible:,}", str(s.quota),
            str(s.drawn), str(s.topped_up or ""),
            f"[bold red]{short}[/bold red]" if short else "",
        )
        totals.update({k: getattr(s, k)
                       for k in ("eligible", "quota", "drawn", "topped_up", "shortfall")})
    draw.add_section()
    draw.add_row("Total", "", f"{totals['eligible']:,}", str(totals["quota"]),
                 str(totals["drawn"]), str(totals["topped_up"] or ""),
                 str(totals["shortfall"] or ""))
    show(draw, escape(f"Draw for {plan.request.cycle}"))
    for s in plan.shortfalls:
        sentence = shortfall_sentence(s, names, ws.settings.sampling.max_cases_per_worker,
                                      ws.settings.sampling.top_up_from_other_types)
        out.print(escape(sentence), style="bold red" if s.shortfall else None)
    show_not_drawn(plan)


def show_not_drawn(plan: AllocationPlan) -> None:
    from qaudit.reports import missing_columns_hint, unaudited_types_hint, unknown_quadrants_hint

    """Why rows of the export were not drawn from, and what in it qaudit did not recognise:
    the end of every draw's account (a cycle's, a deep dive's, a re-audit round's)."""
    export = plan.export
    if plan.excluded or export.unusable_counts:
        counts = table()
        text(counts, "Reason")
        numbers(counts, "Rows")
        for reason, n in {**export.unusable_counts, **plan.excluded}.items():
            counts.add_row(escape(reason), f"{n:,}")
        show(counts, "Not drawn from")
    if plan.unaudited_types:
        out.print(escape(unaudited_types_hint(plan.unaudited_types)))
    if plan.unknown_quadrants:
        out.print(escape(unknown_quadrants_hint(plan.unknown_quadrants)), style="bold")
    if plan.missing_columns:
        out.print(escape(missing_columns_hint(plan.missing_columns)), style="bold")


