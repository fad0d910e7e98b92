"""Write a large synthetic case export for benchmarks.

Usage::

    python benchmarks/make_export.py ROWS OUT.xlsx [--seed S] [--messy]

The export is *clean* by default (one sheet, header in row 1, real dates, no problem rows);
``--messy`` adds what real exports have (see ``examples/generate_export.py``). Rows are
streamed to the writer, so memory stays bounded even for a full 1,048,575-row sheet. The
file is synthetic and can be large: keep it out of the repository.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

GENERATOR = Path(__file__).resolve().parent.parent / "examples" / "generate_export.py"


def load_generator() -> ModuleType:
    """Import ``examples/generate_export.py`` by path (``examples`` is not a package)."""
    spec = importlib.util.spec_from_file_location("qaudit_example_generate_export", GENERATOR)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {GENERATOR}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    gen = load_generator()
    parser = argparse.ArgumentParser(description="Write a large synthetic case export.")
    parser.add_argument("rows", type=int, help="data rows, e.g. 200000 or 1048575")
    parser.add_argument("out", type=Path, help="output file (.xlsx or .csv)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--messy", action="store_true", help="add titles, problem rows etc.")
    parser.add_argument(
        "--engine",
        choices=gen.WORKBOOK_ENGINES,
        default="auto",
        help="workbook writer (default: xlsxwriter if installed, else openpyxl)",
    )
    args = parser.parse_args(argv)
    limit = gen.MAX_XLSX_ROWS - (gen.MESSY_EXTRA_ROWS - 1 if args.messy else 0)
    if args.out.suffix.lower() != ".csv" and not 1 <= args.rows <= limit:
        parser.error(f"ROWS must be between 1 and {limit:,} for a workbook")

    began = time.perf_counter()
    rows = gen.iter_rows(args.rows, args.seed, args.messy)
    count = gen.write_export(
        args.out,
        gen.HEADERS,
        rows,
        args.messy,
        seed=args.seed,
        engine=args.engine,
        expected_rows=args.rows,
    )
    took = time.perf_counter() - began
    size = args.out.stat().st_size
    print(
        f"{args.out}: {count:,} rows ({'messy' if args.messy else 'clean'}),"
        f" {size / 1_048_576:.1f} MiB, {took:.1f} s, peak RSS {peak_rss_mib():.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
