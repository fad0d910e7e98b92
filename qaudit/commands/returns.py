"""`qaudit ingest`, `qaudit ri` and `qaudit escalations`: the returns half of a cycle."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from qaudit.commands.common import (
    CycleOption,
    JsonOption,
    current_workspace,
    date_option,
    escape,
    out,
    print_json,
    progress_bar,
    step,
    today,
)
from qaudit.commands.tables import (
    NOTE_WIDTH,
    by_file,
    findings_table,
    fixed,
    numbers,
    show,
    table,
    text,
)
from qaudit.errors import QauditError, Status
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
escalations_app = typer.Typer(
    help="Concerns auditors escalated to team or Service Managers, and their outcomes.",
    no_args_is_help=False, rich_markup_mode="rich",
)
LOG_EXAMPLE = (
    "Example: [bold]qaudit log --cycle '2026-27 C3'[/bold]  or  [bold]qaudit log --ref"
    " 2026-27-C3-004[/bold]"
)


def register(app: typer.Typer) -> None:
    app.command(epilog=INGEST_EXAMPLE)(ingest)
    app.add_typer(ri_app, name="ri")
    app.add_typer(escalations_app, name="escalations")
    app.command(epilog=LOG_EXAMPLE)(log)


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
    """Take back returned audit forms, self-reflection forms and Service Manager workbooks.

    Each file is checked whole before anything of it is stored, and stored in one
    transaction. Every problem is listed with file, sheet, cell, the value found and what
    is allowed. The same file twice changes nothing, and an older copy of a return since
    replaced is reported "superseded" and skipped. A Service Manager workbook stores the
    auditor named on each row that passes its checks (a later workbook with another
    choice replaces it) and lists the rest. Exit status 1 if any file or row was refused.
    """
    from qaudit.jobs.ingest import find_forms, ingest_files

    ws = current_workspace()
    files = find_forms(paths)
    if not files:
        raise QauditError("no workbooks found in " + ", ".join(map(str, paths))
                          + "; give the returned .xlsx forms or a folder holding them.")
    with ws.store() as store, progress_bar(quiet=as_json or len(files) < 20) as progress:
        report = ingest_files(
            store, files, replace=replace, restore=restore, today=today(),
            settings=ws.settings, on_file=step(progress, "Checking returns"),
        )
    if as_json:
        print_json(report.to_json())
    else:
        _show_ingest(report)
    if not report.valid:
        raise typer.Exit(1)


def _show_ingest(report: IngestReport) -> None:
    summary = table()
    numbers(summary, *(status.capitalize() for status in Status), "Warnings")
    summary.add_row(*(str(report.count(s)) for s in Status), str(report.warnings))
    show(summary, "Returns")
    whole = [f for o in report.outcomes if o.status is Status.REFUSED for f in o.findings]
    if whole:
        show(findings_table("Refused: nothing of these files was stored", whole))
    rows = [f for o in report.outcomes if o.status is not Status.REFUSED for f in o.findings]
    if rows:
        show(findings_table("Rows not taken (the other rows of these Service Manager"
                            " workbooks were stored)", rows))
    if report.managers:
        _show_managers(report)
    noted = [(o.path.name, (o.reference, w)) for o in report.outcomes if o.manager is None
             for w in o.warnings]
    if noted:
        show(by_file("Warnings (worth a look; not refusals)", noted, _warning_columns))


def _warning_columns(rows: Table) -> None:
    fixed(rows, "Reference")
    text(rows, "Warning", min_width=NOTE_WIDTH)


def _show_managers(report: IngestReport) -> None:
    """Each Service Manager workbook's counts, then every auditor stored and every note."""
    from qaudit.jobs.ingest import RowStatus

    books = table()
    text(books, "Service Manager")
    numbers(books, "Named", "Changed", "Same", "Not named", "Refused")
    for _, m in report.managers:
        books.add_row(escape(m.manager),
                      str(m.count(RowStatus.NAMED)), str(m.count(RowStatus.REPLACED)),
                      str(m.count(RowStatus.UNCHANGED, RowStatus.KEPT, RowStatus.SUPERSEDED)),
                      str(m.count(RowStatus.NOT_NAMED)), str(m.count(RowStatus.REFUSED)))
    show(books, "Service Manager workbooks")
    shown = [(r, w) for _, m in report.managers for r in m.rows
             if r.status in (RowStatus.NAMED, RowStatus.REPLACED, RowStatus.NOT_NAMED,
                             RowStatus.SUPERSEDED)
             for w in (r.warnings or (None,))]
    if not shown:
        return
    named = table()
    fixed(named, "Reference")
    text(named, "Auditor (email)", "Role")
    fixed(named, "Stored")
    text(named, "Note", min_width=NOTE_WIDTH)
    for row, warning in shown:
        choice = row.choice
        who = escape(f"{choice.name}\n{choice.email}" if choice else "")
        named.add_row(escape(row.reference), who, escape(choice.role if choice else ""),
                      str(row.status), escape(warning.message if warning else ""))
    show(named, "Auditors named")


@ri_app.callback(
    invoke_without_command=True,
    epilog="Example: [bold]qaudit ri --cycle '2026-27 C3'[/bold]\n\n"
    "One audit's steps and history: [bold]qaudit ri show 2026-27-C3-004[/bold]",
)
def ri_list(ctx: typer.Context, cycle: CycleOption = None, as_json: JsonOption = False) -> None:
    """List every 'Requires improvement' audit with its follow-up steps and status.

    Each RI audit needs the follow-up steps of [bold]\\[ri] steps[/bold] in qaudit.toml (by
    default: corrective action by the team manager, discussion at the six-weekly PQT/PSW
    meeting, discussion with ESCA). Record each with [bold]qaudit ri record[/bold]; close
    with [bold]qaudit ri close[/bold] once all are recorded.
    """
    if ctx.invoked_subcommand is not None:
        return
    from qaudit.jobs.followup import ri_items

    ws = current_workspace()
    with ws.store() as store:
        items = ri_items(store, cycle)
    if as_json:
        print_json([i.to_json() for i in items])
        return
    if not items:
        out.print("No 'Requires improvement' audits" + (f" in {escape(cycle)}." if cycle else "."))
        return
    steps = ws.settings.ri.steps
    monitoring = table()
    fixed(monitoring, "Reference")
    text(monitoring, "Follow-up")
    fixed(monitoring, "Status")
    reaudited = any(listed.reaudit for listed in items)
    if reaudited:
        text(monitoring, "Re-audit", min_width=NOTE_WIDTH)
    for listed in items:
        item = listed.item
        follow_up = [f"action due {uk_date(item.action_due) or '—'}",
                     *(f"{k} {uk_date(item.steps.get(k)) or '—'}" for k in steps)]
        monitoring.add_row(
            escape(f"{item.reference}\n{item.quadrant}"), escape("\n".join(follow_up)),
            str(item.status), *([escape(listed.reaudit_outcome or "—")] if reaudited else []),
        )
    show(monitoring, "Requires improvement: monitoring list (internal)")
    out.print(escape("Steps: " + "; ".join(f"{k} = {v}" for k, v in steps.items())
                     + ". One audit in full: qaudit ri show REF."))


ReferenceArgument = Annotated[str, typer.Argument(help="Allocation reference of the RI audit.")]


@ri_app.command("show", epilog="Example: [bold]qaudit ri show 2026-27-C3-004[/bold]")
def ri_show(reference: ReferenceArgument, as_json: JsonOption = False) -> None:
    """One 'Requires improvement' audit: its status, every step recorded, its history."""
    from qaudit.jobs.followup import ri_detail

    ws = current_workspace()
    with ws.store() as store:
        detail = ri_detail(store, reference.strip(), ws.settings.ri.steps)
    if as_json:
        print_json(detail.to_json())
        return
    item = detail.item
    out.print(escape(f"{item.reference} ({item.cycle}, {item.quadrant}): {item.status}"))
    if item.action:
        out.print(escape(f"  Corrective action: {item.action} (by {item.action_by or '?'},"
                         f" due {uk_date(item.action_due) or '?'})"))
    if detail.reaudit is not None:
        out.print(escape(f"  Re-audit: {detail.reaudit.outcome()}"))
    steps = table()
    text(steps, "Step")
    fixed(steps, "Done on")
    text(steps, "Note", min_width=NOTE_WIDTH)
    text(steps, "Recorded by")
    for done in detail.steps:
        steps.add_row(escape(done.step), uk_date(done.done_on), escape(done.note),
                      escape(done.actor))
    for missing in detail.missing:
        steps.add_row(escape(missing), "—", "not recorded yet", "")
    show(steps, "Follow-up steps")
    history = table()
    fixed(history, "When (UTC)")
    text(history, "What", "By")
    text(history, "Note", min_width=NOTE_WIDTH)
    for h in detail.history:
        history.add_row(escape(h.at.replace("T", " ")[:16]), escape(h.action), escape(h.actor),
                        escape(h.note))
    show(history, "History")


@ri_app.command(
    "record",
    epilog="Example: [bold]qaudit ri record 2026-27-C3-004 --step corrective-action --on"
    " 09/01/2027 --note 'Reassessment booked'[/bold]",
)
def ri_record(
    reference: ReferenceArgument,
    step: Annotated[str, typer.Option(
        "--step", help="The follow-up step: a key of \\[ri] steps in qaudit.toml (default:"
        " corrective-action, psw-meeting, esca-referral).")],
    on: Annotated[str, typer.Option("--on", help="Date the step happened (dd/mm/yyyy).")],
    note: Annotated[str, typer.Option("--note", help="What was done or agreed.")] = "",
) -> None:
    """Record a follow-up step of a 'Requires improvement' audit (once; not after closing)."""
    from qaudit.jobs.followup import record_ri_step

    done_on = date_option(on, "--on")
    ws = current_workspace()
    steps = ws.settings.ri.steps
    with ws.store() as store:
        record_ri_step(store, reference.strip(), step.strip(), done_on, note, today(), steps)
    out.print(escape(f"Recorded for {reference}: {steps[step.strip()]} on {done_on:%d/%m/%Y}."))


@ri_app.command(
    "close", epilog="Example: [bold]qaudit ri close 2026-27-C3-004 --note 'Actions complete'"
    "[/bold]\n\nWith a step missing, on purpose: [bold]qaudit ri close 2026-27-C3-004 --force"
    " --reason 'Practitioner left; ESCA informed in writing'[/bold]",
)
def ri_close(
    reference: ReferenceArgument,
    note: Annotated[str, typer.Option("--note", help="Why it can be closed.")] = "",
    force: Annotated[bool, typer.Option(
        "--force", help="Close although a required step is not recorded (needs --reason).")
    ] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why, with --force.")] = "",
) -> None:
    """Close a 'Requires improvement' audit once every follow-up step is recorded."""
    from qaudit.jobs.followup import close_ri

    ws = current_workspace()
    with ws.store() as store:
        close_ri(store, reference.strip(), note, ws.settings.ri.steps, force, reason)
    out.print(escape(f"Closed {reference} on the Requires improvement list."))


@ri_app.command(
    "reopen", epilog="Example: [bold]qaudit ri reopen 2026-27-C3-004 --reason 'Action not"
    " taken after all'[/bold]",
)
def ri_reopen(
    reference: ReferenceArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why it is reopened.")],
) -> None:
    """Reopen a closed 'Requires improvement' audit (kept in its history)."""
    from qaudit.jobs.followup import reopen_ri

    ws = current_workspace()
    with ws.store() as store:
        reopen_ri(store, reference.strip(), reason)
    out.print(escape(f"Reopened {reference} on the Requires improvement list."))


@escalations_app.callback(
    invoke_without_command=True,
    epilog="Example: [bold]qaudit escalations --cycle '2026-27 C3'[/bold]\n\n"
    "Record the outcome: [bold]qaudit escalations close 2026-27-C3-004 --outcome 'Team"
    " manager reviewed the plan with the practitioner'[/bold]",
)
def escalations(ctx: typer.Context, cycle: CycleOption = None,
                as_json: JsonOption = False) -> None:
    """List concerns escalated by auditors to team or Service Managers: open ones with
    their age, closed ones with their outcome."""
    if ctx.invoked_subcommand is not None:
        return
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
    listed = table()
    fixed(listed, "Reference")
    text(listed, "To")
    fixed(listed, "On (age)")
    text(listed, "Note, then outcome", min_width=NOTE_WIDTH)
    for aged in items:
        e = aged.item
        outcome = f"closed {uk_date(e.closed_at[:10])}: {e.outcome}" if e.closed_at else "open"
        age = "" if aged.closed else f"\n({aged.age_days} d)"
        listed.add_row(
            escape(f"{e.reference}\n{e.quadrant}"), escape(f"{e.escalated_to}\n{e.manager}"),
            uk_date(e.escalated_on) + age, escape(f"{e.note}\n{outcome}"),
        )
    show(listed, "Escalations (internal)")


@escalations_app.command(
    "close", epilog="Example: [bold]qaudit escalations close 2026-27-C3-004 --outcome 'Safety"
    " plan agreed with the team manager'[/bold]",
)
def escalation_close(
    reference: Annotated[str, typer.Argument(help="Allocation reference of the audit.")],
    outcome: Annotated[str, typer.Option("--outcome", help="What came of the escalation.")],
) -> None:
    """Record the outcome of an escalation and close it."""
    from qaudit.jobs.followup import close_escalation

    ws = current_workspace()
    with ws.store() as store:
        close_escalation(store, reference.strip(), outcome)
    out.print(escape(f"Closed the escalation of {reference}."))


def log(
    cycle: CycleOption = None,
    reference: Annotated[str | None, typer.Option("--ref", help="Only this allocation.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The history: every draw, return, moderation, follow-up step and closure, with who
    did it and when."""
    ws = current_workspace()
    with ws.store() as store:
        if cycle is not None:
            store.draws.require_cycle(cycle)
        events = store.events(cycle, store.draws.stored_reference(reference)
                              if reference else None)
    if as_json:
        print_json([asdict(e) for e in events])
        return
    if not events:
        out.print("Nothing recorded" + (" for that." if cycle or reference else " yet."))
        return
    history = table()
    fixed(history, "When (UTC), by")
    text(history, "What", "Cycle, reference")
    text(history, "Detail", min_width=NOTE_WIDTH)
    for e in events:
        detail = ", ".join(f"{k} {v}" for k, v in e.detail.items())
        where = "\n".join(filter(None, (e.cycle, e.reference)))
        history.add_row(escape(f"{e.at.replace('T', ' ')[:16]}\n{e.actor}"), escape(e.kind),
                        escape(where), escape(detail))
    show(history, "History")
