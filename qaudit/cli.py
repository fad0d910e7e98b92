"""The command line: parse, call the library, print, set the exit status.

Library errors (``QauditError``) become one ``Error: ...`` line and exit status 1.
Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from qaudit import __version__
from qaudit.allocation import (
    AllocationPlan,
    AllocationRequest,
    commit_allocation,
    manager_files,
    plan_allocation,
)
from qaudit.db import RI_STEPS
from qaudit.errors import QauditError
from qaudit.exports import BAD_TYPE, parse_date
from qaudit.ingest import (
    ACCEPTED,
    REFUSED,
    REPLACED,
    UNCHANGED,
    IngestReport,
    find_forms,
    ingest_files,
)
from qaudit.reports import shortfall_sentence, unaudited_types_hint
from qaudit.workspace import ENV_VAR, Workspace, init_workspace, open_workspace

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)

app = typer.Typer(
    name="qaudit",
    help="Run the case audit cycle of an Adult Social Care Quality Assurance Framework.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _State:
    workspace: Path | None = None


state = _State()

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace", "-w", envvar=ENV_VAR, file_okay=False,
        help="Workspace folder (default: the current folder or the nearest parent with"
        " qaudit.toml).",
    ),
]


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    workspace: WorkspaceOption = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and stop.", is_eager=True)
    ] = False,
) -> None:
    """Run the case audit cycle of an Adult Social Care Quality Assurance Framework.

    Start with [bold]qaudit init[/bold], then [bold]qaudit allocate[/bold] each cycle.
    """
    if version:
        out.print(f"qaudit {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help())
        raise typer.Exit()
    state.workspace = workspace


def _workspace() -> Workspace:
    # Environment variable handled by typer's envvar; explicit=None searches upwards.
    return open_workspace(state.workspace)


def _date_option(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    parsed = parse_date(value.strip())
    if parsed is None or (isinstance(value, str) and value.strip().isdigit()):
        raise QauditError(
            f"{option} {value!r} is not a date; write it as dd/mm/yyyy or yyyy-mm-dd."
        )
    return parsed


@app.command(
    epilog="Example: [bold]qaudit init audits/2026-27[/bold]  then  [bold]cd audits/2026-27[/bold]"
)
def init(
    folder: Annotated[
        Path, typer.Argument(help="Folder for the new workspace (created if missing).")
    ] = Path("."),
) -> None:
    """Create a workspace: a commented qaudit.toml with every setting, and the database."""
    ws = init_workspace(folder)
    out.print(f"Created workspace [bold]{escape(str(ws.root))}[/bold]")
    out.print(escape(f"  settings: {ws.root / 'qaudit.toml'} (every setting, commented)"))
    out.print(escape(f"  database: {ws.db_path}"))
    out.print("Next: review the quotas and column names in qaudit.toml, then run"
              " `qaudit allocate EXPORT --cycle NAME --from DATE --to DATE`.")


@app.command(
    epilog="Example: [bold]qaudit allocate mosaic-export.xlsx --cycle '2026-27 C3'"
    " --from 01/09/2026 --to 12/10/2026[/bold]\n\n"
    "Reproduce a draw: add [bold]--seed N[/bold] with the seed it printed, on the same"
    " export and workspace. Check first with [bold]--dry-run[/bold]."
)
def allocate(
    export: Annotated[Path, typer.Argument(help="Case export: .xlsx, .xlsm or .csv.")],
    cycle: Annotated[str, typer.Option("--cycle", "-c", help="Cycle name, e.g. '2026-27 C3'.")],
    date_from: Annotated[
        str, typer.Option("--from", help="First completion date in the window (dd/mm/yyyy).")
    ],
    date_to: Annotated[
        str, typer.Option("--to", help="Last completion date in the window (dd/mm/yyyy).")
    ],
    due: Annotated[
        str | None,
        typer.Option("--due", help="Returns due by (default: today + [cycle] return_days)."),
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Draw the cycle's random sample from a case export and write its workbooks.

    Keeps eligible work (audited types, completed in the window, known quadrant), drops
    persons audited before and workers audited too recently, and draws each quadrant x
    audit type quota at random with a recorded seed. Writes register.xlsx, one workbook
    per Service Manager, and an audit form and a self-reflection form per case.
    """
    request = AllocationRequest(
        export=export, cycle=cycle.strip(),
        date_from=_date_option(date_from, "--from") or date.min,
        date_to=_date_option(date_to, "--to") or date.min,
        due=_date_option(due, "--due"), seed=seed, out=out_dir, sheet=sheet, redraw=redraw,
    )
    ws = _workspace()
    store = ws.store()
    try:
        with _progress(quiet=as_json) as progress:
            task = progress.add_task("Reading export", total=None)
            plan = plan_allocation(
                ws, store, request,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
            progress.update(task, completed=plan.export.rows_read, total=plan.export.rows_read)
            if not dry_run:
                writing = progress.add_task("Writing workbooks", total=None)
                commit_allocation(
                    ws, store, plan,
                    on_file=lambda done, total: progress.update(
                        writing, completed=done, total=total),
                )
    finally:
        store.close()
    if as_json:
        result = plan.to_json()
        result["dry_run"] = dry_run
        result["out"] = None if dry_run else str(plan.out_dir)
        print(json.dumps(result, indent=2))
        return
    _show_plan(ws, plan)
    if dry_run:
        out.print("[bold]Dry run:[/bold] nothing was written or stored.")
    else:
        out.print(
            f"Wrote {len(plan.files)} workbooks to [bold]{escape(str(plan.out_dir))}[/bold]:"
            f" register.xlsx, {len(manager_files(plan.allocations))} Service Manager"
            f" workbooks, {len(plan.allocations)} audit forms and"
            f" {len(plan.allocations)} self-reflection forms."
        )
    out.print(f"Seed [bold]{plan.seed}[/bold] (recorded; --seed {plan.seed} reproduces this"
              " draw on the same export and workspace state).")


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err, transient=True,
        disable=quiet or not err.is_terminal,
    )


def _show_plan(ws: Workspace, plan: AllocationPlan) -> None:
    names = ws.settings.short_names()
    export = plan.export
    where = f"sheet {export.sheet!r}, " if export.sheet else ""
    out.print(escape(
        f"Read {export.rows_read:,} rows from {export.path.name} ({where}header on row"
        f" {export.header_row}): {len(export.cases):,} usable, {plan.eligible:,} eligible"
        f" for {plan.request.cycle}."
    ))
    table = Table(title=escape(f"Draw for {plan.request.cycle}"), title_justify="left",
                  box=box.SIMPLE_HEAD)
    for col in ("Quadrant", "Audit type"):
        table.add_column(col)
    for col in ("Eligible", "Quota", "Drawn", "Topped up", "Shortfall"):
        table.add_column(col, justify="right")
    totals: Counter[str] = Counter()
    for s in plan.strata:
        if s["quota"] == 0:
            continue
        short = s["shortfall"]
        table.add_row(
            escape(s["quadrant"]), escape(names[s["audit_type"]]), f"{s['eligible']:,}",
            str(s["quota"]),
            str(s["drawn"]), str(s["topped_up"] or ""),
            f"[bold red]{short}[/bold red]" if short else "",
        )
        totals.update({k: s[k] for k in ("eligible", "quota", "drawn", "topped_up", "shortfall")})
    table.add_section()
    table.add_row("Total", "", f"{totals['eligible']:,}", str(totals["quota"]),
                  str(totals["drawn"]), str(totals["topped_up"] or ""),
                  str(totals["shortfall"] or ""))
    out.print(table)
    for s in plan.shortfalls:
        sentence = shortfall_sentence(s, names, ws.settings.sampling.max_cases_per_worker,
                                      ws.settings.sampling.top_up_from_other_types)
        out.print(escape(sentence), style="bold red" if s["shortfall"] else None)
    if plan.excluded or export.unusable_counts:
        counts = Table(title="Not drawn from", title_justify="left", box=box.SIMPLE_HEAD)
        counts.add_column("Reason")
        counts.add_column("Rows", justify="right")
        for reason, n in {**export.unusable_counts, **plan.excluded}.items():
            counts.add_row(escape(reason), f"{n:,}")
        out.print(counts)
    if BAD_TYPE in export.unusable_counts:
        labels = Counter(export.unusable.loc[export.unusable["reason"] == BAD_TYPE, "detail"])
        out.print(escape(unaudited_types_hint(dict(labels))))


@app.command(
    epilog="Example: [bold]qaudit ingest returns/[/bold]  (a folder is searched recursively;"
    " Office lock files ~$* are skipped)\n\n"
    "A changed re-submission: [bold]qaudit ingest returns/2026-27-C3-007-audit.xlsx"
    " --replace[/bold]"
)
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Returned forms, or folders of them.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace an earlier return with different content"
                           " (the earlier one is kept as history).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Take back returned audit forms and self-reflection forms.

    Each file is checked whole before anything of it is stored, and stored in one
    transaction. Every problem is listed with file, sheet, cell, the value found and what
    is allowed. The same file twice changes nothing. Exit status 1 if any file was refused.
    """
    ws = _workspace()
    files = find_forms(paths)
    if not files:
        raise QauditError("no workbooks found in " + ", ".join(map(str, paths))
                          + "; give the returned .xlsx forms or a folder holding them.")
    store = ws.store()
    try:
        with _progress(quiet=as_json or len(files) < 20) as progress:
            task = progress.add_task("Checking returns", total=len(files))
            report = ingest_files(
                store, files, replace=replace,
                on_file=lambda done, total: progress.update(task, completed=done),
            )
    finally:
        store.close()
    if as_json:
        print(json.dumps(report.to_json(), indent=2, default=str))
    else:
        _show_ingest(report)
    if not report.valid:
        raise typer.Exit(1)


def _show_ingest(report: IngestReport) -> None:
    summary = Table(title="Returns", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("Accepted", "Unchanged", "Replaced", "Refused", "Warnings"):
        summary.add_column(col, justify="right")
    summary.add_row(*(str(report.count(s)) for s in (ACCEPTED, UNCHANGED, REPLACED, REFUSED)),
                    str(sum(len(o.warnings) for o in report.outcomes)))
    out.print(summary)
    if report.findings:
        table = Table(title="Refused: nothing of these files was stored", title_justify="left",
                      box=box.SIMPLE_HEAD)
        for col in ("File", "Sheet", "Cell", "Value found", "Problem"):
            table.add_column(col, overflow="fold")
        for f in report.findings:
            table.add_row(*(escape(v) for v in (f.file, f.sheet, f.cell, f.value, f.message)))
        out.print(table)
    noted = [(o, w) for o in report.outcomes for w in o.warnings]
    if noted:
        table = Table(title="Warnings (stored; worth a look)", title_justify="left",
                      box=box.SIMPLE_HEAD)
        table.add_column("File")
        table.add_column("Reference")
        table.add_column("Warning")
        for o, w in noted:
            table.add_row(escape(o.path.name), escape(o.reference), escape(w))
        out.print(table)


ri_app = typer.Typer(
    help="The Practice Quality Team's monitoring list of 'Requires improvement' audits.",
    no_args_is_help=False, rich_markup_mode="rich",
)
app.add_typer(ri_app, name="ri")
CycleOption = Annotated[str | None, typer.Option("--cycle", "-c", help="Only this cycle.")]


@ri_app.callback(
    invoke_without_command=True,
    epilog="Example: [bold]qaudit ri --cycle '2026-27 C3'[/bold]\n\n"
    "Record a step: [bold]qaudit ri record 2026-27-C3-004 --step psw-meeting --on"
    " 14/01/2027[/bold]",
)
def ri_list(
    ctx: typer.Context,
    cycle: CycleOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """List every 'Requires improvement' audit with its follow-up steps and status.

    Each RI audit needs corrective action by the team manager, discussion at the
    six-weekly meeting with the Principal Social Worker, and discussion with the training
    academy (ESCA). Record each with [bold]qaudit ri record[/bold]; close with
    [bold]qaudit ri close[/bold].
    """
    if ctx.invoked_subcommand is not None:
        return
    ws = _workspace()
    store = ws.store()
    try:
        items = store.ri_list(cycle)
    finally:
        store.close()
    if as_json:
        print(json.dumps(items, indent=2))
        return
    if not items:
        out.print("No 'Requires improvement' audits" + (f" in {escape(cycle)}." if cycle else "."))
        return
    table = Table(title="Requires improvement: monitoring list (internal)", title_justify="left",
                  box=box.SIMPLE_HEAD)
    table.add_column("Reference", no_wrap=True)
    table.add_column("Quadrant")
    table.add_column("Action due", no_wrap=True)
    for header in ("Action", "PSW", "ESCA"):
        table.add_column(header, no_wrap=True)
    table.add_column("Status")
    for item in items:
        steps = item["steps"]
        table.add_row(
            escape(item["reference"]), escape(item["quadrant"]), _uk(item["action_due"]),
            *(_uk(steps.get(k)) or "—" for k in RI_STEPS), item["status"],
        )
    out.print(table)
    out.print("Steps: " + ", ".join(f"{k} = {v}" for k, v in RI_STEPS.items())
              + ". Details with --json.")


@ri_app.command(
    "record",
    epilog="Example: [bold]qaudit ri record 2026-27-C3-004 --step corrective-action --on"
    " 09/01/2027 --note 'Reassessment booked'[/bold]",
)
def ri_record(
    reference: Annotated[str, typer.Argument(help="Allocation reference of the RI audit.")],
    step: Annotated[str, typer.Option("--step", help="One of: " + ", ".join(RI_STEPS))],
    on: Annotated[str, typer.Option("--on", help="Date the step happened (dd/mm/yyyy).")],
    note: Annotated[str, typer.Option("--note", help="What was done or agreed.")] = "",
) -> None:
    """Record a follow-up step of a 'Requires improvement' audit."""
    if step not in RI_STEPS:
        raise QauditError(f"--step {step!r} is not a follow-up step; use one of "
                          + ", ".join(RI_STEPS) + ".")
    done_on = _date_option(on, "--on")
    assert done_on is not None
    if done_on > date.today():
        raise QauditError(f"--on {on} is in the future; record a step once it has happened.")
    ws = _workspace()
    store = ws.store()
    try:
        store.record_ri_step(reference.strip(), step, done_on, note)
    finally:
        store.close()
    out.print(escape(f"Recorded for {reference}: {RI_STEPS[step]} on {done_on:%d/%m/%Y}."))


@ri_app.command(
    "close", epilog="Example: [bold]qaudit ri close 2026-27-C3-004 --note 'Actions complete'"
    "[/bold]",
)
def ri_close(
    reference: Annotated[str, typer.Argument(help="Allocation reference of the RI audit.")],
    note: Annotated[str, typer.Option("--note", help="Why it can be closed.")] = "",
) -> None:
    """Close a 'Requires improvement' audit once its follow-up is complete."""
    ws = _workspace()
    store = ws.store()
    try:
        store.close_ri(reference.strip(), note)
    finally:
        store.close()
    out.print(escape(f"Closed {reference} on the Requires improvement list."))


@app.command(epilog="Example: [bold]qaudit escalations --cycle '2026-27 C3'[/bold]")
def escalations(
    cycle: CycleOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """List concerns escalated by auditors to team or Service Managers, with their age."""
    ws = _workspace()
    store = ws.store()
    try:
        items = store.escalation_list(cycle)
    finally:
        store.close()
    today = date.today()
    for item in items:
        item["age_days"] = (today - date.fromisoformat(item["escalated_on"])).days
    if as_json:
        print(json.dumps(items, indent=2))
        return
    if not items:
        out.print("No escalations recorded" + (f" in {escape(cycle)}." if cycle else "."))
        return
    table = Table(title="Escalations (internal)", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("Reference", "Quadrant", "To", "Manager", "On", "Age", "Note"):
        table.add_column(col, no_wrap=col in {"Reference", "On", "Age"},
                         justify="right" if col == "Age" else "left")
    for item in items:
        table.add_row(
            escape(item["reference"]), escape(item["quadrant"]), escape(item["escalated_to"]),
            escape(item["manager"]), _uk(item["escalated_on"]), f"{item['age_days']} d",
            escape(item["note"]),
        )
    out.print(table)


def _uk(iso: str | None) -> str:
    """An ISO date as people here write it."""
    return date.fromisoformat(iso).strftime("%d/%m/%Y") if iso else ""


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every user error into one line and exit 1."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    command = typer.main.get_command(app)
    try:
        command.main(args=args, prog_name="qaudit", standalone_mode=True)
    except SystemExit as exc:
        # Typer has already explained a usage error (its exit status 2); ours is 1.
        sys.exit(1 if exc.code == 2 else exc.code)
    except QauditError as exc:
        if debug:
            raise
        err.print(f"[bold red]Error:[/bold red] {escape(str(exc))}", soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("Interrupted; nothing was stored.")
        sys.exit(1)
    except Exception as exc:
        if debug:
            raise
        err.print(
            f"[bold red]Error:[/bold red] unexpected failure ({type(exc).__name__}:"
            f" {escape(str(exc))})."
            " Nothing was stored. Run again with --debug and report the output.",
            soft_wrap=True,
        )
        sys.exit(1)
