"""The real programs some tests open qaudit's files with: LibreOffice (workbooks printed to
PDF), Debian's Chromium (HTML checked by axe-core, printed to PDF), and pypdf to read a PDF's
text back. ``.ci/run`` installs LibreOffice and Chromium; a test that needs one that is not
here is skipped with the reason (``needs_soffice``, ``needs_writer``,
``needs_chromium``), never passed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

needs_soffice = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice (soffice) is not installed; .ci/run installs it with"
    " apt-get")
#: LibreOffice Writer (opens Word documents): its library beside the soffice program.
WRITER = SOFFICE is not None and any(
    (Path(SOFFICE).resolve().parent / name).exists() for name in ("libswlo.so", "swlo.dll"))
needs_writer = pytest.mark.skipif(
    not WRITER, reason="LibreOffice Writer is not installed; .ci/run installs"
    " libreoffice-writer-nogui with apt-get")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed; .ci/run installs Debian's chromium")

#: The axe-core rule tags of WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def soffice_pdf(books: list[Path], out: Path) -> list[Path]:
    """Each workbook printed to PDF by LibreOffice, as its print settings say (``out``/name.pdf)."""
    assert SOFFICE is not None
    profile = out.parent / f"{out.name}-lo-profile"
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
         "pdf", "--outdir", str(out), *map(str, books)],
        check=True, capture_output=True, timeout=300)
    return [out / (book.stem + ".pdf") for book in books]


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page of a PDF, as pypdf extracts it."""
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(pdf).pages]


def axe_violations(html: Path, tags: list[str] = WCAG_AA) -> list[dict[str, Any]]:
    """What axe-core (the copy bundled with axe-playwright-python) finds wrong with a page
    opened in Debian's Chromium, driven by Playwright: each violation's id, impact, help and
    the nodes it was found on."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(html.as_uri())
            result = Axe().run(page, options={"runOnly": {"type": "tag", "values": tags}})
        finally:
            browser.close()
    violations: list[dict[str, Any]] = result.response["violations"]
    return violations
