"""Printing a report's self-contained HTML to PDF with a headless Chromium-family browser.

A council laptop has Edge, and most others Chrome or Chromium: whichever is found prints
the page (``find_browser``), so qaudit needs no PDF library of its own. The page's own
``@page`` CSS (the report templates') sets the paper, the protective marking and "Page N of
M"; the browser adds no header or footer of its own. The browser sees one local file and
nothing else: a content security policy in the printed copy refuses every fetch, and its
name resolver finds no host. A PDF appears whole or not at all.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from qaudit.errors import QauditError
from qaudit.files import atomic_path

#: The environment variable naming the browser (a path, or a program on PATH).
ENV_VAR = "QAUDIT_BROWSER"

#: How long one report may take to print before the browser is stopped.
TIMEOUT_SECONDS = 120

#: Programs on PATH that print as Chromium does, most likely first.
PROGRAMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
            "chrome", "msedge", "microsoft-edge", "microsoft-edge-stable")

#: Where Windows and macOS install Edge and Chrome (each under an environment variable's
#: folder on Windows), when they are not on PATH.
INSTALLED = (
    ("ProgramFiles(x86)", r"Microsoft\Edge\Application\msedge.exe"),
    ("ProgramFiles", r"Microsoft\Edge\Application\msedge.exe"),
    ("ProgramFiles", r"Google\Chrome\Application\chrome.exe"),
    ("ProgramFiles(x86)", r"Google\Chrome\Application\chrome.exe"),
    ("LOCALAPPDATA", r"Google\Chrome\Application\chrome.exe"),
    ("LOCALAPPDATA", r"Chromium\Application\chrome.exe"),
)
MAC_APPS = ("/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
            "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
            "/Applications/Chromium.app/Contents/MacOS/Chromium")

#: Put in the printed copy's <head>: the page may use its own styles, inline SVG and
#: images written into it, and fetch nothing at all.
_NO_FETCH = ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
             ' style-src \'unsafe-inline\'; img-src data:; font-src data:">')

#: Chromium's switches for one quiet, private, offline print (no header or footer of
#: its own: ``--print-to-pdf-no-header`` is what versions before 120 call it).
_SWITCHES = ("--headless", "--disable-gpu", "--no-pdf-header-footer",
             "--print-to-pdf-no-header", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-sync",
             "--disable-background-networking", "--disable-component-update",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
             "--proxy-bypass-list=<-loopback>")


def find_browser(environ: Mapping[str, str] | None = None) -> Path:
    """The browser that prints: ``QAUDIT_BROWSER`` if set (a path or a program on PATH),
    else the first of ``PROGRAMS`` on PATH, else Edge or Chrome where Windows or macOS
    installs them. None found is a ``QauditError`` saying what to install or set."""
    env = os.environ if environ is None else environ
    path = env.get("PATH", os.defpath)
    named = env.get(ENV_VAR, "").strip()
    if named:
        found = shutil.which(named, path=path)
        if found is None:
            raise QauditError(
                f'{ENV_VAR} is set to "{named}", which is not a program here. Set it to the'
                " full path of Chromium, Google Chrome or Microsoft Edge, or unset it to let"
                " qaudit look for one.")
        return Path(found)
    for program in PROGRAMS:
        if (found := shutil.which(program, path=path)) is not None:
            return Path(found)
    installed = [Path(env[var], *tail.split("\\")) for var, tail in INSTALLED if env.get(var)]
    for candidate in (*installed, *map(Path, MAC_APPS)):
        if candidate.is_file():
            return candidate
    raise QauditError(
        "a PDF is printed by a Chromium-family browser, and none was found: install"
        " Chromium (on Debian or Ubuntu: apt-get install chromium), Google Chrome or"
        f" Microsoft Edge, or set {ENV_VAR} to the browser's full path. Nothing was written.")


def print_pdf(browser: Path, html: Path, pdf: Path, report: str) -> Path:
    """``html`` (a self-contained page) printed to ``pdf`` by ``browser``, headless and
    offline, in a profile of its own thrown away after. ``report`` names the report in an
    error: a browser that fails, hangs or writes no PDF leaves nothing at ``pdf``."""
    with tempfile.TemporaryDirectory(prefix=".print-", dir=pdf.parent,
                                     ignore_cleanup_errors=True) as work:
        page = Path(work) / "report.html"
        page.write_text(_offline(html.read_text(encoding="utf-8")), encoding="utf-8")
        with atomic_path(pdf) as part:
            _run(browser, [*_SWITCHES, *_root_switches(), f"--user-data-dir={Path(work) / 'p'}",
                           f"--print-to-pdf={part}", page.as_uri()], report)
            _check_pdf(part, browser, report)
    return pdf


def _offline(html: str) -> str:
    """The page with ``_NO_FETCH`` first in its head (or first of all, if it has none)."""
    head = re.search(r"<head[^>]*>", html, flags=re.I)
    at = head.end() if head else 0
    return html[:at] + _NO_FETCH + html[at:]


def _root_switches() -> tuple[str, ...]:
    """Chromium will not start its sandbox as root (a container, a CI runner): only there
    does it go without. ``os.geteuid`` is not on Windows, where there is no root."""
    geteuid = getattr(os, "geteuid", None)
    return ("--no-sandbox",) if geteuid is not None and geteuid() == 0 else ()


def _run(browser: Path, args: list[str], report: str) -> None:
    """The browser run to its end in a process group of its own, so that a browser that
    hangs is stopped with every helper process it started."""
    posix = os.name == "posix"
    try:
        process = subprocess.Popen([str(browser), *args], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=posix)
    except OSError as exc:
        raise _failed(browser, report, f"it could not be started ({exc.strerror or exc})"
                      ) from exc
    try:
        _, errors = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as exc:
        _stop(process, posix)
        raise _failed(browser, report, f"it had not finished after {TIMEOUT_SECONDS:g}"
                      " seconds") from exc
    if process.returncode != 0:
        last = _last_line(errors.decode("utf-8", "replace"))
        raise _failed(browser, report, f"it stopped with exit status {process.returncode}"
                      + (f" ({last})" if last else ""))


def _stop(process: subprocess.Popen[bytes], posix: bool) -> None:
    if posix:
        with contextlib.suppress(OSError):  # gone already
            os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()
    process.communicate()


def _last_line(errors: str) -> str:
    """The browser's last word on standard error, short: Chromium writes much there that
    is no error (its bus, its GPU), so only the last line may say what went wrong."""
    lines = [line.strip() for line in errors.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _check_pdf(path: Path, browser: Path, report: str) -> None:
    """A whole PDF: its header first and its end-of-file mark last."""
    try:
        with path.open("rb") as fh:
            head = fh.read(5)
            fh.seek(max(0, path.stat().st_size - 1024))
            tail = fh.read()
    except OSError:
        head = tail = b""
    if head != b"%PDF-" or b"%%EOF" not in tail:
        raise _failed(browser, report, "it made no PDF")


def _failed(browser: Path, report: str, why: str) -> QauditError:
    return QauditError(
        f"the browser {browser} could not print the report {report} to PDF: {why}. Nothing"
        " was written."
        f" Check that it runs, or set {ENV_VAR} to another Chromium, Chrome or Edge; the"
        " HTML report (--format html) needs no browser.")
