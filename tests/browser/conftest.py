"""Browser tests: Playwright (pytest-playwright) driving Debian's Chromium against Django's live server.

- Never a downloaded browser: /usr/bin/chromium (apt-get install chromium). Missing: the tests FAIL
  under CI=true and are skipped elsewhere with the install hint.
- Screenshots of every page go to test-output/screenshots/; on failure the last screenshot and the page
  HTML are kept there too (name prefixed with FAILED-).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

# Playwright's sync API runs an event loop in the main thread; the test body still uses the ORM synchronously
# (fixtures, assertions), which Django would refuse inside a running loop without this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"Chromium não encontrado em {CHROMIUM}: instale com `apt-get install -y chromium`."
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Checked here (session scope, before the browser launches) rather than in a function-scoped fixture.
    _require_chromium()
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "locale": "pt-BR",
        "timezone_id": "America/Sao_Paulo",
        "viewport": {"width": 1280, "height": 900},
    }


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


class Shots:
    """Numbered full-page screenshots for one test."""

    def __init__(self, page, test_name: str) -> None:
        self.page = page
        self.prefix = re.sub(r"[^a-z0-9_]+", "_", test_name.lower())[:60]
        self.count = 0
        OUTPUT.mkdir(parents=True, exist_ok=True)

    def take(self, name: str) -> Path:
        self.count += 1
        path = OUTPUT / f"{self.prefix}-{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def keep_failure(self) -> None:
        try:
            self.page.screenshot(path=str(OUTPUT / f"FAILED-{self.prefix}.png"), full_page=True)
            (OUTPUT / f"FAILED-{self.prefix}.html").write_text(self.page.content(), encoding="utf-8")
        except Exception as exc:  # noqa: BLE001 - the page may be gone; the original failure matters more
            print(f"could not save the failure artefacts: {exc}")


@pytest.fixture
def shots(page, request):
    helper = Shots(page, request.node.name)
    yield helper
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        helper.keep_failure()
