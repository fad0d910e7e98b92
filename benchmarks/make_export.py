"""Write a large synthetic case export for benchmarks.

Usage::

    python benchmarks/make_export.py ROWS OUT.xlsx [--seed S] [--messy] [--shared-strings]

The export is *clean* by default (one sheet, header in row 1, real dates, no problem rows);
``--messy`` adds what real exports have (see ``examples/generate_export.py``). Rows are
streamed to the writer, so memory stays bounded even for a full 1,048,575-row sheet. The
writer puts every text cell inline; ``--shared-strings`` then moves them into a shared-string
table, as Excel writes a workbook (a reader holds such a sheet in less memory). The file is
synthetic and can be large: keep it out of the repository.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from common import self_peak_mib

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


_INLINE = re.compile(
    rb'<c r="([A-Z]+[0-9]+)"( s="[0-9]+")? t="inlineStr"><is><t(?: xml:space="preserve")?>'
    rb"([^<]*)</t></is></c>"
)
_MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def share_strings(path: Path) -> None:
    """Move the inline text cells of every sheet into one shared-string table."""
    table: dict[bytes, int] = {}

    def shared(m: re.Match[bytes]) -> bytes:
        index = table.setdefault(m[3], len(table))
        return b'<c r="%s"%s t="s"><v>%d</v></c>' % (m[1], m[2] or b"", index)

    partial = path.with_name(f"{path.stem}.shared{path.suffix}")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(
        partial, "w", zipfile.ZIP_DEFLATED, compresslevel=1
    ) as out:
        for info in source.infolist():
            sheet = re.fullmatch(r"xl/worksheets/sheet[0-9]+\.xml", info.filename)
            data = b"" if sheet else source.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml"'
                                    b' ContentType="application/vnd.openxmlformats-officedocument'
                                    b'.spreadsheetml.sharedStrings+xml"/></Types>')
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdShared" Type="'
                                    + _RELATIONSHIPS + b'/sharedStrings" Target="sharedStrings'
                                    b'.xml"/></Relationships>')
            if not sheet:
                out.writestr(info, data)
                continue
            with source.open(info) as rows, out.open(info.filename, "w",
                                                     force_zip64=True) as written:
                rest = b""
                while chunk := rows.read(1 << 22):
                    buf = rest + chunk
                    cut = buf.rfind(b"</c>") + len(b"</c>")
                    written.write(_INLINE.sub(shared, buf[:cut]))
                    rest = buf[cut:]
                written.write(_INLINE.sub(shared, rest))
        items = b"".join(b"<si><t xml:space=\"preserve\">" + text + b"</t></si>" for text in table)
        out.writestr("xl/sharedStrings.xml", b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="'
                     + _MAIN + b'" count="%d" uniqueCount="%d">' % (len(table), len(table))
                     + items + b"</sst>")
    partial.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    gen = load_generator()
    parser = argparse.ArgumentParser(description="Write a large synthetic case export.")
    parser.add_argument("rows", type=int, help="data rows, e.g. 200000 or 1048575")
    parser.add_argument("out", type=Path, help="output file (.xlsx or .csv)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--messy", action="store_true", help="add titles, problem rows etc.")
    parser.add_argument(
        "--shared-strings", action="store_true",
        help="text in a shared-string table, as Excel writes it (default: inline)",
    )
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
    if args.shared_strings and args.out.suffix.lower() == ".csv":
        parser.error("--shared-strings is for a workbook")

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
    if args.shared_strings:
        share_strings(args.out)
    took = time.perf_counter() - began
    size = args.out.stat().st_size
    print(
        f"{args.out}: {count:,} rows ({'messy' if args.messy else 'clean'}"
        f"{', shared strings' if args.shared_strings else ''}),"
        f" {size / 1_048_576:.1f} MiB, {took:.1f} s, peak RSS {self_peak_mib():.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
