"""The report page in a real browser: headless Chromium loads it without a console message and draws every mark.

Chromium is driven by its own command line, no browser library: ``--dump-dom``
prints the document after load, ``--enable-logging=stderr --v=0`` logs each
console message as a ``CONSOLE`` line on stderr, ``--screenshot`` writes a PNG.
Chromium's log line does not carry the message's level, so *any* console
message counts: the page runs no script, so the only messages it can cause are
errors (a blocked load, a Content-Security-Policy violation, a script that
should not be there). ``test_console_messages_are_detected`` proves the
detection sees a deliberate ``console.error``, a syntax error and a blocked load.

Without Chromium, the fixture installs Debian's ``chromium`` package (as root,
with apt-get, bounded by a timeout) or skips, saying why.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from report_samples import Page, full, real_promoted
from retrain.report_page import render

pytestmark = pytest.mark.e2e

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: A page's load is quick; a busy 2-core machine with a cold disk cache is not.
TIMEOUT = 120
INSTALL_TIMEOUT = 600
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]? (?P<message>.*)$")
PNG = b"\x89PNG\r\n\x1a\n"


def _find() -> str | None:
    return next((path for path in map(shutil.which, NAMES) if path), None)


def _install() -> str:
    """Try ``apt-get install chromium``; returns why it could not, or ``""``."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root, cannot apt-get install chromium"
    if not shutil.which("apt-get"):
        return "no apt-get to install chromium with"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            return f"{' '.join(command)} took over {INSTALL_TIMEOUT} s"
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="module")
def chromium() -> str:
    """The path of a Chromium binary (installed with apt-get if missing and possible); skips without one."""
    path = _find()
    if path is None:
        why = _install()
        path = _find()
        if path is None:
            reason = f"headless Chromium unavailable: {why or 'installed, yet not on PATH'}"
            print(reason)
            pytest.skip(reason)
    return path


@dataclass
class Loaded:
    dom: str
    console: list[str]


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"{command} exited {done.returncode}: {done.stderr[-2000:]}"
    return done


def load(chromium: str, page: Path) -> Loaded:
    """The document after load (``--dump-dom``) and every console message the page caused."""
    done = _run(chromium, page.parent / "profile-dom", "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri())
    console = [m.group("message") for m in map(CONSOLE.search, done.stderr.splitlines()) if m]
    return Loaded(dom=done.stdout, console=console)


def screenshot(chromium: str, page: Path, png: Path, *, height: int) -> Path:
    _run(
        chromium,
        page.parent / "profile-shot",
        "--hide-scrollbars",
        f"--window-size=1280,{height}",
        f"--screenshot={png}",
        page.as_uri(),
    )
    return png


def test_console_messages_are_detected(chromium: str, tmp_path: Path) -> None:
    # Given a page that logs an error, has a syntax error, and (under the report's CSP) loads an image
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; script-src 'unsafe-inline'\">"
        "<title>broken</title></head><body><p>broken</p>"
        "<script>console.error('deliberate console error')</script>"
        "<script>function ( {</script>"
        "<img src='missing.png' alt=''></body></html>"
    )

    # When Chromium loads it
    loaded = load(chromium, page)

    # Then each is a console message
    text = "\n".join(loaded.console)
    assert "deliberate console error" in text
    assert "SyntaxError" in text
    assert "missing.png" in text
    assert "Content Security Policy" in text
    assert "<p>broken</p>" in loaded.dom


@pytest.mark.parametrize("sample", ["synthetic", "real"])
def test_the_report_loads_cleanly_and_draws_one_drift_mark_per_feature(
    chromium: str, tmp_path: Path, sample: str
) -> None:
    # Given a report page on disk (a synthetic one with hostile feature names, or a real run's)
    report = full(12) if sample == "synthetic" else real_promoted()
    features = set(report["checks"]["drift"]["features"])
    page = tmp_path / f"report-{sample}.html"
    page.write_text(render(report), encoding="utf-8")

    # When headless Chromium loads it
    loaded = load(chromium, page)

    # Then nothing reached the console, and the DOM has one drift mark per feature
    assert loaded.console == []
    dom = Page(loaded.dom)
    assert sorted(name for name, _ in dom.marks) == sorted(features)
    assert dom.text.count("Champion vs candidate") == 1
    png = screenshot(chromium, page, tmp_path / f"report-{sample}.png", height=3400)
    assert png.read_bytes()[:8] == PNG
    assert png.stat().st_size > 20_000
    print(f"screenshot: {png}")
