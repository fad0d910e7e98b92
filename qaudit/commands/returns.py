"""`qaudit ingest`, `qaudit ri` and `qaudit escalations`: the returns half of a cycle."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from qaudit.commands.common import (
    CycleOption,
    JsonOption,
    current_workspace,
    date_option,
    findings_table,
    out,
    print_json,
    progress_bar,
    today,
)
from qaudit.errors import QauditError, Status
from qaudit.grading import RI_STEP_LABELS, RiStep
from qaudit.values import uk_date

if TYPE_CHECKING:
    from qaudit.jobs.ingest import IngestReport

INGEST_EXAMPLE = (
    "Example: [bold]qaudit ingest returns/[/bold]  (a folder is searched recursively;"
    " Office lock files ~$* are skipped)\n\n"
    "A changed re-submission: [bold]qaudit ingest returns/2026-27-C3-007-audit.xlsx"
    " --replace[/bold]"
)

ri_app = typer.Typer(
    help="The Practice Quality Team's monitoring list of 'Requires improvement' audits.",
    no_args_is_help=False, rich_markup_mode="rich",
)


def register(app: typer.Typer) -> None:
    app.command(epilog=INGEST_EXAMPLE)(ingest)
    app.add_typer(ri_app, name="ri")
    app.command(epilog="Example: [bold]qaudit escalations --cycle '2026-27 C3'[/bold]")(
        escalations)


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Returned forms, or folders of them.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace an earlier return with different content"
                           " (the earlier one is kept as history).")
    ] = False,
    restore: Annotated[
        bool, typer.Option("--restore", help="With --replace: let an older copy, since"
                           " replaced, become the return of record again.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Take back returned audit forms and self-reflection forms.

    Each file is checked whole before anything of it is stored, and stored in one
    transaction. Every problem is listed with file, sheet, cell, the value found and what
    is allowed. The same file twice changes nothing, and an older copy of a return since
    replaced is reported "superseded" and skipped. Exit status 1 if any file was refused.
    """
    from qaudit.jobs.ingest import find_forms, ingest_files

    ws = current_workspace()
    files = find_forms(paths)
    if not files:
        raise QauditError("no workbooks found in " + ", ".join(map(str, paths))
                          + "; give the returned .xlsx forms or a folder holding them.")
    with ws.store() as store, progress_bar(quiet=as_json or len(files) < 20) as progress:
        task = progress.add_task("Checking returns", total=len(files))
        report = ingest_files(
            store, files, replace=replace, restore=restore, today=today(),
            on_file=lambda done, total: progress.update(task, completed=done),
        )
    if as_json:
        print_json(report.to_json())
    else:
        _show_ingest(report)
    if not report.valid:
        raise typer.Exit(1)


def _show_ingest(report: IngestReport) -> None:
    summary = Table(title="Returns", title_justify="left", box=box.SIMPLE_HEAD)
    for status in Status:
        summary.add_column(status.capitalize(), justify="right")
    summary.add_column("Warnings", justify="right")
    summary.add_row(*(str(report.count(s)) for s in Status), str(report.warnings))
    out.print(summary)
    if report.findings:
        out.print(findings_table("Refused: nothing of these files was stored", report.findings))
    noted = [(o, w) for o in report.outcomes for w in o.warnings]
    if noted:
        table = Table(title="Warnings (worth a look; not refusals)", title_justify="left",
                      box=box.SIMPLE_HEAD)
        table.add_column("File")
        table.add_column("Reference")
        table.add_column("Warning")
        for o, w in noted:
            table.add_row(escape(o.path.name), escape(o.reference), escape(w))
        out.print(table)


@ri_app.callback(
    invoke_without_command=True,
    epilog="Example: [bold]qaudit ri --cycle '2026-27 C3'[/bold]\n\n"
    "Record a step: [bold]qaudit ri record 2026-27-C3-004 --step psw-meeting --on"
    " 14/01/2027[/bold]",
)
def ri_list(ctx: typer.Context, cycle: CycleOption = None, as_json: JsonOption = False) -> None:
    """List every 'Requires improvement' audit with its follow-up steps and status.

    Each RI audit needs corrective action by the team manager, discussion at the
    six-weekly meeting with the Principal Social Worker, and discussion with the training
    academy (ESCA). Record each with [bold]qaudit ri record[/bold]; close with
    [bold]qaudit ri close[/bold].
    """
    if ctx.invoked_subcommand is not None:
        return
    from qaudit.jobs.followup import ri_items

    ws = current_workspace()
    with ws.store() as store:
        items = ri_items(store, cycle)
    if as_json:
        print_json([asdict(i) for i in items])
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
        table.add_row(
            escape(item.reference), escape(item.quadrant), uk_date(item.action_due),
            *(uk_date(item.steps.get(k)) or "—" for k in RiStep), str(item.status),
        )
    out.print(table)
    out.print("Steps: " + ", ".join(f"{k} = {v}" for k, v in RI_STEP_LABELS.items())
              + ". Details with --json.")


@ri_app.command(
    "record",
    epilog="Example: [bold]qaudit ri record 2026-27-C3-004 --step corrective-action --on"
    " 09/01/2027 --note 'Reassessment booked'[/bold]",
)
def ri_record(
    reference: Annotated[str, typer.Argument(help="Allocation reference of the RI audit.")],
    step: Annotated[RiStep, typer.Option("--step", help="The follow-up step.")],
    on: Annotated[str, typer.Option("--on", help="Date the step happened (dd/mm/yyyy).")],
    note: Annotated[str, typer.Option("--note", help="What was done or agreed.")] = "",
) -> None:
    """Record a follow-up step of a 'Requires improvement' audit."""
    from qaudit.jobs.followup import record_ri_step

    done_on = date_option(on, "--on")
    ws = current_workspace()
    with ws.store() as store:
        record_ri_step(store, reference.strip(), step, done_on, note, today())
    out.print(escape(f"Recorded for {reference}: {step.label} on {done_on:%d/%m/%Y}."))


@ri_app.command(
    "close", epilog="Example: [bold]qaudit ri close 2026-27-C3-004 --note 'Actions complete'"
    "[/bold]",
)
def ri_close(
    reference: Annotated[str, typer.Argument(help="Allocation reference of the RI audit.")],
    note: Annotated[str, typer.Option("--note", help="Why it can be closed.")] = "",
) -> None:
    """Close a 'Requires improvement' audit once its follow-up is complete."""
    from qaudit.jobs.followup import close_ri

    ws = current_workspace()
    with ws.store() as store:
        close_ri(store, reference.strip(), note)
    out.print(escape(f"Closed {reference} on the Requires improvement list."))


def escalations(cycle: CycleOption = None, as_json: JsonOption = False) -> None:
    """List concerns escalated by auditors to team or Service Managers, with their age."""
    from qaudit.jobs.followup import escalations as aged_escalations

    ws = current_workspace()
    with ws.store() as store:
        items = aged_escalations(store, cycle, today())
    if as_json:
        print_json([e.to_json() for e in items])
        return
    if not items:
        out.print("No escalations recorded" + (f" in {escape(cycle)}." if cycle else "."))
        return
    table = Table(title="Escalations (internal)", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("Reference", "Quadrant", "To", "Manager", "On", "Age", "Note"):
        table.add_column(col, no_wrap=col in {"Reference", "On", "Age"},
                         justify="right" if col == "Age" else "left")
    for aged in items:
        e = aged.item
        table.add_row(
            escape(e.reference), escape(e.quadrant), escape(e.escalated_to),
            escape(e.manager), uk_date(e.escalated_on), f"{aged.age_days} d", escape(e.note),
        )
    out.print(table)
