"""Printing a report's self-contained HTML to PDF with a headless Chromium-family browser.

A council laptop has Edge, and most others Chrome or Chromium: whichever is found prints
the page (``find_browser``), so qaudit needs no PDF library of its own. The page's own
``@page`` CSS (the report templates') sets the paper, the protective marking and "Page N of
M"; the browser adds no header or footer of its own. The browser sees one local file and
nothing else: a content security policy at the very start of the printed copy refuses
every fetch, the profile it prints in runs no script, and its name resolver, proxy and WebRTC
reach no host. A workspace's own template is the author's HTML, so none of this trusts what
the page holds. A PDF appears whole or not at all.
"""

from __future__ import annotations

import contextlib
import json
import ntpath
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

#: What the printed copy starts with, before anything of the page's own: the HTML parser
#: puts a <meta> that comes before every other element into the head, so the policy holds
#: for all that follows, whatever the page holds (a "<head>" in a comment, a <base>). The
#: page may use its own styles, inline SVG and images written into it, and fetch nothing:
#: no frame, object, style sheet, font or image from a file or the network, no script.
_NO_FETCH = ('<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="default-src'
             " 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri"
             " 'none'; form-action 'none'\">")

#: A doctype at the start of the page (after a byte order mark or white space): the printed
#: copy's own comes first instead.
_LEADING_DOCTYPE = re.compile(r"\A\ufeff?\s*<!doctype[^>]*>", flags=re.I)

#: An ``http-equiv`` attribute anywhere in the page: a ``refresh`` is a navigation, which no
#: content security policy governs (to another local file, printed instead of the report).
#: The parser never decodes an attribute's name, so every one it could see is spelt so.
_HTTP_EQUIV = re.compile("http-equiv", flags=re.I)

#: The print profile's settings: JavaScript blocked on every page (the switch
#: ``--blink-settings=scriptEnabled=false`` would block the browser's own print harness too,
#: a chrome:// page that runs script, and no PDF would come: content settings spare it); and
#: WebRTC sending no UDP but through the proxy, as ``--webrtc-ip-handling-policy`` says.
_PREFERENCES = {"profile": {"default_content_setting_values": {"javascript": 2}},
                "webrtc": {"ip_handling_policy": "disable_non_proxied_udp"}}

#: Chromium's switches for one quiet, private, offline print (no header or footer of
#: its own: ``--print-to-pdf-no-header`` is what versions before 120 call it). No host is
#: found by name, every request goes to a proxy that is not there, and WebRTC sends no UDP
#: round that proxy to an address given as digits.
_SWITCHES = ("--headless", "--disable-gpu", "--no-pdf-header-footer",
             "--print-to-pdf-no-header", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-sync",
             "--disable-background-networking", "--disable-component-update",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
             "--proxy-bypass-list=<-loopback>",
             "--webrtc-ip-handling-policy=disable_non_proxied_udp")


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
        # A byte order mark: the page is read as UTF-8, whatever charset it declares.
        page.write_text(_offline(html.read_text(encoding="utf-8")), encoding="utf-8-sig")
        profile = _profile(Path(work) / "p")
        with atomic_path(pdf) as part:
            _run(browser, [*_SWITCHES, *_root_switches(), f"--user-data-dir={profile}",
                           f"--print-to-pdf={part}", page.as_uri()], report)
            _check_pdf(part, browser, report)
    return pdf


def _offline(html: str) -> str:
    """The page as printed: ``_NO_FETCH`` first of all (in place of the page's own
    doctype), and no ``http-equiv`` of the page's left to act."""
    return _NO_FETCH + _HTTP_EQUIV.sub("data-http-equiv", _LEADING_DOCTYPE.sub("", html))


def _profile(folder: Path) -> Path:
    """A new browser profile in ``folder``, with ``_PREFERENCES`` its settings."""
    (folder / "Default").mkdir(parents=True)
    (folder / "Default" / "Preferences").write_text(json.dumps(_PREFERENCES), encoding="utf-8")
    return folder


def _root_switches() -> tuple[str, ...]:
    """Chromium will not start its sandbox as root (a container, a CI runner): only there
    does it go without. ``os.geteuid`` is not on Windows, where there is no root."""
    geteuid = getattr(os, "geteuid", None)
    return ("--no-sandbox",) if geteuid is not None and geteuid() == 0 else ()


def _run(browser: Path, args: list[str], report: str) -> None:
    """The browser run to its end (in a process group of its own on POSIX), so that a
    browser that hangs is stopped with every helper process it started (``_stop``)."""
    try:
        process = subprocess.Popen([str(browser), *args], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=os.name != "nt")
    except OSError as exc:
        raise _failed(browser, report, f"it could not be started ({exc.strerror or exc})"
                      ) from exc
    try:
        _, errors = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as exc:
        _stop(process)
        raise _failed(browser, report, f"it had not finished after {TIMEOUT_SECONDS:g}"
                      " seconds") from exc
    if process.returncode != 0:
        last = _last_line(errors.decode("utf-8", "replace"))
        raise _failed(browser, report, f"it stopped with exit status {process.returncode}"
                      + (f" ({last})" if last else ""))


def _stop(process: subprocess.Popen[bytes]) -> None:
    """The browser killed with every process it started: its process group on POSIX; on
    Windows, where Edge's helpers are only its children, its tree (``taskkill /T``), then
    the browser itself in case taskkill could not run."""
    if os.name == "nt":
        # By its full path: a program is looked for in the current folder first on Windows.
        taskkill = ntpath.join(os.environ.get("SYSTEMROOT", r"C:\Windows"), "System32",
                               "taskkill.exe")
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([taskkill, "/F", "/T", "/PID", str(process.pid)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=TIMEOUT_SECONDS, check=False)
        with contextlib.suppress(OSError):  # gone already
            process.kill()
    else:
        with contextlib.suppress(OSError):  # gone already
            os.killpg(process.pid, signal.SIGKILL)
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
