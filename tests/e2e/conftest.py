"""Browser-test fixtures: the real stack (tests/e2e/stack.py), Debian's chromium driven by
Playwright (never a downloaded browser), and `test-artifacts/` for screenshots."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.demo.data import demo_customers, write_customers_csv
from tests.e2e.stack import CHROMIUM_ARGS, Stack, make_stack
from tests.e2e.traffic import import_customers

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


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
