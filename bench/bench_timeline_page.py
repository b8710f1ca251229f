"""The agent's customer page on a 10k-entry timeline (SQLite read model, in-process ASGI):
the rendered first page and a deep page fetched by cursor, against the JSON API's page of the
same 50 entries (the same query without HTML rendering). A ratio near 1 for the deep page
against the first shows the keyset paging does not slow down with depth."""

from __future__ import annotations

import re
import time

import httpx

from bench.harness import BenchContext, Measurement, median
from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.writer import TimelineWriter
from services.projector.web.ui import WebUi
from shared.config import Auth, AuthToken, FileConfig, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import InMemoryPublisher
from tests import timeline_factories as f

ENTRIES = 10_000
ROUNDS = 60
TOKEN = "bench-agent-token"


async def run(ctx: BenchContext) -> list[Measurement]:
    url = f"sqlite+aiosqlite:///{ctx.work_dir / 'timeline-page.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    writer = TimelineWriter(engine)
    await writer.write([f.registered("K-1", "Erika Muster", emails=("erika@example.org",))])
    for start in range(0, ENTRIES, 1000):
        await writer.write([f.mail(n, "erika@example.org", n) for n in range(start, start + 1000)])
    settings = Settings(data_dir=ctx.work_dir, file=FileConfig(auth=Auth(
        session_secret="bench-session-secret", tokens=[AuthToken(token=TOKEN, user="anna", role="agent")])))
    web = WebUi(settings, engine, None, Authorizer(settings))  # type: ignore[arg-type]
    app = create_app(settings, engine=engine, publisher=InMemoryPublisher())  # the reads' audit records
    web.install(app)
    customer = customer_id_for("K-1")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://bench.test") as client:
            await log_in(client)
            deep = await cursor_at_depth(client, customer, pages=150)
            first_page = await latency(client, f"/customers/{customer}")
            deep_page = await latency(client, f"/customers/{customer}/entries?before={deep}")
            api_page = await latency(client, f"/api/customers/{customer}/timeline?limit=50",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        await engine.dispose()
    return [
        Measurement("customer page, first 50 of 10k (HTML)", "ms", first_page, "JSON API page of 50", api_page,
                    higher_is_better=False),
        Measurement("timeline fragment at entry 7,500 (HTML)", "ms", deep_page, "customer page, first 50", first_page,
                    higher_is_better=False),
    ]


async def log_in(client: httpx.AsyncClient) -> None:
    form = (await client.get("/login")).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    await client.post("/login", data={"token": TOKEN, "csrf_token": csrf})


async def cursor_at_depth(client: httpx.AsyncClient, customer: str, pages: int) -> str:
    cursor = re.search(r'data-cursor="([^"]+)"', (await client.get(f"/customers/{customer}")).text).group(1)
    for _ in range(pages - 1):
        cursor = (await client.get(f"/customers/{customer}/entries", params={"before": cursor})).headers["x-next-cursor"]
    return cursor


async def latency(client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = await client.get(path, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text[:200]
    return median(samples)
