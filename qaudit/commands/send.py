"""`qaudit send KIND --cycle C`: every message of the people loop, as drafts or by SMTP."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer

from qaudit.commands.common import JsonOption, current_workspace, escape, out, print_json, today
from qaudit.commands.tables import NOTE_WIDTH, fixed, numbers, show, table, text
from qaudit.errors import QauditError
from qaudit.mail.kinds import MessageKind, Route

if TYPE_CHECKING:
    from qaudit.jobs.send import SendReport

SEND_EXAMPLE = (
    "Example: [bold]qaudit send forms --cycle '2026-27 C3'[/bold]  (drafts in"
    " cycles/2026-27-C3/outbox/forms/)\n\n"
    "Through the relay: [bold]qaudit send reminders --cycle '2026-27 C3' --smtp[/bold]\n\n"
    "Once more, on purpose: [bold]qaudit send feedback --cycle '2026-27 C3' --resend"
    " 2026-27-C3-004[/bold]\n\n"
    "A form changed on the share on purpose: [bold]qaudit send forms --cycle '2026-27 C3'"
    " --accept-changed cycles/2026-27-C3/audit-forms/2026-27-C3-004-audit.xlsx[/bold]"
)


def register(app: typer.Typer) -> None:
    """Registers ``qaudit send``."""
    app.command(epilog=SEND_EXAMPLE)(send)


def send(
    kind: Annotated[MessageKind, typer.Argument(
        help="allocations (Service Managers' workbooks), forms (audit form to the named"
        " auditor and self-reflection to the practitioner, together), reminders (overdue"
        " returns whose form went; a second one escalates), feedback (the feedback pack, once"
        " the moderation sample settles its grade), reports (a regular cycle's quadrant"
        " reports and the highlights; refused for a deep dive or re-audit round).",
        show_default=False)],
    cycle: Annotated[str, typer.Option("--cycle", "-c", help="The cycle to send for.")],
    to_outbox: Annotated[bool, typer.Option(
        "--to-outbox", help="Write drafts (.eml, X-Unsent) to cycles/<cycle>/outbox/KIND/,"
        " to open and send from your own mailbox (the default).")] = False,
    smtp: Annotated[bool, typer.Option(
        "--smtp", help="Send through the relay set in \\[mail] (password from the environment"
        " variable named by \\[mail] password_env, or the OS keyring).")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List who would get what, and write or send nothing.")] = False,
    resend: Annotated[str | None, typer.Option(
        "--resend", metavar="REF|ADDRESS", help="Send again what went before: the messages"
        " about a reference (a Service Manager's name, a quadrant, 'highlights'), to those"
        " they reached, or every message that went to one address (to that address only)."
        " Nothing else is sent, and nothing that never went: send it without --resend.")
    ] = None,
    accept_changed: Annotated[list[str] | None, typer.Option(
        "--accept-changed", metavar="FILE", help="A file qaudit wrote for the cycle (a form,"
        " a workbook, a draft) that was changed or removed on the share on purpose: accept it"
        " as it is now, recorded in the history with who accepted it. Give the path `qaudit"
        " status` names; repeat it for each file. Without it, a file not as qaudit wrote it"
        " stops the run before anything goes.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Draft or send the cycle's messages of one KIND, each recorded as it goes.

    Only what is new, changed, or not yet received by one of its recipients goes: a
    second run sends nothing twice, and finishes what a failed run left. Everyone without
    an email in the staff list is listed, never skipped in silence. Subjects carry the
    protective marking and the reference, never a name. Every file attached, and every
    earlier draft in the outbox a draft run writes into, is checked against what qaudit
    wrote: one changed or missing on the share stops the run before anything goes. Exit
    status 1 if the relay refused a message or a recipient, or the batch stopped part-way.
    """
    from qaudit.jobs.send import SendRequest, send_messages

    if to_outbox and smtp:
        raise QauditError("--to-outbox and --smtp are two different ways out; give one.")
    if resend is not None and not resend.strip():
        raise QauditError("--resend needs a reference or an address.")
    ws = current_workspace()
    request = SendRequest(kind, cycle, Route.SMTP if smtp else Route.DRAFT, dry_run,
                          resend.strip() if resend else None, tuple(accept_changed or ()))
    with ws.store() as store:
        report = send_messages(ws, store, request, today())
    if as_json:
        print_json(report.to_json())
    else:
        _show(report)
    if report.failed:
        raise typer.Exit(1)


_WENT = frozenset({"drafted", "sent", "would go"})
#: Up to this many messages are listed one by one; more are counted.
LIST_AT_MOST = 25


def _show(report: SendReport) -> None:
    kind, route = str(report.kind), report.route
    went = [o for o in report.outcomes if o.status in _WENT]
    if report.dry_run:
        verb = "would be drafted" if route is Route.DRAFT else "would be sent by SMTP"
        head = (f"Dry run, {kind} of {report.cycle}: {len(went)} message(s) {verb}; nothing"
                " was written or sent.")
    elif not report.outcomes:
        head = f"{kind.capitalize()} of {report.cycle}: nothing new to send."
    elif route is Route.DRAFT:
        head = (f"{kind.capitalize()} of {report.cycle}: {len(went)} draft(s) written in"
                f" {report.outbox}. Open each and send it from your mailbox.")
    else:
        head = (f"{kind.capitalize()} of {report.cycle}: {len(went)} message(s) sent through"
                " the relay.")
    out.print(escape(head), soft_wrap=True)
    if len(report.outcomes) > LIST_AT_MOST:
        # A cycle's forms are 240 messages: their counts, not a page per message.
        counts = Counter((o.status, o.reason) for o in report.outcomes)
        tally = table()
        fixed(tally, "Status")
        text(tally, "Why", min_width=NOTE_WIDTH)
        numbers(tally, "Messages")
        for (status, why), n in sorted(counts.items()):
            tally.add_row(escape(status), escape(why), str(n))
        show(tally)
        out.print(f"(`--json` lists each of the {len(report.outcomes)} messages with its"
                  " recipients.)", soft_wrap=True)
    elif report.outcomes:
        each = table()
        text(each, "Message", "To", "Cc", "Why", "Status")
        for o in report.outcomes:
            status = o.status + (" (some refused)" if o.refused and o.status == "sent" else "")
            each.add_row(escape(o.about), escape(", ".join(o.to)), escape(", ".join(o.cc)),
                         o.reason, escape(status))
        show(each)
    if report.unchanged:
        out.print(f"{report.unchanged} already sent and unchanged: not sent again (--resend"
                  " REF|ADDRESS sends one again).", soft_wrap=True)
    if report.held:
        out.print(f"\n[bold]Not sent ({len(report.held)}):[/bold] fix each and run the"
                  " command again (`qaudit staff import` updates the staff list).",
                  soft_wrap=True)
        for held in report.held:
            out.print(escape(f"  {held.about}: {held.reason}."), soft_wrap=True)
    refused = [f"{o.about}: {address} refused ({reply})"
               for o in report.outcomes for address, reply in o.refused]
    refused += [f"{o.about}: {o.error}" for o in report.outcomes
                if o.status == "refused" and not o.refused]
    if refused:
        out.print(f"\n[bold red]Refused by the relay ({len(refused)}):[/bold red] check each"
                  " address (the staff list, or the Service Manager's workbook) and run the"
                  " command again: only what was refused is sent.", soft_wrap=True)
        for line in refused:
            out.print(escape(f"  {line}"), soft_wrap=True)
    if report.stopped:
        out.print(f"\n[bold red]Stopped:[/bold red] {escape(report.stopped)}", soft_wrap=True)
    for note in report.waiting:
        out.print(escape(note), soft_wrap=True)
