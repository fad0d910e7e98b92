"""`qaudit ingest`, `qaudit ri` and `qaudit escalations`: the returns half of a cycle."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from qaudit.commands.common import app, current_workspace, date_option, out, progress_bar, uk_date
from qaudit.db import RI_STEPS
from qaudit.errors import QauditError
from qaudit.jobs.ingest import (
    ACCEPTED,
    REFUSED,
    REPLACED,
    UNCHANGED,
    IngestReport,
    find_forms,
    ingest_files,
)


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
    ws = current_workspace()
    files = find_forms(paths)
    if not files:
        raise QauditError("no workbooks found in " + ", ".join(map(str, paths))
                          + "; give the returned .xlsx forms or a folder holding them.")
    with ws.store() as store, progress_bar(quiet=as_json or len(files) < 20) as progress:
        task = progress.add_task("Checking returns", total=len(files))
        report = ingest_files(
            store, files, replace=replace,
            on_file=lambda done, total: progress.update(task, completed=done),
        )
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
    ws = current_workspace()
    with ws.store() as store:
        if cycle is not None:
            store.require_cycle(cycle)
        items = store.ri_list(cycle)
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
            escape(item["reference"]), escape(item["quadrant"]), uk_date(item["action_due"]),
            *(uk_date(steps.get(k)) or "—" for k in RI_STEPS), item["status"],
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
    done_on = date_option(on, "--on")
    assert done_on is not None
    if done_on > date.today():
        raise QauditError(f"--on {on} is in the future; record a step once it has happened.")
    ws = current_workspace()
    with ws.store() as store:
        store.record_ri_step(reference.strip(), step, done_on, note)
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
    ws = current_workspace()
    with ws.store() as store:
        store.close_ri(reference.strip(), note)
    out.print(escape(f"Closed {reference} on the Requires improvement list."))


@app.command(epilog="Example: [bold]qaudit escalations --cycle '2026-27 C3'[/bold]")
def escalations(
    cycle: CycleOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """List concerns escalated by auditors to team or Service Managers, with their age."""
    ws = current_workspace()
    with ws.store() as store:
        if cycle is not None:
            store.require_cycle(cycle)
        items = store.escalation_list(cycle)
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
            escape(item["manager"]), uk_date(item["escalated_on"]), f"{item['age_days']} d",
            escape(item["note"]),
        )
    out.print(table)


