"""Time ``qaudit send forms`` for a full cycle, as drafts and over SMTP, against its floors.

Usage::

    python benchmarks/bench_send.py [--repeat 5] [--no-smtp] [--profile 25]

The script builds (untimed) a workspace of its own: the default quotas drawn from
``examples/case-export.xlsx`` (120 cases, every form written by ``qaudit allocate``), every
practitioner in the staff list with an address, and an auditor named for all but the last
four cases, as ``qaudit staff import`` and the Service Managers' workbooks store them. So
``send forms`` has 232 messages to go: each named auditor's audit form and each
practitioner's self-reflection form, attached. Then, in one process, interleaved (floor,
job, floor, job...), best of ``--repeat``, each run on a fresh copy of the workspace:

1. *drafts*: ``send_messages`` (``qaudit send forms``), writing 232 ``.eml`` drafts into
   the outbox and recording each; against the floor of writing the same ``.eml`` bytes
   (the job's own drafts, read untimed) to the same number of files with plain Python.
   Beside them, the job's planning alone (``--dry-run``: the record read, the letters,
   their files read and hashed, every body rendered; no message made, nothing written);
2. *SMTP*: ``send_messages`` with ``--smtp`` to an aiosmtpd server on this machine, one
   connection, each message recorded as the relay accepts it; against the floor of
   ``smtplib`` sending the same messages (the bytes the server received from the job) to
   the same recipients on one connection.

Both targets (from issue 13) are at most 3x the floor. ``--profile N`` prints the N costliest
functions of one drafts run. It is a benchmark, not a timed test: nothing fails.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import smtplib
import socket
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import tomlkit
from aiosmtpd.controller import Controller
from common import interleaved, machine, ratio_line, seconds_line, timed

from qaudit import cli
from qaudit.jobs.send import SendReport, SendRequest, send_messages
from qaudit.mail.kinds import MessageKind, Route
from qaudit.workspace import init_workspace, open_workspace

EXPORT = Path(__file__).resolve().parent.parent / "examples" / "case-export.xlsx"
CYCLE = "2026-27 C3"
UNNAMED = 4  # the last cases: no auditor named yet, so their forms wait
TEAM_MAILBOX = "qa.team@example.org"
HOST = "127.0.0.1"
TARGET = 3.0
PACKAGES = ("qaudit", "aiosmtpd", "jinja2", "email-validator")


# --- the workspace -------------------------------------------------------------------------


def build_workspace(root: Path) -> None:
    """A drawn cycle of the default quotas, its people in the staff list, auditors named."""
    init_workspace(root)
    with _settings(root) as settings:
        settings["organisation"]["mailbox"] = TEAM_MAILBOX
    due = (date.today() + timedelta(days=10)).strftime("%d/%m/%Y")
    try:
        with redirect_stdout(io.StringIO()):
            cli.main(["-w", str(root), "allocate", str(EXPORT), "--cycle", CYCLE, "--from",
                      "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due", due])
    except SystemExit as exc:
        if exc.code:
            raise RuntimeError(f"allocate failed ({exc.code})") from exc
    conn = sqlite3.connect(open_workspace(root).db_path)
    try:
        with conn:
            _add_people(conn)
    finally:
        conn.close()


def _add_people(conn: sqlite3.Connection) -> None:
    """Every practitioner with an address, and an auditor named for all but ``UNNAMED``."""
    cases = conn.execute("SELECT id, reference, worker_id, worker_name, service_manager"
                         " FROM current_allocations ORDER BY id").fetchall()
    for number, (allocation_id, reference, worker_id, name, manager) in enumerate(cases):
        conn.execute(
            "INSERT OR REPLACE INTO staff (worker_id, name, email, team, role,"
            " service_manager, source, updated_at) VALUES (?, ?, ?, 'Team', 'Social Worker',"
            " ?, 'staff.xlsx', '2026-11-01T09:00:00+00:00')",
            (worker_id, name or f"Worker {worker_id}", f"{worker_id.lower()}@example.org",
             manager))
        if number < len(cases) - UNNAMED:
            conn.execute(
                "INSERT INTO auditor_assignments (allocation_id, auditor_name, auditor_email,"
                " auditor_role, allocated_on, file_name, file_sha256, received_at) VALUES"
                " (?, ?, ?, 'Senior Practitioner', '2026-11-01', 'service-manager-01.xlsx',"
                " 'x', '2026-11-01T09:00:00+00:00')",
                (allocation_id, f"Auditor {reference[-3:]}",
                 f"auditor-{reference[-3:]}@example.org"))


@contextmanager
def _settings(root: Path) -> Iterator[Any]:
    path = root / "qaudit.toml"
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    yield document
    path.write_text(tomlkit.dumps(document), encoding="utf-8")


def use_relay(root: Path, port: int) -> None:
    with _settings(root) as settings:
        settings["mail"]["host"] = HOST
        settings["mail"]["port"] = port
        settings["mail"]["security"] = "none"


# --- the relay -----------------------------------------------------------------------------


@dataclass
class Mailbox:
    """The aiosmtpd handler: keeps what it accepted (envelope and bytes)."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos),
                              bytes(envelope.original_content)))
        return "250 2.0.0 Message accepted"


@contextmanager
def relay() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = int(probe.getsockname()[1])
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname=HOST, port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


# --- the runs ------------------------------------------------------------------------------


@dataclass
class Scratch:
    """Fresh folders for the runs (made untimed, removed once timed)."""

    base: Path
    folder: Path
    runs: int = 0

    @contextmanager
    def copy(self) -> Iterator[Path]:
        """A fresh copy of the built workspace."""
        with self.empty(lambda folder: shutil.copytree(self.base, folder / "ws")) as folder:
            yield folder / "ws"

    @contextmanager
    def empty(self, fill: Callable[[Path], object] = lambda _: None) -> Iterator[Path]:
        """A new folder, its writes flushed to disk before the run (the system's writing
        them back during it would fall on one run and not the other)."""
        self.runs += 1
        folder = self.folder / f"run-{self.runs}"
        folder.mkdir()
        fill(folder)
        os.sync()
        try:
            yield folder
        finally:
            shutil.rmtree(folder)


def send(root: Path, route: Route, dry_run: bool = False) -> SendReport:
    ws = open_workspace(root)
    with ws.store() as store:
        report = send_messages(ws, store, SendRequest(MessageKind.FORMS, CYCLE, route,
                                                      dry_run=dry_run),
                               date.today(), environ={})
    if report.failed or len(report.outcomes) < 2:
        raise RuntimeError(f"send forms did not go as expected: {report.to_json()}")
    return report


def drafts_of(root: Path) -> list[tuple[str, bytes]]:
    outbox = root / "cycles" / CYCLE.replace(" ", "-") / "outbox" / "forms"
    return [(p.name, p.read_bytes()) for p in sorted(outbox.glob("*.eml"))]


def write_plainly(folder: Path, files: list[tuple[str, bytes]]) -> None:
    """The drafts floor: the same bytes to the same number of files, plain Python."""
    for name, data in files:
        with open(folder / name, "wb") as fh:
            fh.write(data)


def send_plainly(port: int, messages: list[tuple[str, list[str], bytes]]) -> None:
    """The SMTP floor: smtplib, one connection, the same messages to the same recipients."""
    with smtplib.SMTP(HOST, port) as smtp:
        for sender, recipients, data in messages:
            smtp.sendmail(sender, recipients, data)


def bench_drafts(scratch: Scratch, repeat: int) -> tuple[dict[str, list[float]], int]:
    """The floor, the job, and the job's planning alone (``--dry-run``: reading the record,
    the letters, their files and hashes, every body rendered; nothing made or written)."""
    with scratch.copy() as root:  # warm: imports, templates; and the drafts the floor writes
        send(root, Route.DRAFT)
        files = drafts_of(root)

    def floor() -> float:
        with scratch.empty() as folder:
            return timed(lambda: write_plainly(folder, files))

    def job() -> float:
        with scratch.copy() as root:
            return timed(lambda: send(root, Route.DRAFT))

    def planning() -> float:
        return timed(lambda: send(scratch.base, Route.DRAFT, dry_run=True))

    return interleaved(repeat, {"floor": floor, "job": job, "planning": planning}), len(files)


def bench_smtp(scratch: Scratch, repeat: int) -> tuple[dict[str, list[float]], int]:
    with relay() as (mailbox, port):
        use_relay(scratch.base, port)
        with scratch.copy() as root:  # warm, and the messages the floor sends
            send(root, Route.SMTP)
        messages = list(mailbox.received)

        def floor() -> float:
            return timed(lambda: send_plainly(port, messages))

        def job() -> float:
            with scratch.copy() as root:
                return timed(lambda: send(root, Route.SMTP))

        return interleaved(repeat, {"floor": floor, "job": job}), len(messages)


def profile_drafts(scratch: Scratch, top: int) -> None:
    with scratch.copy() as root:
        send(root, Route.DRAFT)  # warm
    with scratch.copy() as root:
        profiler = cProfile.Profile()
        profiler.enable()
        send(root, Route.DRAFT)
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    print(out.getvalue())


def report(label: str, floor_label: str, times: dict[str, list[float]]) -> None:
    print(seconds_line(floor_label, times["floor"]))
    print(seconds_line(label, times["job"]))
    if "planning" in times:
        print(seconds_line("  of which planning (--dry-run)", times["planning"]))
    print(ratio_line(f"{label} / floor", min(times["job"]), min(times["floor"]), TARGET))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds of floor and job")
    parser.add_argument("--no-smtp", action="store_true", help="time the drafts only")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the N costliest functions of one drafts run")
    args = parser.parse_args(argv)
    for line in machine(PACKAGES):
        print(line)
    with tempfile.TemporaryDirectory(prefix="bench-send-") as folder:
        base = Path(folder) / "base"
        print("building the workspace (allocate, staff, auditors) ...", flush=True)
        build_workspace(base)
        scratch = Scratch(base, Path(folder))
        if args.profile:
            profile_drafts(scratch, args.profile)
        times, count = bench_drafts(scratch, args.repeat)
        print(f"send forms as drafts: {count} messages, best of {args.repeat}")
        report("send forms (drafts)", "floor: write the .eml files", times)
        if not args.no_smtp:
            times, count = bench_smtp(scratch, args.repeat)
            print(f"send forms over SMTP to aiosmtpd on {HOST}: {count} messages,"
                  f" best of {args.repeat}")
            report("send forms (SMTP)", "floor: smtplib, one connection", times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
