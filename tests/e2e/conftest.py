"""Browser tests: Playwright driving Debian's Chromium (headless) against the live server.

Playwright's own browser download does not work on these machines, so the tests
use the system Chromium (`apt-get install chromium`); without it they are
skipped with that reason, unless EVRELEASE_REQUIRE_BROWSER=1 (CI installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.pages import PAGES, Page, by_persona, page_path
from tests.qc.pipeline.conftest import (  # noqa: F401 - shared fixtures
    demo_with_history,
    demo_world,
    evaluated_demo,
    evaluated_demo_with_history,
)
from tests.releases.conftest import released_demo  # noqa: F401

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
E2E = Path(__file__).resolve().parent
AXE = E2E / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = E2E / "artifacts"  # git-ignored (its README says)


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


def _required(what: str) -> None:
    if os.environ.get("EVRELEASE_REQUIRE_BROWSER") in {"1", "true"}:
        pytest.fail(f"{what} is required (EVRELEASE_REQUIRE_BROWSER) but missing")
    pytest.skip(f"{what} is missing on this machine")


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core as pinned in tests/e2e/package-lock.json, installed by ``npm ci`` once."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            _required("npm (to install axe-core)")
        assert npm is not None
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=E2E,
            check=True,
            timeout=300,
        )
    return AXE.read_text(encoding="utf-8")


def walk_pages(
    browser: Any,
    base_url: str,
    password: str,
    visit: Callable[[Any, Page, str], None],
    *,
    pages: tuple[Page, ...] = PAGES,
    prepare: Callable[[Any], None] | None = None,
    **context_options: Any,
) -> None:
    """Open every page as its persona (one browser context and one sign-in per persona),
    waiting until the network is idle, then ``visit(page, entry, path)``; ``prepare``
    sees each new browser page first (to listen to its console, say)."""
    for persona, entries in by_persona(pages).items():
        context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
        page = context.new_page()
        page.set_default_timeout(30_000)
        if prepare is not None:
            prepare(page)
        try:
            if persona:
                sign_in(page, base_url, persona, password)
            for entry in entries:
                path = page_path(entry)
                response = page.goto(f"{base_url}{path}")
                assert response is not None and response.status == entry.status, (entry, path)
                page.wait_for_load_state("networkidle")
                visit(page, entry, path)
        finally:
            context.close()
