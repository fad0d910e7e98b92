"""What a hostile review of issue 14 found, fixed: a workspace's own report template, printed
to PDF, reads no local file, runs no script and reaches no host; a browser that hangs on
Windows is stopped with its helpers; and no invisible character that hides or reorders
text gets past ``escape`` or the hidden-character checks.

The printing tests give the printer what a workspace template can make: any HTML at all.
Canary files stand for the other files on the machine; their text must never reach the PDF.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from realclients import CHROMIUM, needs_chromium, pdf_pages

from qaudit import printing
from qaudit.commands.common import escape
from qaudit.errors import QauditError
from qaudit.values import HIDDEN_IN_LINE, HIDDEN_IN_TEXT

#: What the report says: it must still print.
REPORT = "Case audit summary"
#: Written into each canary file, and by a script that runs.
CANARY = "CANARY-4242"


def _page(head: str = "", body: str = "", before: str = "<!DOCTYPE html>\n") -> str:
    """A report page as a workspace template could make it: ``head`` and ``body`` added."""
    return (f'{before}<html lang="en"><head><meta charset="utf-8"><title>{REPORT}</title>'
            f"{head}</head><body><main><h1>{REPORT}</h1>{body}</main></body></html>")


def _canaries(folder: Path) -> dict[str, str]:
    """Local files whose text would show in a PDF if the page could load them: plain
    text, a page, a style sheet that writes text, and an SVG picture of text. Their URIs,
    by kind."""
    folder.mkdir()
    files = {"txt": CANARY, "html": f"<p>{CANARY}</p>",
             "css": f'body::after {{ content: "{CANARY}" }}',
             "svg": ('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40">'
                     f'<text x="0" y="20">{CANARY}</text></svg>')}
    uris = {}
    for kind, text in files.items():
        path = folder / f"canary.{kind}"
        path.write_text(text, encoding="utf-8")
        uris[kind] = path.as_uri()
    uris["folder"] = folder.as_uri() + "/"
    return uris


def _script(writes: str) -> str:
    return (f'<p id="js">no script ran</p><script>document.getElementById("js").textContent'
            f' = "{writes}"</script>')


def _every_way_in(uris: dict[str, str]) -> str:
    """Everything a page can use to pull another file in: frames, objects, pictures, style
    sheets (linked, imported, as backgrounds and fonts), a <base> for relative addresses,
    and a script."""
    return (f'<base href="{uris["folder"]}">'
            f'<iframe src="{uris["txt"]}"></iframe><iframe src="canary.html"></iframe>'
            f'<object data="{uris["html"]}"></object><embed src="{uris["svg"]}">'
            f'<img src="{uris["svg"]}" alt="x"><img src="canary.svg" alt="y">'
            f'<link rel="stylesheet" href="{uris["css"]}"><link rel="stylesheet"'
            ' href="canary.css">'
            f'<style>@import url("{uris["css"]}"); main {{ background: url("{uris["svg"]}") }}'
            f' @font-face {{ font-family: x; src: url("{uris["txt"]}") }}</style>'
            f'<svg><image href="{uris["svg"]}" width="400" height="40"/></svg>'
            + _script(CANARY))


def _print(page: str, folder: Path, name: str) -> str:
    """``page`` printed by the real browser: the PDF's text, or the error if none came."""
    html = folder / f"{name}.html"
    html.write_text(page, encoding="utf-8")
    assert CHROMIUM is not None
    try:
        pdf = printing.print_pdf(Path(CHROMIUM), html, folder / f"{name}.pdf", name)
    except QauditError as exc:
        return f"Error: {exc}"
    return " ".join(pdf_pages(pdf))


@dataclass(frozen=True)
class Printed:
    texts: dict[str, str]  # each page's PDF text, by name
    datagrams: list[Any]  # what reached a UDP port on this machine while a script could run


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Printed:
    """Each hostile page printed once. The last two go round the page's content security
    policy (``_offline`` made to do nothing), to show that the print profile alone runs no
    script and sends WebRTC's UDP nowhere."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed; .ci/run installs Debian's chromium")
    folder = tmp_path_factory.mktemp("hostile-pages")
    uris = _canaries(folder / "elsewhere")
    everything = _every_way_in(uris)
    # A navigation, which no content security policy governs: the canary printed instead
    # of the report, or (Chromium 156) no PDF at all.
    refresh = f'<meta http-equiv="refresh" content="0;url={uris["txt"]}">'
    pages = {
        # The old policy went after the first "<head": here, inside a comment.
        "head-in-a-comment": _page(body=everything, before="<!-- <head> -->\n"),
        "no-head": f"<p>{REPORT}</p>{everything}",
        "legacy-doctype": _page(body=everything, before='<!DOCTYPE html PUBLIC "-//W3C//DTD'
                                ' HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">'),
        "refresh": _page(head=refresh),
        "refresh-in-body": _page(body=refresh.replace("http-equiv", "HTTP-EQUIV")),
        "own-policy": _page(head='<meta http-equiv="Content-Security-Policy" content='
                            '"default-src * \'unsafe-inline\' file: data:">', body=everything),
    }
    texts = {name: _print(page, folder, name) for name, page in pages.items()}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(printing, "_offline", lambda html: html)
        texts["script-without-policy"] = _print(_page(body=_script(CANARY)), folder, "script")
        patch.setattr(printing, "_PREFERENCES", {})  # only the switches now
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            host, port = udp.getsockname()
            rtc = (f"<script>const pc = new RTCPeerConnection({{iceServers: [{{urls:"
                   f" 'stun:{host}:{port}'}}]}}); pc.createDataChannel('x');"
                   " pc.createOffer().then(o => pc.setLocalDescription(o));"
                   " const t = Date.now(); while (Date.now() - t < 1500) {}</script>")
            texts["webrtc"] = _print(_page(body=rtc), folder, "webrtc")
            udp.setblocking(False)  # the browser has ended: whatever it sent is here now
            datagrams = []
            while True:
                try:
                    datagrams.append(udp.recvfrom(4096))
                except BlockingIOError:
                    break
    return Printed(texts, datagrams)


@needs_chromium
@pytest.mark.parametrize("name", ["head-in-a-comment", "no-head", "legacy-doctype", "refresh",
                                  "refresh-in-body", "own-policy"])
def test_a_template_cannot_print_another_files_text_or_run_script(printed: Printed,
                                                                  name: str) -> None:
    text = printed.texts[name]
    assert REPORT in text
    assert CANARY not in text


@needs_chromium
def test_the_print_profile_runs_no_script_even_where_the_policy_would_allow_it(
        printed: Printed) -> None:
    text = printed.texts["script-without-policy"]
    assert "no script ran" in text and CANARY not in text


@needs_chromium
def test_webrtc_sends_no_udp_round_the_dead_proxy(printed: Printed) -> None:
    assert REPORT in printed.texts["webrtc"]
    assert printed.datagrams == []


# --- the printed copy, without a browser -----------------------------------------------------


@pytest.mark.parametrize("before", ["", "<!DOCTYPE html>", "\ufeff  <!doctype HTML>\n",
                                    '<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN">'])
def test_the_policy_comes_first_in_place_of_the_pages_doctype(before: str) -> None:
    printed = printing._offline(before + "<!-- <head> --><html><head></head><body>x</body>")
    assert printed.startswith('<!DOCTYPE html><meta http-equiv="Content-Security-Policy"')
    assert printed.lower().count("<!doctype") == 1
    assert printed.endswith("<!-- <head> --><html><head></head><body>x</body>")


@given(st.text())
def test_whatever_the_page_holds_only_the_policy_is_an_http_equiv(page: str) -> None:
    printed = printing._offline(page)
    assert printed.startswith(printing._NO_FETCH)
    assert printed.lower().count("http-equiv") == 1


def test_the_pages_refresh_is_left_inert() -> None:
    printed = printing._offline('<meta HTTP-EQUIV="refresh" content="0;url=file:///etc/passwd">'
                                "<meta\thttp-Equiv=Refresh content=0>")
    assert printed.removeprefix(printing._NO_FETCH).lower().count("data-http-equiv") == 2


def test_the_print_profile_blocks_javascript_and_non_proxied_udp(tmp_path: Path) -> None:
    profile = printing._profile(tmp_path / "p")
    settings = json.loads((profile / "Default" / "Preferences").read_text(encoding="utf-8"))
    assert settings["profile"]["default_content_setting_values"]["javascript"] == 2
    assert settings["webrtc"]["ip_handling_policy"] == "disable_non_proxied_udp"
    assert "--webrtc-ip-handling-policy=disable_non_proxied_udp" in printing._SWITCHES


# --- a browser that hangs --------------------------------------------------------------------


class _Hung:
    """A browser process that hangs: what ``_stop`` may do to it, recorded."""

    pid = 4321

    def __init__(self) -> None:
        self.done: list[str] = []

    def kill(self) -> None:
        self.done.append("kill")

    def communicate(self) -> tuple[bytes, bytes]:
        self.done.append("communicate")
        return b"", b""


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    ran: list[list[str]] = []

    def record(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        ran.append(args)
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(printing.subprocess, "run", record)
    yield ran


def test_on_windows_a_hung_browser_is_killed_with_its_whole_tree(
        monkeypatch: pytest.MonkeyPatch, commands: list[list[str]]) -> None:
    browser = _Hung()
    killed: list[int] = []
    monkeypatch.setattr(printing.os, "killpg", lambda pid, sig: killed.append(pid),
                        raising=False)
    monkeypatch.setenv("SYSTEMROOT", r"C:\WINDOWS")
    with monkeypatch.context() as windows:
        windows.setattr(os, "name", "nt")
        printing._stop(browser)  # type: ignore[arg-type]
    assert commands == [[r"C:\WINDOWS\System32\taskkill.exe", "/F", "/T", "/PID", "4321"]]
    assert browser.done == ["kill", "communicate"] and killed == []


def test_on_windows_a_browser_is_still_killed_if_taskkill_cannot_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(args: list[str], **kwargs: Any) -> None:
        raise FileNotFoundError(2, "No such file", "taskkill")

    monkeypatch.setattr(printing.subprocess, "run", missing)
    browser = _Hung()
    with monkeypatch.context() as windows:
        windows.setattr(os, "name", "nt")
        printing._stop(browser)  # type: ignore[arg-type]
    assert browser.done == ["kill", "communicate"]


@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX's")
def test_on_posix_a_hung_browser_is_killed_with_its_process_group(
        monkeypatch: pytest.MonkeyPatch, commands: list[list[str]]) -> None:
    browser = _Hung()
    killed: list[tuple[int, int]] = []
    monkeypatch.setattr(printing.os, "killpg", lambda pid, sig: killed.append((pid, sig)))
    printing._stop(browser)  # type: ignore[arg-type]
    assert killed == [(4321, printing.signal.SIGKILL)]
    assert commands == [] and browser.done == ["communicate"]


# --- invisible characters --------------------------------------------------------------------

#: Characters that hide or reorder text: a bidi mark each way, the Arabic letter mark, the
#: soft hyphen, the Hangul fillers, the Mongolian vowel separator, the combining grapheme
#: joiner, the invisible operators and the interlinear annotation marks.
INVISIBLE = ["\u200e", "\u200f", "\u061c", "\u00ad", "\u115f", "\u1160", "\u3164", "\uffa0",
             "\u180e", "\u034f", "\u2061", "\u2062", "\u2063", "\u2064", "\ufff9", "\ufffa",
             "\ufffb", "\U0001bca0", "\U0001d173", "\U000e0041"]


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_an_invisible_character_is_shown_and_refused_in_a_name(char: str) -> None:
    assert escape(f"Jo{char}Bloggs") == "Jo\ufffdBloggs"
    assert HIDDEN_IN_TEXT.search(f"a note{char}") and HIDDEN_IN_LINE.search(f"Jo{char}")


def test_variation_selectors_and_ordinary_text_pass() -> None:
    """A variation selector picks how the character before it looks (the red heart emoji is
    U+2764 U+FE0F): nothing hidden. Accents, other scripts and typographic marks pass."""
    for text in ("Thank you \u2764\ufe0f", "Zo\u00eb Ren\u00e9e O\u2019Brien \u2013 ok",
                 "\u0645\u0631\u062d\u0628\u0627", "\ud55c\uad6d\uc5b4", "\u2116 5 \u00a3 \u20ac"):
        assert escape(text) == text
        assert not HIDDEN_IN_LINE.search(text)
