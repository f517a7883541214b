"""Debian's Chromium driven by Playwright, for the tests of the approver's page (Playwright must not download
a browser here)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 15_000


def missing() -> str | None:
    """Say what is missing to drive Chromium, or None when nothing is."""
    try:
        import playwright.sync_api  # noqa: F401  (only the browser tests pay for importing it)
    except ImportError:
        return "Playwright is not installed: pip install -e '.[test]'"
    return None if CHROMIUM.exists() else "Chromium is not installed: apt-get install -y chromium"


@contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    """Launch Chromium headless and close it afterwards, however the block ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()
