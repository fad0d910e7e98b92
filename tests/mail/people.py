"""A drawn cycle with the people ``qaudit send`` needs, written straight into the database.

The staff import and the Service Managers' workbook read-back are other commands; these
tests set up their results directly (staff rows, named auditors), as those commands store
them. Every name and address is synthetic (example.org).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from conftest import EXAMPLES, edit_settings, qaudit_ok, raw_database, small_workspace
from qaudit.db.dialect import Connection
from qaudit.workspace import Workspace, open_workspace

CYCLE = "2026-27 C3"
SLUG = "2026-27-C3"
TEAM_MAILBOX = "qa.team@example.org"
DIRECTOR = "director.mid@example.org"
COUNTYWIDE = "countywide.director@example.org"
NETWORK = ("sp.network@example.org",)


@dataclass(frozen=True)
class Allocated:
    allocation_id: int
    reference: str
    worker_id: str
    worker_name: str
    service_manager: str
    quadrant: str


def practitioner_email(worker_id: str) -> str:
    return f"{worker_id.lower()}@example.org"


def auditor_email(reference: str) -> str:
    return f"auditor-{reference[-3:]}@example.org"


def line_manager_email(worker_id: str) -> str:
    return f"lm-{worker_id.lower()}@example.org"


def allocations(ws: Workspace) -> list[Allocated]:
    with raw_database(ws) as conn:
        rows = conn.execute(
            "SELECT id, reference, worker_id, worker_name, service_manager, quadrant"
            " FROM current_allocations ORDER BY id").fetchall()
    return [Allocated(*r) for r in rows]


def manager_emails(ws: Workspace) -> dict[str, str]:
    managers = sorted({a.service_manager for a in allocations(ws)}, key=str.casefold)
    return {m: f"sm-{n:02d}@example.org" for n, m in enumerate(managers, start=1)}


def drawn_cycle(root: Path, per_stratum: int = 1, due_in_days: int = 10,
                quadrants: Sequence[str] = ()) -> Workspace:
    """A workspace with the example export drawn (only ``quadrants``, if given), its team
    mailbox, directors and network list set, and every worker, line manager and Service
    Manager in the staff list. No auditor is named yet."""
    small_workspace(root, per_stratum)
    with edit_settings(root) as settings:
        settings["organisation"]["mailbox"] = TEAM_MAILBOX
        settings["people"]["directors"] = {"Mid": [DIRECTOR]}
        settings["people"]["countywide_directors"] = [COUNTYWIDE]
        settings["people"]["network_list"] = list(NETWORK)
        if quadrants:
            for quadrant, per_type in settings["quotas"].items():
                for key in per_type:
                    per_type[key] = per_stratum if quadrant in quadrants else 0
    due = (date.today() + timedelta(days=due_in_days)).strftime("%d/%m/%Y")
    qaudit_ok(root, "allocate", EXAMPLES / "case-export.xlsx", "--cycle", CYCLE, "--from",
              "01/09/2026", "--to", "31/10/2026", "--seed", "9", "--due", due)
    ws = open_workspace(root)
    with raw_database(ws) as conn:
        for a in allocations(ws):
            add_staff(conn, a.worker_id, a.worker_name or f"Worker {a.worker_id}",
                      practitioner_email(a.worker_id), line_manager=f"Manager of {a.worker_id}",
                      line_manager_email=line_manager_email(a.worker_id),
                      service_manager=a.service_manager)
        for n, (manager, email) in enumerate(manager_emails(ws).items(), start=1):
            add_staff(conn, f"SM{n:02d}", manager, email, role="Service Manager")
    return ws


def add_staff(conn: Connection, worker_id: str, name: str, email: str = "", *,
              role: str = "Social Worker", line_manager: str = "",
              line_manager_email: str = "", service_manager: str = "",
              service_manager_email: str = "") -> None:
    """One staff row, as `qaudit staff import` stores it (replacing one of the same id)."""
    conn.execute("DELETE FROM staff WHERE worker_id = ?", (worker_id,))
    conn.execute(
        "INSERT INTO staff (worker_id, name, email, team, role, line_manager,"
        " line_manager_email, service_manager, service_manager_email, source, updated_at)"
        " VALUES (?, ?, ?, 'Team', ?, ?, ?, ?, ?, 'staff.xlsx', '2026-11-01T09:00:00+00:00')",
        (worker_id, name, email, role, line_manager, line_manager_email, service_manager,
         service_manager_email))


def name_auditor(conn: Connection, allocation: Allocated, name: str = "",
                 email: str | None = None) -> None:
    """The auditor a Service Manager named, as the workbook read-back stores it (an earlier
    choice for the allocation is kept as history)."""
    conn.execute("UPDATE auditor_assignments SET replaced_at = '2026-11-02T09:00:00+00:00'"
                 " WHERE allocation_id = ? AND replaced_at IS NULL", (allocation.allocation_id,))
    conn.execute(
        "INSERT INTO auditor_assignments (allocation_id, auditor_name, auditor_email,"
        " auditor_role, allocated_on, file_name, file_sha256, received_at)"
        " VALUES (?, ?, ?, 'Senior Practitioner', '2026-11-01', 'service-manager-01.xlsx',"
        " 'x', '2026-11-01T09:00:00+00:00')",
        (allocation.allocation_id, name or f"Auditor {allocation.reference[-3:]}",
         auditor_email(allocation.reference) if email is None else email))


def name_auditors(ws: Workspace, chosen: Sequence[Allocated]) -> None:
    with raw_database(ws) as conn:
        for allocation in chosen:
            name_auditor(conn, allocation)


def use_relay(root: Path, port: int, user: str = "") -> None:
    """Point [mail] at the test server on this machine (no TLS: it is on 127.0.0.1)."""
    with edit_settings(root) as settings:
        settings["mail"]["host"] = "127.0.0.1"
        settings["mail"]["port"] = port
        settings["mail"]["security"] = "none"
        settings["mail"]["user"] = user
