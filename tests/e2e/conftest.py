"""Browser-test fixtures: the real stack (tests/e2e/stack.py), Debian's chromium driven by
Playwright (never a downloaded browser), and `test-artifacts/` for screenshots."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.demo.data import demo_customers, write_customers_csv
from tests.e2e.stack import CHROMIUM_ARGS, Stack, make_stack
from tests.e2e.traffic import import_customers

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


class Artifacts:
    """Screenshots kept for people to look at. They are evidence, not assertions: chromium now and
    then refuses one capture (`Page.captureScreenshot: Unable to capture screenshot`) while the
    page itself is fine, so a capture is retried and a last refusal is written down beside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def capture(self, target: Any, name: str, *, full_page: bool = False, attempts: int = 3) -> Path:
        from playwright.async_api import Error as PlaywrightError

        path = self.folder / name
        options: dict[str, Any] = {"full_page": True} if full_page else {}
        for attempt in range(1, attempts + 1):
            try:
                await target.screenshot(path=str(path), **options)
                return path
            except PlaywrightError as refused:
                if attempt == attempts:
                    path.with_suffix(".failed.txt").write_text(f"{refused}\n", encoding="utf-8")
                    warnings.warn(f"screenshot {name} not captured: {refused}", stacklevel=2)
                    return path
                await asyncio.sleep(0.5 * attempt)
        return path


@pytest.fixture(scope="session")
def artifacts() -> Artifacts:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return Artifacts(ARTIFACTS)


@pytest.fixture(scope="session")
async def stack(kafka_bootstrap: str, session_dir: Path) -> AsyncIterator[Stack]:
    running = make_stack(session_dir / "e2e", kafka_bootstrap)
    from shared.db.migrate import upgrade_async
    from shared.kafka.topics import ensure_for

    await ensure_for(running.settings)
    await upgrade_async(running.settings.db_url)  # once, before the services race to do it
    running.start()
    try:
        await running.wait_ready()
        csv = write_customers_csv(running.settings.data_dir / "customers.csv", demo_customers())
        await import_customers(running.settings, csv)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def context(browser) -> AsyncIterator[object]:
    ctx = await browser.new_context(viewport={"width": 1366, "height": 800}, locale="en-GB")
    yield ctx
    await ctx.close()
