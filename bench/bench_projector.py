"""Projector benchmarks, all in one run on the same generated data:

- projection events/s into PostgreSQL (bulk catch-up: aiokafka batches → pure apply → writer)
  against a raw aiokafka consume of the same topics, and against a raw asyncpg COPY of the rows
  the projection produced (both as events/s over the same event count);
- `touchpoint rebuild timeline` (fresh tables + atomic swap, a process of its own) time for the
  whole log against the raw consume time, and its peak RSS;
- timeline first-page latency p50/p99 through the API (in-process ASGI) for a customer with
  many entries among all others, against the same page queried with raw asyncpg;
- publish → visible latency p50/p99 through the live projector at a steady rate, against raw
  Kafka publish → consume latency measured in the same run, on a broker first warmed with
  small produce requests (`warm_broker`), as one in service is.

Sizes: TOUCHPOINT_BENCH_EVENTS (default 200000; 1M, the size of the rebuild target, takes
about half an hour here, so it is opt-in), TOUCHPOINT_BENCH_HOT_ENTRIES (entries of the one busy customer,
default 10000), TOUCHPOINT_BENCH_RATE (events/s for the latency run, default 100)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.harness import BenchContext, Measurement, percentile, rate
from events.call import CallEnded, CallStarted
from events.customer import CustomerRegistered
from events.email import EmailReceived
from events.envelope import ContactIdentifiers
from events.ids import event_id_for
from events.shipment import ShipmentStatusChanged
from events.topics import EVENT_TOPICS, topic_name
from events.webform import WebformSubmitted
from services.projector.api.app import create_app
from services.projector.audit.requests import drain
from services.projector.catchup import catch_up
from services.projector.consume import BatchProjector
from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.tables import TIMELINE
from services.projector.timeline.writer import TimelineWriter
from shared.config import Auth, AuthToken, FileConfig, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.consumer import stop_consumer
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.topics import ensure_for

EVENTS = int(os.environ.get("TOUCHPOINT_BENCH_EVENTS", "200000"))
HOT_ENTRIES = int(os.environ.get("TOUCHPOINT_BENCH_HOT_ENTRIES", "10000"))
LATENCY_RATE = float(os.environ.get("TOUCHPOINT_BENCH_RATE", "100"))
LATENCY_SECONDS = 15
PAGE_REQUESTS = 500
T0 = datetime(2026, 1, 1, tzinfo=UTC)
HASH = "0" * 64
ROOT = Path(__file__).resolve().parents[1]


# ---- data ------------------------------------------------------------------------------------


def envelope(kind: str, n: int, minute: float, **contact: str | None) -> dict:
    moment = T0 + timedelta(minutes=minute)
    return {"event_id": event_id_for("bench", kind, n), "occurred_at": moment, "recorded_at": moment,
            "source": "bench", "contact": ContactIdentifiers(**{k: v for k, v in contact.items() if v})}


def email_of(c: int) -> str:
    return f"customer{c}@example.org"


def phone_of(c: int) -> str:
    return f"+4930{c:08d}"


def generate(total: int, hot_entries: int, seed: int = 7) -> list:
    """Registrations, then mails, calls (started + ended), forms and parcel updates spread over
    the customers and some unknown contacts; customer 0 gets `hot_entries` mails."""
    rnd = random.Random(seed)
    customers = max(100, total // 100)
    events: list = [
        CustomerRegistered(**envelope("reg", c, 0), payload={"customer_ref": f"K-{c}", "name": f"Customer {c}",
                                                            "emails": [email_of(c)], "phones": [phone_of(c)]})
        for c in range(customers)
    ]
    n = 0
    while len(events) < total:
        n += 1
        minute = n / 10
        hot = n <= hot_entries
        c = 0 if hot else rnd.randrange(1, customers * 11 // 10)  # ~10 % unknown contacts
        kind = "mail" if hot else rnd.choice(("mail", "mail", "call", "call", "form", "parcel"))
        if kind == "mail":
            events.append(EmailReceived(**envelope("mail", n, minute, email=email_of(c)), payload={
                "position": {"mailbox": "support", "folder": "INBOX", "uid": n}, "message_id": f"<{n}@example.org>",
                "sender": {"email": email_of(c)}, "to": [{"email": "support@shop.example"}],
                "subject": f"Question {n}", "text": "Hello, where is my parcel? " * 4,
                "thread_key": f"msgid:<{n}@example.org>", "content_hash": HASH}))
        elif kind == "call":
            facts = {"provider": "cti", "call_id": f"call-{n}", "direction": "inbound", "from_number": phone_of(c),
                     "to_number": "+4930555000"}
            events.append(CallStarted(**envelope("call.started", n, minute, phone=phone_of(c)), payload=facts))
            events.append(CallEnded(**envelope("call.ended", n, minute + 2, phone=phone_of(c)),
                                    payload={**facts, "disposition": rnd.choice(("answered", "missed")),
                                             "duration_seconds": rnd.randrange(0, 600)}))
        elif kind == "form":
            events.append(WebformSubmitted(**envelope("form", n, minute, email=email_of(c)), payload={
                "form_id": "contact", "submission_id": f"s-{n}", "email": email_of(c), "message": "Please call me"}))
        else:
            tracking = f"TN{c}-{n % 3}"
            events.append(ShipmentStatusChanged(**envelope("parcel", n, minute, email=email_of(c), tracking_number=tracking),
                                                payload={"provider": "generic", "tracking_number": tracking,
                                                         "status": rnd.choice(("in_transit", "delivered"))}))
    return events[:total]


async def publish(settings: Settings, events: list) -> None:
    publisher = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix, compression="none")
    try:
        for start in range(0, len(events), 5000):
            await publisher.publish(events[start : start + 5000])
    finally:
        await publisher.stop()


BROKER_WARMUP = 20_000


async def warm_broker(settings: Settings, count: int = BROKER_WARMUP) -> None:
    """Single-event produce requests and a consumer tailing them, on topics of their own, before
    the latency run: a fresh broker JVM spends several times the CPU on each small request until
    its JIT has seen tens of thousands of them (Kafka's own publish → consume p50 was 50 ms on a
    fresh broker, 2-7 ms on one that had served a while). Bulk publishing does not warm that path."""
    warm = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}warm."})
    await ensure_for(warm)
    topic = topic_name(warm.topic_prefix, EVENT_TOPICS[0])
    publisher = KafkaPublisher(warm.bootstrap_servers, warm.topic_prefix, compression="none")
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=warm.bootstrap_servers, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    received = 0

    async def tail() -> None:
        nonlocal received
        while received < count:
            received += sum(len(records) for records in (await consumer.getmany(timeout_ms=100)).values())

    try:
        await consumer.start()
        await publisher.start()
        tailing = asyncio.create_task(tail())
        for start in range(0, count, 50):
            await asyncio.gather(*(publisher.publish([mail(3 * 10**9 + n, email_of(n % 50 + 1))])
                                   for n in range(start, min(count, start + 50))))
        await asyncio.wait_for(tailing, 120)
    finally:
        await stop_consumer(consumer)
        await publisher.stop()


# ---- measurements ----------------------------------------------------------------------------


async def raw_consume(settings: Settings, total: int) -> float:
    """Seconds for a plain aiokafka getmany + orjson.loads of every record."""
    topics = [topic_name(settings.topic_prefix, t) for t in EVENT_TOPICS]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
                                max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=32 * 1024 * 1024)
    await consumer.start()
    try:
        await consumer._client.set_topics(topics)  # so partitions_for_topic knows them
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen, start = 0, time.perf_counter()
        while seen < total:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
        return time.perf_counter() - start
    finally:
        await stop_consumer(consumer)


def pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def raw_copy(source_url: str, target_url: str) -> tuple[float, int]:
    """Seconds to COPY the projection's resulting rows into fresh, indexed tables."""
    await upgrade_async(target_url)
    source, target = await asyncpg.connect(pg_dsn(source_url)), await asyncpg.connect(pg_dsn(target_url))
    try:
        tables = {name: await source.fetch(f"SELECT * FROM {name}") for name in ("customers", "identities", "timeline_entries")}
        columns = {name: list(rows[0].keys()) for name, rows in tables.items() if rows}
        start = time.perf_counter()
        async with target.transaction():
            for name, rows in tables.items():
                for chunk in range(0, len(rows), 5000):
                    await target.copy_records_to_table(name, records=[tuple(r) for r in rows[chunk : chunk + 5000]],
                                                       columns=columns[name])
        return time.perf_counter() - start, sum(len(rows) for rows in tables.values())
    finally:
        await source.close()
        await target.close()


async def page_latency(settings: Settings, url: str, customer_id: str) -> tuple[list[float], list[float]]:
    engine = make_engine(url)
    # each read is recorded in the access audit, in the background, as in the running api
    audit = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix, client_id="bench-api")
    await audit.start()  # not lazily by the first reads, several at once
    app = create_app(settings.model_copy(update={"file": FileConfig(auth=Auth(tokens=[
        AuthToken(token="bench-token-1", user="bench")]))}), engine=engine, publisher=audit)
    headers = {"Authorization": "Bearer bench-token-1"}
    api: list[float] = []
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            for i in range(PAGE_REQUESTS + 20):
                start = time.perf_counter()
                response = await client.get(f"/api/customers/{customer_id}/timeline", params={"limit": 50},
                                            headers=headers)
                elapsed = time.perf_counter() - start
                assert response.status_code == 200 and len(response.json()["entries"]) == 50
                if i >= 20:
                    api.append(elapsed * 1000)
        await drain(app)
    finally:
        await audit.stop()
        await engine.dispose()
    raw: list[float] = []
    conn = await asyncpg.connect(pg_dsn(url))
    try:
        query = ("SELECT * FROM timeline_entries WHERE owner_id = $1 ORDER BY occurred_at DESC, id LIMIT 51")
        for i in range(PAGE_REQUESTS + 20):
            start = time.perf_counter()
            await conn.fetch(query, customer_id)
            if i >= 20:
                raw.append((time.perf_counter() - start) * 1000)
    finally:
        await conn.close()
    return api, raw


def command_env(settings: Settings, url: str) -> dict[str, str]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "TOUCHPOINT_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
            "TOUCHPOINT_TOPIC_PREFIX": settings.topic_prefix, "TOUCHPOINT_DATABASE_URL": url,
            "TOUCHPOINT_DATA_DIR": str(settings.data_dir), "TOUCHPOINT_LOG_LEVEL": "WARNING",
            "TOUCHPOINT_PROJECTOR_METRICS_PORT": "0",
            "TOUCHPOINT_PRIVACY_ENCRYPT": "false"}  # the events are plaintext; `bench privacy` measures sealing


async def rebuild_command(settings: Settings, url: str) -> tuple[float, float]:
    """`touchpoint rebuild timeline` as users run it, in a process of its own: seconds, and
    its peak resident memory in MB. The peak is the process's own high-water mark (VmHWM), read
    while it runs: the kernel's `ru_maxrss` of a child also counts the memory of the parent it
    was started from, and this bench holds every generated event."""
    env = command_env(settings, url)
    log = open(settings.data_dir / "rebuild.log", "wb")  # noqa: SIM115 - the child writes it
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "shared.cli", "rebuild", "timeline"], env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT)
    status = Path(f"/proc/{process.pid}/status")
    peak_kib = 0
    while process.poll() is None:
        try:
            found = [line for line in status.read_text().splitlines() if line.startswith("VmHWM:")]
        except OSError:
            found = []  # exited between the poll and the read
        if found:
            peak_kib = max(peak_kib, int(found[0].split()[1]))
        await asyncio.sleep(0.1)
    seconds = time.perf_counter() - start
    log.close()
    if process.returncode != 0:
        raise RuntimeError(f"rebuild exited with {process.returncode}; see {settings.data_dir / 'rebuild.log'}")
    return seconds, peak_kib / 1024


async def visible_latency(settings: Settings, url: str) -> tuple[list[float], list[float]]:
    """Live projector process; events published at a steady rate; each is timed from publish
    until its tracking row (committed with its entry) is visible, and, as the baseline, until
    a plain consumer of the topic receives it."""
    env = command_env(settings, url)
    log = open(settings.data_dir / "projector.log", "ab")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen([sys.executable, "-m", "shared.cli", "projector"], env=env, cwd=ROOT, stdout=log, stderr=log)
    publisher = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix, compression="none")
    conn = await asyncpg.connect(pg_dsn(url))
    topic = topic_name(settings.topic_prefix, EVENT_TOPICS[0])
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    sent: dict[str, float] = {}
    visible: dict[str, float] = {}
    received: dict[str, float] = {}
    try:
        await consumer.start()
        await consumer._client.set_topics([topic])
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        # the first event may be applied by the start-up catch-up, before the Faust worker joined
        # its group; warm up until events published now are applied by the live agent
        warm = [mail(2 * 10**9 + i, email_of(1)) for i in range(int(LATENCY_RATE * 5))]
        for i, event in enumerate(warm):
            await publisher.publish([event])
            await asyncio.sleep(1 / LATENCY_RATE)
            if process.poll() is not None:
                raise RuntimeError(f"the projector exited; see {settings.data_dir / 'projector.log'}")
        last = str(warm[-1].event_id)
        while not await conn.fetchval(APPLIED_ONE, last):
            if process.poll() is not None:
                raise RuntimeError(f"the projector exited; see {settings.data_dir / 'projector.log'}")
            await asyncio.sleep(0.1)

        async def feed() -> None:
            # each event on its own, as webhooks arrive; not one after the other's acknowledgement,
            # which would cap the rate at one per broker round trip
            count = int(LATENCY_RATE * LATENCY_SECONDS)
            publishing = []
            for i in range(count):
                event = mail(10**9 + 1 + i, email_of(i % 50 + 1))
                sent[str(event.event_id)] = time.perf_counter()
                publishing.append(asyncio.create_task(publisher.publish([event])))
                await asyncio.sleep(max(0.0, (i + 1) / LATENCY_RATE - (time.perf_counter() - begin)))
            await asyncio.gather(*publishing)

        async def watch_db() -> None:
            while len(visible) < int(LATENCY_RATE * LATENCY_SECONDS):
                waiting = [k for k in sent if k not in visible]
                if waiting:
                    rows = await conn.fetch(APPLIED_ANY, waiting)
                    now = time.perf_counter()
                    for row in rows:
                        visible[row["event_id"]] = now
                await asyncio.sleep(0.002)

        async def watch_kafka() -> None:
            while len(received) < int(LATENCY_RATE * LATENCY_SECONDS):
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    now = time.perf_counter()
                    for record in records:
                        received[orjson.loads(record.value)["event_id"]] = now

        begin = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(feed(), watch_db(), watch_kafka()), LATENCY_SECONDS * 4 + 60)
        except TimeoutError:
            tail = (settings.data_dir / "projector.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"of {len(sent)} events sent, {len(visible)} became visible and {len(received)} "
                               f"reached the raw consumer in time; the projector's log ends:\n{tail}") from None
    finally:
        await stop_consumer(consumer)
        await publisher.stop()
        await conn.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    to_ms = lambda found: [(found[k] - sent[k]) * 1000 for k in sent if k in found]  # noqa: E731
    return to_ms(visible), to_ms(received)


# the timeline's own applied events (primary key event_id), so that polling is an index lookup
APPLIED_ONE = f"SELECT 1 FROM {TIMELINE.applied.name} WHERE event_id = $1"
APPLIED_ANY = f"SELECT event_id FROM {TIMELINE.applied.name} WHERE event_id = ANY($1::varchar[])"


def mail(n: int, email: str) -> EmailReceived:
    now = datetime.now(UTC)
    return EmailReceived(event_id=event_id_for("bench-live", n), occurred_at=now, recorded_at=now, source="bench",
                         contact=ContactIdentifiers(email=email), payload={
                             "position": {"mailbox": "support", "folder": "INBOX", "uid": n},
                             "subject": f"Live {n}", "thread_key": f"live:{n}", "content_hash": HASH})


# ---- the run ---------------------------------------------------------------------------------


async def run(ctx: BenchContext) -> list[Measurement]:
    from tests.infra.postgres import create_database, start_cluster

    cluster = start_cluster(ctx.work_dir / "pg")
    ctx.add_cleanup(cluster.stop)
    # topics of this run only: on a shared broker an earlier run's events (same ids) would be
    # projected before this run publishes them, and look visible at once
    settings = Settings(kafka_bootstrap=ctx.kafka_bootstrap(), topic_prefix=f"bench.projector.{uuid.uuid4().hex[:8]}.",
                        topic_partitions=4, data_dir=ctx.work_dir / "var")
    await ensure_for(settings)
    events = generate(EVENTS, min(HOT_ENTRIES, EVENTS // 5))
    await publish(settings, events)
    total = len(events)
    notes = {"events": total, "hot_customer_entries": min(HOT_ENTRIES, EVENTS // 5)}

    consume_seconds = await raw_consume(settings, total)

    live_url = await create_database(cluster)
    await upgrade_async(live_url)
    engine = make_engine(live_url)
    publisher = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix)
    await publisher.start()  # dead letters
    try:
        start = time.perf_counter()
        await catch_up(settings.model_copy(update={"database_url": live_url}),
                       BatchProjector(TimelineWriter(engine), publisher, settings.topic_prefix), {})
        project_seconds = time.perf_counter() - start
    finally:
        await publisher.stop()
        await engine.dispose()
    copy_seconds, copied_rows = await raw_copy(live_url, await create_database(cluster))

    live_settings = settings.model_copy(update={"database_url": live_url})
    rebuild_seconds, rebuild_rss_mb = await rebuild_command(live_settings, live_url)
    print(f"touchpoint rebuild timeline: {rebuild_seconds:.1f} s for {total:,} events, peak RSS {rebuild_rss_mb:,.0f} MB")

    api_ms, raw_ms = await page_latency(live_settings, live_url, customer_id_for("K-0"))
    await warm_broker(settings)
    visible_ms, kafka_ms = await visible_latency(live_settings, live_url)

    projection_rate = rate(total, project_seconds)
    return [
        Measurement("projection into PostgreSQL", "events/s", projection_rate, "raw aiokafka consume",
                    rate(total, consume_seconds), notes=notes),
        Measurement("projection into PostgreSQL", "events/s", projection_rate, "raw asyncpg COPY of the result rows",
                    rate(total, copy_seconds), notes={**notes, "rows": copied_rows}),
        Measurement(f"rebuild of {total} events", "s", rebuild_seconds, "raw aiokafka consume", consume_seconds,
                    higher_is_better=False, notes={**notes, "peak_rss_mb": round(rebuild_rss_mb)}),
        Measurement("timeline first page p50 (API)", "ms", percentile(api_ms, 50), "raw asyncpg query p50",
                    percentile(raw_ms, 50), higher_is_better=False, notes=notes),
        Measurement("timeline first page p99 (API)", "ms", percentile(api_ms, 99), "raw asyncpg query p99",
                    percentile(raw_ms, 99), higher_is_better=False, notes=notes),
        Measurement("publish → visible p50", "ms", percentile(visible_ms, 50), "publish → raw consumer p50",
                    percentile(kafka_ms, 50), higher_is_better=False, notes={"rate": LATENCY_RATE, "n": len(visible_ms)}),
        Measurement("publish → visible p99", "ms", percentile(visible_ms, 99), "publish → raw consumer p99",
                    percentile(kafka_ms, 99), higher_is_better=False, notes={"rate": LATENCY_RATE, "n": len(visible_ms)}),
    ]
