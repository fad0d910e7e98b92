"""The wheel carries the templates: qaudit works installed, away from the checkout, for a
whole small cycle."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import sysconfig
from pathlib import Path

import fill_forms
import pytest

from conftest import EXAMPLE_EXPORT, REPO


@pytest.mark.slow
def test_installed_wheel_finds_its_templates_and_allocates(tmp_path: Path) -> None:
    # hatchling is a test dependency, so the wheel builds offline without build isolation.
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = dist.glob("qaudit-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    # Offline install: unpack the wheel; dependencies come from this venv's site-packages,
    # placed after the fresh environment's own folder so the wheel's qaudit wins.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", site, "-q", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )
    Path(site, "zz-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "QAUDIT_WORKSPACE"}}

    def qaudit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([python, "-m", "qaudit", *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=300)

    where = subprocess.run(
        [python, "-c", "import qaudit.questions as q; print(q.package_templates())"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert where.startswith(site), where
    assert qaudit("init", "ws").returncode == 0
    done = qaudit("-w", "ws", "allocate", str(EXAMPLE_EXPORT), "--cycle", "C1", "--from",
                  "01/09/2026", "--to", "31/10/2026", "--seed", "1")
    assert done.returncode == 0, done.stderr
    forms = sorted((work / "ws" / "cycles" / "C1" / "audit-forms").iterdir())
    assert len(forms) == 120
    # The rest of a small cycle, with the installed qaudit: returns filled as people fill
    # them, taken back, the status, and the Board's summary.
    returns = work / "returns"
    for index, form in enumerate(forms[:30]):
        fill_forms.fill_audit(form, returns / form.name, random.Random(index))
    taken = qaudit("-w", "ws", "ingest", str(returns), "--json")
    assert taken.returncode == 0, taken.stderr
    assert json.loads(taken.stdout)["summary"]["accepted"] == 30
    status = qaudit("-w", "ws", "status", "--cycle", "C1", "--json")
    assert status.returncode == 0, status.stderr
    report = qaudit("-w", "ws", "report", "--cycle", "C1", "--out", "board")
    assert report.returncode == 0, report.stderr
    assert {p.suffix for p in (work / "board").iterdir()} >= {".md", ".html"}
