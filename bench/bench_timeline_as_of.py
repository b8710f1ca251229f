"""The timeline "as of" an instant on PostgreSQL: a customer with 10k entries among 1M, read
through the JSON API (in-process ASGI) at random instants of its history, against the current
timeline's page of the same size. Target: p99 under 200 ms, printed as a verdict.

The bulk of the read model is written with COPY in the shape the timeline writer gives it
(every fifth entry a call with three versions: ringing, answered, ended); the customer, its
complaints and their case entries go through the real writer and complaints store. Set
BENCH_AS_OF_ENTRIES to run a smaller history."""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from bench.harness import BenchContext, Measurement, percentile
from services.projector.api.app import create_app
from services.projector.complaints import store as complaints
from services.projector.complaints.policy import build_rules
from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.writer import TimelineWriter
from shared.config import Auth, AuthToken, FileConfig, Settings, Sla
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import InMemoryPublisher
from tests import timeline_factories as f

ENTRIES = int(os.environ.get("BENCH_AS_OF_ENTRIES", "1000000"))
HOT = 10_000
PER_CUSTOMER = 10
COMPLAINTS = 20
ROUNDS = 300
TOKEN = "bench-as-of-token-0123456789"
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=365)
SLA = Sla.model_validate({"timezone": "UTC", "policies": [
    {"name": "standard", "calendar": "24/7", "first_response": "4h", "resolution": "3d", "warn_at": ["80%"]}]})
COLUMNS = ("id", "entry_key", "owner_id", "contact_id", "event_id", "type", "channel", "direction", "occurred_at",
           "recorded_at", "summary", "details", "ambiguous", "candidates", "email", "phone", "customer_ref", "order_ref",
           "tracking_number", "complaint_id")


def entry_rows(owner: str, n: int, at: datetime) -> list[tuple[tuple, datetime]]:
    """One entry's versions as (row, version_at); the last one is the entry's current row."""
    entry_id = str(uuid.uuid4())
    if n % 5:
        details = json.dumps({"subject": f"Question {n}", "message_id": f"<{n}@bench>", "text": "Hello, where is my order?"})
        row = (entry_id, f"mail:{n}", owner, None, str(uuid.uuid4()), "email.received", "email", "inbound", at, at,
               f"Mail {n}", details, False, "[]", "hot@example.org", None, None, None, None, None)
        return [(row, at)]
    versions = []
    for step, (kind, state) in enumerate((("call.started", "ringing"), ("call.answered", "answered"), ("call.ended", "ended"))):
        recorded = at + timedelta(seconds=30 * step)
        details = json.dumps({"state": state, "from": "+4915112345678", "missed": False})
        versions.append(((entry_id, f"call:{n}", owner, None, str(uuid.uuid4()), kind, "phone", "inbound", at, recorded,
                          f"Call {n} ({state})", details, False, "[]", None, "+4915112345678", None, None, None, None),
                         recorded))
    return versions


def history(hot: str):
    """(owner, n, at) for every bulk entry: the hot customer's 10k spread over the year among the rest."""
    rng = random.Random(7)
    for n in range(ENTRIES):
        owner = hot if n % max(1, ENTRIES // HOT) == 0 else str(uuid.UUID(int=n // PER_CUSTOMER))
        yield owner, n, START + timedelta(seconds=rng.uniform(0, SPAN.total_seconds()))


async def load(url: str, hot: str) -> int:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        entries, versions, total = [], [], 0
        for owner, n, at in history(hot):
            produced = entry_rows(owner, n, at)
            entries.append(produced[-1][0])
            versions += [(*row, version_at) for row, version_at in produced]
            if len(entries) >= 20_000:
                total += await copy(conn, entries, versions)
                entries, versions = [], []
        total += await copy(conn, entries, versions)
        await conn.execute("ANALYZE timeline_entries; ANALYZE timeline_entry_versions")
        return total
    finally:
        await conn.close()


async def copy(conn, entries: list[tuple], versions: list[tuple]) -> int:  # type: ignore[no-untyped-def]
    if entries:
        await conn.copy_records_to_table("timeline_entries", records=entries, columns=COLUMNS)
        await conn.copy_records_to_table("timeline_entry_versions", records=versions, columns=(*COLUMNS, "version_at"))
    return len(versions)


async def complaints_of(engine, rules) -> None:  # type: ignore[no-untyped-def]
    """The hot customer's complaints through the real writer and store: opened, some answered."""
    events = []
    for c in range(COMPLAINTS):
        minute = c * 60 * 24 * 15  # every two weeks of the year
        events.append(f.complaint_opened(f"C-{c}", minute, email="hot@example.org"))
        if c % 2:
            events.append(f.complaint_responded(f"C-{c}", minute + 90))
    await TimelineWriter(engine).write(events)
    async with engine.begin() as conn:
        await complaints.apply_events(conn, events, rules, datetime.now(UTC))


async def run(ctx: BenchContext) -> list[Measurement]:
    from tests.infra.postgres import create_database, start_cluster

    cluster = start_cluster(ctx.work_dir / "pg-as-of")
    ctx.add_cleanup(cluster.stop)
    url = await create_database(cluster)
    await upgrade_async(url)
    engine = make_engine(url)
    hot = customer_id_for("K-HOT")
    rules = build_rules(SLA)
    try:
        await TimelineWriter(engine).write([f.registered("K-HOT", "Hanna Hot", emails=("hot@example.org",))])
        started = time.perf_counter()
        versions = await load(url, hot)
        load_seconds = time.perf_counter() - started
        await complaints_of(engine, rules)
        settings = Settings(data_dir=ctx.work_dir, file=FileConfig(auth=Auth(tokens=[AuthToken(token=TOKEN, user="b")]), sla=SLA))
        app = create_app(settings, engine=engine, publisher=InMemoryPublisher())  # the reads' audit records
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://bench.test",
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            path = f"/api/customers/{hot}/timeline"
            current = await samples(client, path, lambda _: {"limit": 50})
            rng = random.Random(11)
            as_of = await samples(client, path, lambda _: {
                "limit": 50, "as_of": (START + rng.uniform(0.02, 1.0) * SPAN).isoformat()})
    finally:
        await engine.dispose()
    p99, baseline = percentile(as_of, 99), percentile(current, 99)
    verdict = "met" if p99 < 200 else "NOT met"
    print(f"timeline as of: {ENTRIES:,} entries ({versions:,} versions, loaded in {load_seconds:.0f} s), "
          f"customer with {HOT:,}: p50 {percentile(as_of, 50):.1f} ms, p99 {p99:.1f} ms "
          f"(current timeline p50 {percentile(current, 50):.1f} ms, p99 {baseline:.1f} ms); target p99 < 200 ms: {verdict}")
    return [Measurement(f"as-of page of 50, 10k-entry customer among {ENTRIES:,} (p99)", "ms", p99,
                        "current page of 50 (p99)", baseline, higher_is_better=False,
                        notes={"entries": ENTRIES, "versions": versions, "p50_ms": percentile(as_of, 50),
                               "target_p99_ms": 200, "verdict": verdict})]


async def samples(client: httpx.AsyncClient, path: str, params) -> list[float]:  # type: ignore[no-untyped-def]
    found = []
    for i in range(ROUNDS):
        start = time.perf_counter()
        response = await client.get(path, params=params(i))
        found.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text[:300]
    return found
