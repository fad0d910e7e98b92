"""How fast commands start: `qaudit --version`, `--help` and `status` against their floors.

Every command pays for Python, typer and rich before it does any work; qaudit's own
start-up should add little to that. Each command runs as a fresh process (as a user
runs it), best of ``--repeat``, in the same run as two floors:

* ``import``: ``python -c "import typer, rich"``, the floor the issue names;
* ``bare typer app``: a one-command typer app answering ``--version`` (typer builds a
  pydantic adapter for each option it parses, so this is what any typer CLI costs).

Run: ``.venv/bin/python benchmarks/bench_startup.py --repeat 15``. Not a test: nothing
fails on these numbers; record them in ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BARE_APP = '''
import typer
app = typer.Typer()
@app.callback(invoke_without_command=True)
def main(version: bool = typer.Option(False, "--version")) -> None:
    if version:
        print("bare 1")
        raise typer.Exit()
@app.command()
def hello() -> None:
    print("hello")
app()
'''


def best(argv: list[str], repeat: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        times.append(time.perf_counter() - start)
    return min(times)


def small_workspace(folder: Path) -> Path:
    """A workspace with the example export drawn: what `status` reads."""
    from qaudit.cli import main

    ws = folder / "ws"
    for args in (["init", str(ws)],
                 ["-w", str(ws), "allocate", str(REPO / "examples" / "case-export.xlsx"),
                  "--cycle", "C1", "--from", "01/09/2026", "--to", "31/10/2026",
                  "--seed", "1"]):
        said = io.StringIO()
        try:
            with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
                main(args)
        except SystemExit as exc:
            assert exc.code == 0, (args, said.getvalue())
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    python = sys.executable
    env = {k: v for k, v in os.environ.items() if k != "QAUDIT_WORKSPACE"}
    with tempfile.TemporaryDirectory() as tmp:
        ws = small_workspace(Path(tmp))
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP)
        floor = best([python, "-c", "import typer, rich"], args.repeat, env)
        bare_app = best([python, str(bare), "--version"], args.repeat, env)
        rows = [
            ("python -c 'import typer, rich' (floor)", floor),
            ("bare typer app --version", bare_app),
            ("qaudit --version", best([python, "-m", "qaudit", "--version"], args.repeat, env)),
            ("qaudit --help", best([python, "-m", "qaudit", "--help"], args.repeat, env)),
            ("qaudit status (small workspace)",
             best([python, "-m", "qaudit", "-w", str(ws), "status"], args.repeat, env)),
        ]
    print(f"best of {args.repeat}, each a fresh process")
    print(f"{'command':42} {'seconds':>8} {'x floor':>8} {'x bare app':>10}")
    for name, seconds in rows:
        print(f"{name:42} {seconds:8.3f} {seconds / floor:8.2f} {seconds / bare_app:10.2f}")


if __name__ == "__main__":
    main()
