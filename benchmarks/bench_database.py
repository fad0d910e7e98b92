"""The access layer for PostgreSQL, chosen by measurement (issue 15): qaudit's thin dialect
layer over psycopg 3 (``qaudit.db.dialect.PgConnection``) against the floor, bare psycopg 3
with the same statements already in its own dialect, and against SQLAlchemy Core running
the same SQL through ``text()``; with SQLite's own floor beside them.

The work is an ingest season in miniature, as the record does it: ``--returns`` returns,
each in a transaction of its own (one return row, its answers, an event), then the status
query that reads them all back. A throwaway PostgreSQL server is started as the tests
start one (tests/postgres.py); each layer gets a new database. Run:
``.venv/bin/python benchmarks/bench_database.py --returns 960`` (SQLAlchemy: ``make bench``
installs it). Not a test: record the figures in ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

SCHEMA = [
    "CREATE TABLE returns (id INTEGER PRIMARY KEY, allocation_id INTEGER NOT NULL,"
    " kind TEXT NOT NULL, grade TEXT, fields_json TEXT NOT NULL, received_at TEXT NOT NULL)",
    "CREATE TABLE answers (return_id INTEGER NOT NULL, question_id TEXT NOT NULL,"
    " answer TEXT NOT NULL, comment TEXT NOT NULL, PRIMARY KEY (return_id, question_id))",
    "CREATE TABLE events (id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL,"
    " detail_json TEXT NOT NULL)",
]
INSERT_RETURN = ("INSERT INTO returns (allocation_id, kind, grade, fields_json, received_at)"
                 " VALUES (?, 'audit', ?, ?, ?)")
INSERT_ANSWER = "INSERT INTO answers (return_id, question_id, answer, comment) VALUES (?, ?, ?, ?)"
INSERT_EVENT = "INSERT INTO events (at, kind, detail_json) VALUES (?, 'ingested', ?)"
STATUS = ("SELECT r.grade, count(*), sum(CASE WHEN n.answer = 'Yes' THEN 1 ELSE 0 END)"
          " FROM returns r JOIN answers n ON n.return_id = r.id GROUP BY r.grade ORDER BY r.grade")
QUESTIONS = 40


def _answers(return_id: int) -> list[tuple[Any, ...]]:
    return [(return_id, f"Q{q:02d}", ("Yes", "No", "N/A")[q % 3], "a comment " * 3)
            for q in range(QUESTIONS)]


def _season(conn: Any, returns: int) -> None:
    """The work, on a DB-API connection in autocommit mode speaking qaudit's SQL."""
    for sql in SCHEMA:
        conn.execute(sql)
    for i in range(returns):
        conn.execute("BEGIN IMMEDIATE")
        rid = conn.execute(INSERT_RETURN, (i, "good", '{"a": 1}', "2026-11-26")).lastrowid
        conn.executemany(INSERT_ANSWER, _answers(int(rid or 0)))
        conn.execute(INSERT_EVENT, ("2026-11-26", "{}"))
        conn.execute("COMMIT")
    conn.execute(STATUS).fetchall()
    conn.close()


def qaudit_layer(url: str, returns: int) -> None:
    from qaudit.db import postgresql

    _season(postgresql.connect(url, 15), returns)


def bare_psycopg(url: str, returns: int) -> None:
    """The floor: psycopg 3 as it comes (server-side binding), SQL already PostgreSQL's."""
    import psycopg

    from qaudit.db.dialect import translate

    with psycopg.connect(url, autocommit=True) as conn:
        for sql in SCHEMA:
            conn.execute(translate(sql))  # type: ignore[arg-type]
        ret, ans, ev = (translate(s) for s in (INSERT_RETURN, INSERT_ANSWER, INSERT_EVENT))
        for i in range(returns):
            with conn.transaction():
                row = conn.execute(ret + " RETURNING id",  # type: ignore[arg-type]
                                   (i, "good", '{"a": 1}', "2026-11-26")).fetchone()
                assert row is not None
                conn.cursor().executemany(ans, _answers(row[0]))  # type: ignore[arg-type]
                conn.execute(ev, ("2026-11-26", "{}"))  # type: ignore[arg-type]
        conn.execute(translate(STATUS)).fetchall()  # type: ignore[arg-type]


def sqlalchemy_core(url: str, returns: int) -> None:
    """SQLAlchemy Core 2 with psycopg 3: the same statements through ``text()``, with
    named parameters (Core has no ``?``), and its own transaction per return."""
    import re

    from sqlalchemy import create_engine, text

    from qaudit.db.dialect import translate

    def named(sql: str) -> Any:
        count = iter(range(100))
        return text(re.sub(r"%s", lambda _: f":p{next(count)}", translate(sql)))

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        for sql in SCHEMA:
            conn.execute(text(translate(sql)))
        conn.commit()
        ret, ans, ev = (named(s) for s in (INSERT_RETURN + " RETURNING id", INSERT_ANSWER,
                                           INSERT_EVENT))
        for i in range(returns):
            rid = conn.execute(ret, {"p0": i, "p1": "good", "p2": '{"a": 1}',
                                     "p3": "2026-11-26"}).scalar_one()
            conn.execute(ans, [{f"p{k}": v for k, v in enumerate(a)} for a in _answers(rid)])
            conn.execute(ev, {"p0": "2026-11-26", "p1": "{}"})
            conn.commit()
        conn.execute(text(translate(STATUS))).fetchall()
    engine.dispose()


def bare_sqlite(path: Path, returns: int) -> None:
    """SQLite's floor, for scale: the same work on the embedded default."""
    import sqlite3

    _season(sqlite3.connect(path, isolation_level=None), returns)


def import_seconds(module: str) -> float:
    best = min(float(subprocess.run(
        [sys.executable, "-c", f"import time; t = time.perf_counter(); import {module};"
         " print(time.perf_counter() - t)"], capture_output=True, text=True, check=True
    ).stdout) for _ in range(5))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--returns", type=int, default=960)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from postgres import _server

    servers = _server()
    server = next(servers)
    layers: list[tuple[str, Callable[[str, int], None]]] = [
        ("bare psycopg 3 (floor)", bare_psycopg), ("qaudit dialect layer", qaudit_layer)]
    try:
        import sqlalchemy  # noqa: F401

        layers.append(("SQLAlchemy Core 2", sqlalchemy_core))
    except ImportError:
        print("SQLAlchemy is not installed (make bench installs it): left out")
    times: dict[str, float] = {}
    try:
        for _ in range(args.repeat):
            for name, layer in layers:
                url = server.new_database()
                start = time.perf_counter()
                layer(url, args.returns)
                took = time.perf_counter() - start
                times[name] = min(times.get(name, took), took)
    finally:
        next(servers, None)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        best = min(_timed(lambda n=n: bare_sqlite(Path(folder) / f"{n}.db", args.returns))
                   for n in range(args.repeat))
    floor = times["bare psycopg 3 (floor)"]
    print(f"{args.returns} returns of {QUESTIONS} answers, a transaction each, then the"
          f" status query; best of {args.repeat}")
    for name, took in times.items():
        print(f"  {name:<28} {took:7.3f} s   {took / floor:5.2f} x the floor")
    print(f"  {'SQLite, bare (for scale)':<28} {best:7.3f} s   {best / floor:5.2f} x")
    for module in ("psycopg", "sqlalchemy"):
        with contextlib.suppress(subprocess.CalledProcessError):
            print(f"  import {module:<21} {import_seconds(module) * 1000:7.1f} ms")


def _timed(work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
