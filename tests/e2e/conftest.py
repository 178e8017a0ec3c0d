"""Browser tests: Playwright driving Debian's Chromium (headless) against the live server.

Playwright's own browser download does not work on these machines, so the tests
use the system Chromium (`apt-get install chromium`); without it they are
skipped with that reason, unless EVRELEASE_REQUIRE_BROWSER=1 (CI installs it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.qc.pipeline.conftest import demo_with_history, demo_world, evaluated_demo  # noqa: F401
from tests.releases.conftest import released_demo  # noqa: F401

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parent / "artifacts"  # git-ignored (its README says)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("EVRELEASE_REQUIRE_BROWSER") in {"1", "true"}:
            pytest.fail("Chromium is required (EVRELEASE_REQUIRE_BROWSER) but not installed")
        pytest.skip("no Chromium on this machine: apt-get install chromium")
    # Playwright's sync API keeps an event loop in this thread; the live server's ORM
    # calls run in their own thread, and the test's own ORM calls are synchronous.
    # Only while the browser runs: left set, it leaks into later subprocesses
    # (``manage.py check --deploy`` refuses it, async.E001).
    with _environ(DJANGO_ALLOW_ASYNC_UNSAFE="true"):
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-quic",
                ],
            )
            yield browser
            browser.close()


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Set environment variables, and restore the previous values (or absence) after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
