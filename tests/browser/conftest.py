"""Browser-test setup: Debian's headless Chromium for ``dash_duo``.

No pytest flags are needed: ``pytest_setup_options`` (dash's hook) returns Chrome options
that already run headless with the sandbox-free flags a container needs. The binary is
``$DASH_TEST_CHROMEPATH`` or ``/usr/bin/chromium``; ``chromedriver`` comes from PATH.
"""
from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("DASH_TEST_CHROMEPATH") or shutil.which("chromium") or "/usr/bin/chromium"


def pytest_setup_options():
    from selenium.webdriver.chrome.options import Options

    options = Options()
    if os.path.exists(CHROMIUM):
        options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1600,1200", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    return options


def pytest_collection_modifyitems(config, items):
    """Every test here is a browser test."""
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _chromium_installed():
    """Fail (not skip) with the fix in words when Chromium or ChromeDriver is missing:
    `make test` installs both, so a missing browser is a broken setup, not a reason to pass."""
    if not (os.path.exists(CHROMIUM) and shutil.which("chromedriver")):
        pytest.fail(f"needs {CHROMIUM} and chromedriver on PATH: run `make browser-deps`")
