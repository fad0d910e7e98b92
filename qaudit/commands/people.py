"""`qaudit staff` and `qaudit feedback`: the people the cycle reaches, and the loop closed.

``staff import`` and ``staff list``: the staff list (emails, teams, roles, line managers,
Service Managers). ``feedback record`` and ``feedback year``: the reflective conversation
with the practitioner, and the framework's yearly "observation and feedback" view. All of
it is internal to the QA team: names are printed, through ``escape``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qaudit.commands.common import (
    JsonOption,
    current_workspace,
    date_option,
    escape,
    out,
    print_json,
    today,
)
from qaudit.commands.tables import NOTE_WIDTH, fixed, numbers, show, table, text
from qaudit.values import uk_date

if TYPE_CHECKING:
    from qaudit.jobs.staff import StaffImport

staff_app = typer.Typer(
    help="The staff list: who works where, their email, and who manages them.",
    no_args_is_help=True, rich_markup_mode="rich",
    epilog="Example: [bold]qaudit staff import staff.xlsx[/bold]",
)
feedback_app = typer.Typer(
    help="Feedback to the practitioner: record the reflective conversation.",
    no_args_is_help=True, rich_markup_mode="rich",
    epilog="Example: [bold]qaudit feedback record 2026-27-C3-004 --on 12/01/2027[/bold]",
)

#: The name column: a name on one line, an email beneath it folded only if very long.
NAME_WIDTH = 16

#: How each staff field is named in tables.
FIELD_TITLES = {
    "worker_id": "Worker ID", "name": "Name", "email": "Email", "team": "Team", "role": "Role",
    "line_manager": "Line manager", "line_manager_email": "Line manager email",
    "service_manager": "Service Manager", "service_manager_email": "Service Manager email",
}


def register(app: typer.Typer) -> None:
    app.add_typer(staff_app, name="staff")
    app.add_typer(feedback_app, name="feedback")


# --- qaudit staff ----------------------------------------------------------------------------


@staff_app.command(
    "import",
    epilog="Example: [bold]qaudit staff import staff.xlsx[/bold]  (check first with"
    " [bold]qaudit staff import staff.csv --dry-run[/bold])",
)
def staff_import(
    file: Annotated[Path, typer.Argument(help="The staff list: .xlsx or .csv.")],
    sheet: Annotated[str | None, typer.Option(
        "--sheet", help="The sheet of a workbook to import, where more than one holds a"
        " staff list.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Read and check the list, say what would change; store nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import the staff list: worker id, name, email, team, role, line manager and Service
    Manager (each with their email), found by the header names of \\[staff.columns].

    A worker already known is updated by worker id; nobody is ever removed (a worker not in
    this file is kept), and a blank cell keeps what was known. A row without an email is
    stored and listed, and so is every row not stored (no worker id, no name, a totals
    row). The whole file is refused, nothing stored, if any email address is not one qaudit
    can send to, or a value holds a line break or hidden character or is far too long: each
    is named by row, column and value. Of a workbook, only the sheets you can see are read;
    where two hold a staff list, name one with --sheet.
    """
    from qaudit.jobs.staff import import_staff

    ws = current_workspace()
    with ws.store() as store:
        result = import_staff(store, file, ws.settings, dry_run, sheet)
    if as_json:
        print_json(result.to_json())
        return
    _show_import(result)


def _show_import(result: StaffImport) -> None:
    from qaudit.workbooks.staff import FIELD_NAMES

    c = result.changes
    where = f"sheet {result.sheet!r}, " if result.sheet else ""
    people = len(c.added) + len(c.updated) + len(c.unchanged)
    out.print(escape(f"Read {result.file} ({where}header on row {result.header_row}):"
                     f" {people} people."))
    columns = ", ".join(f'{FIELD_NAMES[k]} "{v}"' for k, v in result.columns.items())
    out.print(escape(f"Columns: {columns}."))
    if result.not_in_file:
        out.print(escape("No column for " + ", ".join(FIELD_NAMES[f] for f in result.not_in_file)
                         + ": what is known of those is kept."))
    verb = "Would add" if result.dry_run else "Added"
    out.print(escape(
        f"{verb} {len(c.added)}, {'update' if result.dry_run else 'updated'} {len(c.updated)},"
        f" {len(c.unchanged)} unchanged; {len(c.kept)} known before and not in this file"
        f" {'would be' if result.dry_run else 'are'} kept as they are."))
    if c.updated:
        updated = table()
        fixed(updated, "Worker ID")
        text(updated, "Name", "Changed")
        for u in c.updated:
            updated.add_row(escape(u.member.worker_id), escape(u.member.name),
                            escape(", ".join(FIELD_NAMES[f] for f in u.changed)))
        show(updated, f"{'To update' if result.dry_run else 'Updated'} ({len(c.updated)})")
    if result.without_email:
        lacking = table()
        numbers(lacking, "Row")
        fixed(lacking, "Worker ID")
        text(lacking, "Name", "Team")
        for r in result.without_email:
            lacking.add_row(str(r.row), escape(r.member.worker_id), escape(r.member.name),
                            escape(r.member.team))
        show(lacking, f"Without an email ({len(result.without_email)}): nothing can be sent to"
             " them until the list gives one")
    if result.skipped:
        skipped = table()
        numbers(skipped, "Row")
        text(skipped, "Why")
        text(skipped, "The row holds", min_width=NOTE_WIDTH)
        for s in result.skipped:
            skipped.add_row(str(s.row), escape(s.reason), escape(s.text))
        show(skipped, f"Not stored ({len(result.skipped)}): a row needs a worker id and a name")
    if result.dry_run:
        out.print("Dry run: nothing was stored.")


@staff_app.command("list", epilog="Example: [bold]qaudit staff list --json[/bold]")
def staff_list(as_json: JsonOption = False) -> None:
    """Everyone on the staff list, by name, and who has no email yet."""
    from qaudit.jobs.staff import staff_list as known_staff

    ws = current_workspace()
    with ws.store() as store:
        records = known_staff(store)
    if as_json:
        print_json([{**{k: getattr(r.member, k) for k in FIELD_TITLES},
                     "source": r.source, "updated_at": r.updated_at} for r in records])
        return
    if not records:
        out.print("Nobody is on the staff list yet; import it with `qaudit staff import"
                  " FILE`.")
        return
    staff = table()
    fixed(staff, FIELD_TITLES["worker_id"])
    text(staff, "Name (email)", min_width=NAME_WIDTH)
    text(staff, *(FIELD_TITLES[k] for k in ("team", "role", "line_manager", "service_manager")))
    for r in records:
        m = r.member
        staff.add_row(escape(m.worker_id), escape(f"{m.name}\n{m.email or '— no email —'}"),
                      escape(m.team), escape(m.role), escape(m.line_manager),
                      escape(m.service_manager))
    show(staff, f"Staff list ({len(records)}; internal)")
    lacking = sum(1 for r in records if not r.member.email)
    if lacking:
        out.print(f"{lacking} without an email: nothing can be sent to them until an import"
                  " gives one.")


# --- qaudit feedback ---------------------------------------------------------------------------


@feedback_app.command(
    "record",
    epilog="Example: [bold]qaudit feedback record 2026-27-C3-004 --on 12/01/2027 --note"
    " 'Talked through the rationale with the line manager'[/bold]",
)
def feedback_record(
    reference: Annotated[str, typer.Argument(help="Allocation reference of the audit.")],
    on: Annotated[str, typer.Option(
        "--on", help="Date the conversation took place (dd/mm/yyyy).")],
    note: Annotated[str, typer.Option("--note", help="What was agreed (optional).")] = "",
) -> None:
    """Record that the audit's feedback was shared with the practitioner, ideally in a
    reflective conversation with their line manager (the framework).

    Only for an audit that has come back, on a day not before it came back nor in the
    future. Recording again adds a conversation to the history; the audit counts once.
    """
    from qaudit.jobs.feedback import record_feedback

    held_on = date_option(on, "--on")
    ws = current_workspace()
    with ws.store() as store:
        done = record_feedback(store, reference.strip(), held_on, note, today())
    again = f" (conversation {done.times} for this audit)" if done.times > 1 else ""
    out.print(escape(f"Recorded for {done.reference} ({done.cycle}): feedback shared on"
                     f" {done.held_on:%d/%m/%Y}{again}."))


@feedback_app.command(
    "year",
    epilog="Example: [bold]qaudit feedback year --year 2026-27[/bold]  or  [bold]qaudit feedback"
    " year --from 01/04/2026 --to 30/09/2026 --json[/bold]",
)
def feedback_year(
    year: Annotated[str | None, typer.Option(
        "--year", help="The council's year, 1 April to 31 March, e.g. 2026-27 (default: the"
        " year today is in).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day (dd/mm/yyyy).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (dd/mm/yyyy).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The framework's "observation and feedback on practice": has each practitioner had
    audited case feedback at least once in the year?

    Everyone on the staff list, and anyone audited in the period who is not: audits of their
    work returned in the period and feedback conversations held in it. Those with none come
    first, flagged (internal: it names people).
    """
    from qaudit.jobs.feedback import feedback_year as year_view
    from qaudit.jobs.feedback import period

    first = date_option(start, "--from") if start is not None else None
    last = date_option(end, "--to") if end is not None else None
    ws = current_workspace()
    with ws.store() as store:
        view = year_view(store, period(year, first, last, today()))
    if as_json:
        print_json(view.to_json())
        return
    p = view.period
    title = (f"Observation and feedback, {p.label} ({p.start:%d/%m/%Y} to {p.end:%d/%m/%Y};"
             " internal)")
    if not view.practitioners:
        out.print(escape(f"{title}: nobody on the staff list and nothing audited in it."))
        return
    people = table()
    text(people, "Practitioner (worker ID)", min_width=NAME_WIDTH)
    text(people, "Team, role")
    numbers(people, "Audits returned", "Conversations")
    fixed(people, "Last")
    text(people, "")
    for f in view.practitioners:
        flag = "none this year" if f.none_this_year else ""
        if not f.on_staff_list:
            flag = (flag + "; " if flag else "") + "not on the staff list"
        people.add_row(escape(f"{f.name}\n{f.worker_id}"), escape(f"{f.team}\n{f.role}"),
                       str(f.audits_returned), str(f.conversations),
                       uk_date(f.last_conversation), escape(flag))
    show(people, escape(title))
    out.print(f"{view.without} of {len(view.practitioners)} have had no audited case feedback"
              " recorded in the period; the framework asks for it at least once a year.")
