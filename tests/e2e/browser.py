"""Headless Chromium for the browser tests: Debian's package, driven by Playwright.

Playwright's own browser downloads are not used (``playwright install`` cannot reach its
CDN from CI); the tests launch the distribution's ``/usr/bin/chromium`` through
``executable_path`` instead.  When it is missing, :func:`ensure_chromium` installs it with
``apt-get`` if the process may (root, ``apt-get`` present), and otherwise says exactly why
it cannot, so the caller can skip with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Final

CHROMIUM: Final = Path("/usr/bin/chromium")
APT_TIMEOUT_SECONDS: Final = 900

# Without the background-networking flags Chromium dials Google's services at start-up;
# on a closed network those connections are refused and page loads stall behind them.
CHROMIUM_ARGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class BrowserUnavailable(Exception):
    """Chromium or Playwright cannot be had on this machine; the message says why."""


def ensure_chromium() -> Path:
    """The path of a working Chromium, installing Debian's package when that is possible."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise BrowserUnavailable("the Python package 'playwright' is not installed (make install)") from None
    if _runs(CHROMIUM):
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None:
        raise BrowserUnavailable(f"{CHROMIUM} is missing and this machine has no apt-get to install Debian's 'chromium'")
    if os.geteuid() != 0:
        raise BrowserUnavailable(f"{CHROMIUM} is missing; installing it needs root: apt-get install -y chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([apt, "update"], [apt, "install", "-y", "--no-install-recommends", "chromium"]):
        try:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise BrowserUnavailable(f"{' '.join(argv)} did not finish within {APT_TIMEOUT_SECONDS}s") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise BrowserUnavailable(f"{' '.join(argv)} exited {done.returncode}: {' / '.join(tail)}")
    if not _runs(CHROMIUM):
        raise BrowserUnavailable(f"apt-get installed 'chromium' but {CHROMIUM} does not run")
    return CHROMIUM


def _runs(path: Path) -> bool:
    if not path.is_file() or not os.access(path, os.X_OK):
        return False
    try:
        done = subprocess.run([str(path), "--version"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
