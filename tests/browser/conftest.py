"""Fixtures for the browser tests: a temporary folder per module and headless Debian Chromium."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from browser_lab import CHROMIUM, SCREENSHOTS, chromium_context


@pytest.fixture(scope="module")
def lab_base():
    with tempfile.TemporaryDirectory(prefix="nbtrack-browser-") as d:
        yield Path(d)


@pytest.fixture(scope="module")
def chromium():
    """Headless Debian Chromium with an empty temporary profile."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    SCREENSHOTS.mkdir(exist_ok=True)
    with chromium_context(1400, 860, 20_000) as context:
        yield context


# pytest-jupyter's autouse loop fixtures (for jp_fetch tests) would close the event loop that
# Playwright's sync API runs in; these tests use neither, so they get inert versions.
@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    yield
