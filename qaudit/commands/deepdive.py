"""`qaudit deep-dive new|list|show`: themed audits with their own terms of reference."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qaudit.commands.allocate import show_not_drawn
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
from qaudit.commands.tables import WINDOW_WIDTH, numbers, show, table, text, window_and_due
from qaudit.workspace import Workspace

if TYPE_CHECKING:
    from qaudit.jobs.deepdive import DeepDivePlan, DeepDiveSummary

NEW_EXAMPLE = (
    "Example: [bold]qaudit deep-dive new '2026-27 DD1' --terms deep-dive-terms.toml"
    " --question-set deep_dive_safeguarding_voice --filter audit-type=safeguarding_s42"
    " --filter question=V4:No --n 12 --from 01/04/2026 --to 31/10/2026"
    " mosaic-export.xlsx[/bold]\n\n"
    "Filters: the same key twice means either value; different keys must all hold."
    " Check a recorded draw: the same command with [bold]--seed N[/bold] and"
    " [bold]--dry-run[/bold] on the same export gives the same cases, row for row."
)

deep_dive_app = typer.Typer(
    help="Themed (deep dive) audits: their own terms of reference and question set, drawn"
    " at random from the filtered export, directed by the Practice Governance Board.",
    no_args_is_help=True, rich_markup_mode="rich",
    epilog="Example: [bold]qaudit deep-dive list[/bold]; [bold]qaudit deep-dive new NAME"
    " --terms FILE --question-set SET --n 12 --from DATE --to DATE EXPORT[/bold]",
)


def register(app: typer.Typer) -> None:
    app.add_typer(deep_dive_app, name="deep-dive")


@deep_dive_app.command("new", epilog=NEW_EXAMPLE)
def deep_dive_new(
    name: Annotated[str, typer.Argument(help="The deep dive's name, e.g. '2026-27 DD1'.")],
    export: Annotated[Path, typer.Argument(help="Case export: .xlsx, .xlsm or .csv.")],
    terms: Annotated[Path, typer.Option(
        "--terms", help="Terms of reference (TOML: title, purpose, understand, method,"
        " directed_by).")],
    question_set: Annotated[str, typer.Option(
        "--question-set", help="The question set used for every case, e.g."
        " deep_dive_safeguarding_voice (templates/questions/<SET>.toml).")],
    size: Annotated[int, typer.Option("--n", help="How many cases to draw in all.")],
    date_from: Annotated[str, typer.Option(
        "--from", help="First completion date in the window (dd/mm/yyyy).")],
    date_to: Annotated[str, typer.Option(
        "--to", help="Last completion date in the window (dd/mm/yyyy).")],
    filters: Annotated[list[str] | None, typer.Option(
        "--filter", help="KEY=VALUE: team=..., audit-type=..., quadrant=..., question=V4:No"
        " (workers whose earlier returned audits answered No to V4). Repeatable.")] = None,
    due: Annotated[str | None, typer.Option(
        "--due", help="Returns due by (default: today + \\[cycle] return_days).")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Seed for the draw (default: a fresh one).")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Folder for the workbooks (default: <workspace>/cycles/<name>).",
        file_okay=False)] = None,
    sheet: Annotated[str | None, typer.Option(
        "--sheet", help="Read this sheet (default: found by header).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show the draw; write and store nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Draw a deep dive: N cases at random from the eligible export rows within the
    filters, with its own terms of reference (printed on every form and on its report) and
    its own question set.

    A cycle's rules: work completed in the window, no person or record drawn before, one
    case a person and at most \\[sampling] max_cases_per_worker a practitioner; the seed is
    recorded. The worker cool-down (\\[sampling] worker_cooldown_cycles) does not apply: a
    deep dive looks where the Board directs it, and each case drawn despite the cool-down
    says so in the register's "Drawn because" column. A deep dive does not count
    toward the 120 nor the regular cycle's figures; by \\[deep_dives] block_later_draws its
    people and records are kept out of later regular draws. Its forms then go through
    `qaudit send forms`, `qaudit ingest` and `qaudit moderate select --cycle NAME` as a
    cycle's do.
    """
    from qaudit.jobs.allocate import commit_allocation
    from qaudit.jobs.deepdive import DeepDiveRequest, plan_deep_dive

    request = DeepDiveRequest(
        name=name, terms_file=terms, question_set=question_set.strip(),
        filters=tuple(filters or ()), size=size, export=export,
        date_from=date_option(date_from, "--from"), date_to=date_option(date_to, "--to"),
        today=today(), due=date_option(due, "--due") if due is not None else None,
        seed=seed, out=out_dir, sheet=sheet, dry_run=dry_run)
    ws = current_workspace()
    with ws.store() as store, progress_bar(quiet=as_json) as progress:
        reading = step(progress, "Reading export")
        plan = plan_deep_dive(ws, store, request, progress=reading)
        reading(plan.allocation.export.rows_read, plan.allocation.export.rows_read)
        if not dry_run:
            commit_allocation(ws, store, plan.allocation,
                              on_file=step(progress, "Writing workbooks"))
    for warning in plan.allocation.warnings:
        err.print(escape(f"Warning: {warning}"), style="yellow")
    if as_json:
        result = plan.to_json()
        result["dry_run"] = dry_run
        result["out"] = None if dry_run else str(plan.allocation.out_dir)
        print_json(result)
        return
    _show_plan(ws, plan)
    a = plan.allocation
    if dry_run:
        out.print("[bold]Dry run:[/bold] nothing was written or stored.")
    else:
        print_path(
            f"Wrote {len(a.files)} workbooks: register.xlsx, {len(a.managers)} Service Manager"
            f" workbooks, {len(a.allocations)} audit forms (terms of reference on the sheet"
            f" 'About this audit') and {len(a.allocations)} self-reflection forms, in",
            a.out_dir)
    out.print(f"Seed [bold]{a.seed}[/bold] (recorded; --seed {a.seed} --dry-run on the same"
              " export reproduces this draw).")


def _show_plan(ws: Workspace, plan: DeepDivePlan) -> None:
    """The draw as `qaudit allocate` prints one, with the deep dive's columns: no quota per
    quadrant and type, N in all (allocate's own table has quota columns, so only its hints
    are shared)."""
    from qaudit.themes import describe_filters

    a, s = plan.allocation, plan.selection
    names = ws.settings.short_names()
    export = a.export
    where = f"sheet {export.sheet!r}, " if export.sheet else ""
    out.print(escape(
        f"Read {export.rows_read:,} rows from {export.path.name} ({where}header on row"
        f" {export.header_row}): {len(export.cases):,} usable, {a.eligible:,} eligible in the"
        f" window, {plan.within:,} within the filters."))
    out.print(escape(f"Deep dive {a.request.cycle}: {s.terms_.title}"), style="bold")
    out.print(escape(f"Filters: {describe_filters(s.filters)}; question set"
                     f" {s.questions.id} {s.questions.version}."))
    draw = table()
    text(draw, "Quadrant", "Audit type")
    numbers(draw, "Within filters", "Drawn")
    for stratum in a.strata:
        draw.add_row(escape(stratum.quadrant), escape(names.get(stratum.audit_type,
                                                                 stratum.audit_type)),
                     f"{stratum.eligible:,}", str(stratum.drawn))
    draw.add_section()
    draw.add_row("Total", "", f"{plan.within:,}", f"{plan.drawn} of {s.size}")
    show(draw, escape(f"Draw for {a.request.cycle}"))
    counts: dict[str, int] = {}
    for st in a.strata:
        for k, v in st.passed_over.items():
            counts[k] = counts.get(k, 0) + v
    if counts:
        out.print(escape("Passed over: " + "; ".join(f"{n} {why}" for why, n in counts.items())
                         + "."))
    show_not_drawn(a)


@deep_dive_app.command("list", epilog="Example: [bold]qaudit deep-dive list[/bold]")
def deep_dive_list(as_json: JsonOption = False) -> None:
    """Every deep dive: its title, window, filters, size, drawn, returned and state."""
    from qaudit.jobs.deepdive import list_deep_dives

    ws = current_workspace()
    with ws.store() as store:
        dives = list_deep_dives(store, today(), ws.settings.moderation.rate)
    if as_json:
        print_json([d.to_json() for d in dives])
        return
    if not dives:
        out.print("No deep dive yet; `qaudit deep-dive new --help` says how to draw one.")
        return
    listed = table()
    text(listed, "Deep dive: title")
    text(listed, "Window, returns due", min_width=WINDOW_WIDTH)
    text(listed, "Filters")
    numbers(listed, "N", "Drawn", "Returned")
    text(listed, "State")
    for d in dives:
        c = d.record.cycle
        listed.add_row(escape(f"{d.record.name}: {d.record.title}"),
                       window_and_due(c.date_from, c.date_to, c.due_date),
                       escape(d.filters_text), str(d.record.size), str(d.state.allocated),
                       str(d.state.returned), escape(d.state.state))
    show(listed)


@deep_dive_app.command("show", epilog="Example: [bold]qaudit deep-dive show '2026-27 DD1'"
                       "[/bold]")
def deep_dive_show(
    name: Annotated[str, typer.Argument(help="The deep dive.")],
    as_json: JsonOption = False,
) -> None:
    """One deep dive: its terms of reference, question set, filters, N, and how many were
    drawn, returned and moderated."""
    from qaudit.jobs.deepdive import show_deep_dive

    ws = current_workspace()
    with ws.store() as store:
        dive = show_deep_dive(store, name, today(), ws.settings.moderation.rate)
    if as_json:
        print_json(dive.to_json())
        return
    _show_one(dive)


def _show_one(dive: DeepDiveSummary) -> None:
    r, c, s = dive.record, dive.record.cycle, dive.state
    out.print(escape(f"Deep dive {r.name}: {r.title}"), style="bold")
    for label, said in (("Purpose", r.purpose), ("What it seeks to understand", r.understand),
                        ("Method", r.method), ("Directed by", r.directed_by)):
        if said:
            out.print(f"[bold]{label}:[/bold] " + escape(said))
    out.print(escape(f"Question set: {r.question_set}. Filters: {dive.filters_text}."))
    out.print(escape(f"Window {c.date_from:%d/%m/%Y} to {c.date_to:%d/%m/%Y}; returns due"
                     f" {c.due_date:%d/%m/%Y}. N {r.size}: {s.allocated} drawn, {s.returned}"
                     f" returned, {s.moderated} moderated ({s.state})."))
    blocking = ("kept out of later regular draws" if r.blocks_later_draws
                else "free for later regular draws")
    out.print(escape(f"Its people and records are {blocking} ([deep_dives]"
                     f" block_later_draws when drawn). Terms SHA-256 {r.terms_sha256}."))
