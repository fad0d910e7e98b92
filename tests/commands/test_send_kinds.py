"""`qaudit send` and the kinds of cycle: the quadrant outcome reports and the highlights
are a regular cycle's figures, for the directors and the Senior Practitioners' Network, so
`send reports` is refused for a deep dive (its report goes to the Practice Governance
Board) and for a round of re-audits; allocations, forms, reminders and feedback go for a
cycle of any kind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import EXAMPLES, Result, copy_workspace, qaudit_ok, raw_database, small_workspace
from qaudit.db.draws import DEEP_DIVE, REAUDIT, REGULAR
from qaudit.mail.kinds import MessageKind
from qaudit.mail.letters import not_sent_for
from qaudit.workspace import Workspace, open_workspace

EXPORT = EXAMPLES / "case-export.xlsx"
REGULAR_CYCLE = "2026-27 C1"
DEEP = "2026-27 DD1"
ROUND = "2026-27 C1 re-audits"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A regular cycle and a deep dive drawn; a round of re-audits stored as its kind is
    (a cycle of kind reaudit), here made by marking a second deep dive so, which is all
    `send` reads of it."""
    root = tmp_path_factory.mktemp("kinds") / "ws"
    small_workspace(root, 1)
    qaudit_ok(root, "allocate", EXPORT, "--cycle", REGULAR_CYCLE, "--from", "01/09/2026",
              "--to", "30/09/2026", "--seed", "3", "--due", "30/11/2026")
    for name in (DEEP, ROUND):
        qaudit_ok(root, "deep-dive", "new", name, EXPORT, "--terms",
                  EXAMPLES / "deep-dive-terms.toml", "--question-set",
                  "deep_dive_safeguarding_voice", "--n", "3", "--from", "01/08/2026", "--to",
                  "31/10/2026", "--seed", "5")
    with raw_database(open_workspace(root)) as conn:
        conn.execute("UPDATE cycles SET kind = 'reaudit' WHERE name = ?", (ROUND,))
    return root


@pytest.fixture
def ws(drawn: Path, tmp_path: Path) -> Workspace:
    copy_workspace(drawn, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def sent(ws: Workspace) -> int:
    with raw_database(ws) as conn:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])


@pytest.mark.parametrize(("cycle", "says"), [
    (DEEP, f"Error: '{DEEP}' is a deep dive: `qaudit send reports` sends a regular"
           " cycle's quadrant outcome reports and highlights."),
    (ROUND, f"Error: '{ROUND}' is a re-audit round: `qaudit send reports` sends a"
            " regular cycle's"),
])
@pytest.mark.parametrize("how", [(), ("--dry-run",), ("--smtp",), ("--resend", "highlights")])
def test_reports_are_refused_for_a_cycle_that_is_not_regular(
        run: Callable[..., Result], ws: Workspace, cycle: str, says: str,
        how: tuple[str, ...]) -> None:
    result = run("-w", ws.root, "send", "reports", "--cycle", cycle.lower(), *how)
    assert result.code == 1
    assert result.stderr.startswith(says), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert "Nothing was sent." in result.stderr
    assert sent(ws) == 0
    assert not (ws.cycle_dir(cycle) / "outbox").exists()


def test_the_refusal_says_where_each_kinds_findings_go(run: Callable[..., Result],
                                                        ws: Workspace) -> None:
    deep = run("-w", ws.root, "send", "reports", "--cycle", DEEP)
    assert (f"A deep dive's report goes to the Practice Governance Board: `qaudit report"
            f" --deep-dive '{DEEP}'` writes it." in deep.stderr)
    again = run("-w", ws.root, "send", "reports", "--cycle", ROUND)
    assert "A re-audit round's findings are in `qaudit reaudit stats` and the year" in (
        again.stderr)


@pytest.mark.parametrize("cycle", [DEEP, ROUND])
@pytest.mark.parametrize("kind", ["allocations", "forms", "reminders", "feedback"])
def test_the_people_loop_goes_for_a_cycle_of_any_kind(
        run: Callable[..., Result], ws: Workspace, cycle: str, kind: str) -> None:
    result = run("-w", ws.root, "send", kind, "--cycle", cycle, "--dry-run")
    assert result.code == 0, result.stderr
    assert "Error" not in result.stderr


def test_a_regular_cycle_still_sends_its_reports(run: Callable[..., Result],
                                                 ws: Workspace) -> None:
    """Not refused for its kind: only for the reports not yet written."""
    result = run("-w", ws.root, "send", "reports", "--cycle", REGULAR_CYCLE, "--dry-run")
    assert result.code == 1
    assert "have not been written yet" in result.stderr
    assert "is a regular cycle" not in result.stderr


@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize("cycle_kind", [REGULAR, DEEP_DIVE, REAUDIT])
def test_only_reports_are_a_regular_cycles_alone(kind: MessageKind, cycle_kind: str) -> None:
    refused = not_sent_for(kind, "X", cycle_kind)
    assert (refused is not None) == (kind is MessageKind.REPORTS and cycle_kind != REGULAR)
