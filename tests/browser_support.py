"""The studio in a real browser: Debian's Chromium, driven by Playwright, on a local server.

Shared by the browser test modules; skipped with a printed reason where Chromium or
Playwright is missing (never ``playwright install``: it downloads a browser).
"""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import REPO
from studio_server import running_studio

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = REPO / "artifacts"


def skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser test"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e .[test])"
    return None


@contextmanager
def studio_browser(what: str):
    """``(browser, url)``: a headless Chromium and a running studio; skips ``what`` without them."""
    reason = skip_reason()
    if reason:
        print(f"\nSKIPPING {what}: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with running_studio() as (_, url), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser, url
        finally:
            browser.close()
