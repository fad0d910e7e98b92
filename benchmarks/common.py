"""What every benchmark script shares: timing a job against its floor, peak memory, the machine.

Each script under ``benchmarks/`` times one job of qaudit and the *floor* for it, the
fastest bare tool that does the same bare job, interleaved in one process (floor, job,
floor, job, ...) so that a busy machine slows both alike, and prints the ratio. Peak
memory is measured as the peak RSS of a child process. Nothing here is a test: nothing
fails on a figure.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes (wall clock)."""
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def interleaved(repeat: int, runs: Mapping[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run each of ``runs`` (each returns its own seconds) in turn, ``repeat`` rounds.

    Round by round, so that load on a shared machine falls on the floor and the job alike.
    Returns every run's seconds by name; take ``min`` for the best.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            gc.collect()
            times[name].append(run())
    return times


def ratio_line(label: str, job: float, floor: float, target: float | None = None) -> str:
    """One printed line: the ratio of job to floor, and whether it meets ``target``."""
    value = job / floor if floor > 0 else float("inf")
    text = f"  {label:<52} {value:8.2f}"
    if target is not None:
        text += f"   <= {target:g}  {'met' if value <= target else 'MISSED'}"
    return text


def seconds_line(label: str, runs: Sequence[float]) -> str:
    """One printed line: the best of ``runs`` and every run."""
    every = ", ".join(f"{t:.3f}" for t in runs)
    return f"  {label:<52} {min(runs):8.3f}   {every}"


# --- peak memory of a child ---------------------------------------------------------------


def self_peak_mib() -> float:
    """This process's own peak RSS in MiB.

    On Linux ``VmHWM``: ``ru_maxrss`` of a forked child starts at its parent's peak, so a
    child started by a parent that had already grown would report the parent's peak."""
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


@dataclass
class ChildResult:
    seconds: float
    peak_mib: float
    facts: dict[str, Any]


def run_child(argv: Sequence[str]) -> ChildResult:
    """Run ``python argv...`` and read its peak RSS; the child prints a JSON line last.

    The child's JSON must hold ``seconds`` and ``self_peak_mib`` (from ``child_report``),
    its own peak: RUSAGE_CHILDREN would keep the largest peak of any child so far.
    """
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child {argv} failed ({done.returncode}):\n{done.stderr}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    peak = float(report.pop("self_peak_mib"))
    return ChildResult(float(report.pop("seconds")), peak, report)


def child_report(seconds: float, **facts: Any) -> None:
    """The last line a child prints: its seconds, its own peak RSS and any facts."""
    print(json.dumps({"seconds": seconds, "self_peak_mib": self_peak_mib(), **facts}))


# --- the machine --------------------------------------------------------------------------


def machine(packages: Sequence[str]) -> list[str]:
    """Two lines describing the CPUs, the system, Python and the given packages' versions."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    load = ""
    with contextlib.suppress(OSError):
        load = f", load average {os.getloadavg()[0]:.1f}"
    return [
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}{load}",
        f"Python {platform.python_version()}; " + ", ".join(versions),
    ]
