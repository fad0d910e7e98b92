"""`qaudit status`: where a cycle stands, who holds what, who to chase, the year to date."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from qaudit.commands.common import (
    JsonOption,
    current_workspace,
    err,
    escape,
    out,
    print_json,
    today,
)
from qaudit.commands.tables import fixed, numbers, show, table, text
from qaudit.errors import QauditError
from qaudit.reports import STATUS_COUNTS
from qaudit.values import uk_date

if TYPE_CHECKING:
    from qaudit.jobs.plan import YearStatus
    from qaudit.jobs.status import CycleStatus, Holdings, Overdue

HEADERS = dict(zip(STATUS_COUNTS, ("Allocated", "Reflections", "Audits", "Overdue",
                                   "Moderated", "RI open", "Feedback"), strict=True))
STATUS_EXAMPLE = (
    "Example: [bold]qaudit status --cycle '2026-27 C3'[/bold]\n\n"
    "Who holds what: [bold]qaudit status --by auditor[/bold]; who to chase:"
    " [bold]qaudit status --overdue[/bold]; the year to date:"
    " [bold]qaudit status --year 2026-27[/bold]"
)


class By(StrEnum):
    """Whose cases: the person holding them."""

    AUDITOR = "auditor"
    SERVICE_MANAGER = "service-manager"
    PRACTITIONER = "practitioner"


def register(app: typer.Typer) -> None:
    app.command(epilog=STATUS_EXAMPLE)(status)


def status(
    cycle: Annotated[str | None, typer.Option(
        "--cycle", "-c", help="Cycle (default: the latest drawn).")] = None,
    by: Annotated[By | None, typer.Option(
        "--by", help="List every case by the person holding it: the auditor named for it,"
        " its Service Manager, or its practitioner.")] = None,
    overdue: Annotated[bool, typer.Option(
        "--overdue", help="Only what is late, with the person to chase and days overdue"
        " (with --by: the cases with something late).")] = False,
    year: Annotated[str | None, typer.Option(
        "--year", help="The year to date against its target (cycles x the sum of quotas:"
        " 960 by default): drawn, returned, moderated, by quadrant and audit type.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Where a cycle stands per quadrant and Service Manager: allocated, self-reflections
    and audits back, overdue, moderated, RI open, feedback shared; and what was sent.

    With [bold]--by[/bold] or [bold]--overdue[/bold]: who holds what, by name (the QA
    team's own view; never published). An audit is chased with the auditor named for it,
    or, while none is named, with the Service Manager; a self-reflection with the
    practitioner.
    """
    from qaudit.db.network import share_note
    from qaudit.jobs.status import cycle_status, holdings
    from qaudit.jobs.status import overdue as overdue_list

    ws = current_workspace()
    # On a share, the SQLite file is the worry; a PostgreSQL record is on its server.
    if not ws.settings.database.url and (note := share_note(ws.root)) and not as_json:
        err.print(escape(note), soft_wrap=True)
    if year is not None:
        if cycle is not None or by is not None or overdue:
            raise QauditError("--year shows the whole year; give it without --cycle, --by or"
                              " --overdue.")
        from qaudit.jobs.plan import year_status

        with ws.store() as store:
            progress = year_status(ws.settings, store, year)
        if as_json:
            print_json(progress.to_json())
        else:
            _show_year(progress, ws.settings.type_names())
        return
    if by is not None:
        with ws.store() as store:
            held = holdings(store, cycle, today(), by.value, overdue,
                            ws.settings.mail.allowed_domains)
        if as_json:
            print_json(held.to_json())
        else:
            _show_holdings(held)
        return
    if overdue:
        with ws.store() as store:
            late = overdue_list(store, cycle, today(), ws.settings.mail.allowed_domains)
        if as_json:
            print_json(late.to_json())
        else:
            _show_overdue(late)
        return
    with ws.store() as store:
        result = cycle_status(store, cycle, today(), ws.settings.moderation.rate, ws.root)
    if as_json:
        print_json(result.to_json())
        return
    out.print(escape(f"{result.cycle}: returns due {result.due:%d/%m/%Y}"
                     + (" (past)" if result.past_due else "")))
    for title, rows in (("Quadrant", result.by_quadrant),
                        ("Service Manager", result.by_service_manager)):
        counts = table()
        text(counts, title)
        numbers(counts, *HEADERS.values())
        for row in rows:
            if row is rows[-1]:
                counts.add_section()
            counts.add_row(escape(row.group), *(str(getattr(row, k)) for k in HEADERS))
        show(counts)
    m = result.moderation
    verdict = "met" if m.met else "not met yet"
    out.print(escape(
        f"Moderation: {m.moderated} of {m.returned} returned audits moderated"
        f" ({m.selected} selected); the {m.rate:.0%} target is {m.target}: {verdict}."))
    f = result.feedback
    out.print(escape(f"Feedback: shared with the practitioner for {f.shared} of {f.returned}"
                     " returned audits (`qaudit feedback record`)."))
    if result.messages:
        sent = "; ".join(
            f"{s.kind} {s.count} {'drafted' if s.route == 'draft' else 'sent'}"
            f" (last {uk_date(s.last[:10])} {s.last[11:16]} UTC)" for s in result.messages)
        out.print(escape(f"Messages: {sent}."))
    _show_files(result)


#: Files not as qaudit wrote them listed one by one; more are counted.
FILES_LISTED = 20


def _show_files(result: CycleStatus) -> None:
    """The cycle's files on the share, and the workshops', against what qaudit wrote."""
    from qaudit.jobs.shared_files import described

    files, workshops = result.files, result.workshop_files
    if files is None or workshops is None:
        return
    if files.checked and not files.noticed:
        out.print(f"Files on the share: the {files.checked} qaudit wrote for the cycle are as"
                  " it wrote them.", soft_wrap=True)
    cycle = result.cycle
    for found, whose, advice in (
        (files, "the cycle", "Put back what qaudit wrote (the share's earlier versions, or a"
         " copy), or make it again with the command that made it; `qaudit send` refuses to"
         " attach a changed file, and says how. A change made on purpose is accepted with"
         f" `qaudit send KIND --cycle '{cycle}' --accept-changed FILE` (the history records"
         " who accepted it). A moderation workbook filled in on the share is taken as it is"
         " once `qaudit moderate ingest` takes it in."),
        (workshops, "the workshops", "Put back what qaudit wrote (the share's earlier"
         " versions, or a copy); a grading workbook filled in on the share is taken as it is"
         " once `qaudit workshop ingest` takes it in."),
    ):
        if not found.noticed:
            continue
        out.print(escape(f"\nFiles on the share: {len(found.noticed)} of the {found.checked}"
                         f" qaudit wrote for {whose} changed or went missing since:"),
                  soft_wrap=True)
        for checked in found.noticed[:FILES_LISTED]:
            out.print(escape(f"  {described(checked)}"), soft_wrap=True)
        if len(found.noticed) > FILES_LISTED:
            out.print(f"  ... and {len(found.noticed) - FILES_LISTED} more (`--json` lists"
                      " them all).", soft_wrap=True)
        out.print(escape(advice), soft_wrap=True)


def _show_year(progress: YearStatus, names: dict[str, str]) -> None:
    p = progress
    out.print(escape(
        f"{p.year}: {p.drawn} of {p.target} drawn, {p.returned} returned, {p.moderated}"
        f" moderated ({len(p.cycles)} of {p.planned} cycles drawn"
        + (f": {', '.join(p.cycles)}" if p.cycles else "") + ")."))
    for title, rows in (("Quadrant", p.by_quadrant), ("Audit type", p.by_type)):
        year = table()
        text(year, title)
        numbers(year, "Target", "Drawn", "Returned", "Moderated", "Drawn of target")
        for r in rows:
            share = f"{r.drawn / r.target:.0%}" if r.target else ""
            year.add_row(escape(names.get(r.group, r.group)), str(r.target), str(r.drawn),
                         str(r.returned), str(r.moderated), share)
        year.add_section()
        year.add_row("Total", str(p.target), str(p.drawn), str(p.returned), str(p.moderated),
                     f"{p.drawn / p.target:.0%}" if p.target else "")
        show(year)


#: The person column of ``--by``: a name, and the email beneath it.
_PERSON_WIDTH = 16


def _late(days: int) -> str:
    """What follows a form's state when it is late: ', 3 d overdue'."""
    return f", {days} d overdue" if days else ""


def _show_holdings(held: Holdings) -> None:
    what = {"auditor": "auditor", "service-manager": "Service Manager",
            "practitioner": "practitioner"}[held.by]
    late = " with something overdue" if held.overdue_only else ""
    out.print(escape(f"{held.cycle}: returns due {held.due:%d/%m/%Y}; cases{late} by {what}"
                     " (internal)."))
    if not held.groups:
        out.print("Nothing overdue." if held.overdue_only else "No cases.")
        return
    cases = table()
    columns = {
        "auditor": ("Auditor", "Reference", "Service Manager", "Audit"),
        "service-manager": ("Service Manager", "Reference", "Auditor", "Audit",
                            "Self-reflection"),
        "practitioner": ("Practitioner", "Reference", "Self-reflection", "Audit", "Feedback"),
    }[held.by]
    text(cases, columns[0], min_width=_PERSON_WIDTH)
    fixed(cases, "Reference")
    text(cases, *columns[2:])
    for group in held.groups:
        cases.add_section()
        for n, c in enumerate(group.cases):
            audit = (f"returned {uk_date(c.audit_received)}" if c.audit_received
                     else "with the auditor" if c.auditor else "no auditor named")
            audit += _late(c.audit_days_overdue)
            reflection = ("returned" if c.self_reflection_back else "not back" if c.forms_sent
                          else "form not sent yet") + _late(c.reflection_days_overdue)
            who = ""
            if n == 0:  # the person once, with their address beneath
                who = escape(group.name) + (f"\n{escape(group.email)}" if group.email else "")
            row: tuple[str, ...]
            if held.by == "auditor":
                row = (escape(c.reference), escape(c.service_manager), audit)
            elif held.by == "service-manager":
                row = (escape(c.reference), escape(c.auditor) or "—", audit, reflection)
            else:
                feedback = (f"shared {uk_date(c.last_feedback)}" if c.feedback_times
                            else "not yet" if c.audit_received else "")
                row = (escape(c.reference), reflection, audit, feedback)
            cases.add_row(who, *row)
    show(cases)


def _show_overdue(late: Overdue) -> None:
    out.print(escape(f"{late.cycle}: returns due {late.due:%d/%m/%Y}; overdue on"
                     f" {late.today:%d/%m/%Y} (internal)."))
    if not late.items:
        out.print("Nothing overdue.")
        return
    chase = table()
    fixed(chase, "Reference")
    text(chase, "What", "Chase (as)", "Email")
    text(chase, "Service Manager")
    fixed(chase, "Overdue", right=True)
    for i in late.items:
        days = f"{i.days_overdue} d" if i.days_overdue else ""
        if i.forms_not_sent:
            chase.add_row(escape(i.reference), i.what, "forms not sent yet", "",
                          escape(i.service_manager), days)
            continue
        who = escape(i.chase) + (f"\n({i.chase_role})" if i.chase_role else "")
        chase.add_row(escape(i.reference), i.what, who, escape(i.email) or "— unknown —",
                      escape(i.service_manager), days)
    show(chase)
    waiting = sum(1 for i in late.items if i.forms_not_sent)
    if waiting:
        out.print(f"{waiting} self-reflection{'s' if waiting > 1 else ''}: forms not sent yet,"
                  " so nobody to chase; they go with the audit form once the Service Manager"
                  " names an auditor.")
    unknown = [i for i in late.items if not i.forms_not_sent and not i.email]
    if unknown:
        out.print(f"{len(unknown)} without a known email: `qaudit staff import` the staff"
                  " list to add them (`qaudit send reminders` holds them until then):")
        for i in unknown[:20]:
            out.print(escape(f"  {i.reference} {i.what}: {i.note}"))
        if len(unknown) > 20:
            out.print(f"  ... and {len(unknown) - 20} more (`--json` lists them all).")
