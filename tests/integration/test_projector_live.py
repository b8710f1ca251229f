"""The live projector as deployed (`touchpoint projector`, a Faust worker process) against
real Kafka and a real database: history lands in order, redelivery changes nothing, and a
`kill -9` mid-stream followed by a restart leaves exactly one entry per interaction."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from events.topics import Topic, deadletter_topic, topic_name
from services.projector.timeline.projection import apply
from services.projector.timeline.rows import contact_id_for, customer_id_for
from services.projector.timeline.store import entry_from_row
from services.projector.timeline.tables import TIMELINE
from services.projector.timeline.view import MemoryView
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.consumer import BatchReader, stop_consumer
from shared.kafka.deadletter import DeadLetter
from tests.infra.ports import free_port
from shared.kafka.publisher import KafkaPublisher
from tests import timeline_factories as f

pytestmark = pytest.mark.integration
ERIKA = customer_id_for("K-1")
PHONE = "+4915112345678"
ROOT = Path(__file__).resolve().parents[2]


def start_projector(settings, db_url: str, metrics_port: int = 0) -> subprocess.Popen:
    env = {
        **os.environ,
        "TOUCHPOINT_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
        "TOUCHPOINT_TOPIC_PREFIX": settings.topic_prefix,
        "TOUCHPOINT_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "TOUCHPOINT_DATABASE_URL": db_url,
        "TOUCHPOINT_DATA_DIR": str(settings.data_dir),
        "TOUCHPOINT_LOG_LEVEL": "WARNING",
        "TOUCHPOINT_PROJECTOR_METRICS_PORT": str(metrics_port),
    }
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = open(settings.data_dir / "projector.log", "ab")  # noqa: SIM115 - the child keeps it
    return subprocess.Popen([sys.executable, "-m", "shared.cli", "projector"], env=env, cwd=ROOT, stdout=log, stderr=log)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str, process: subprocess.Popen, settings,
                   seconds: float = 90) -> None:
    """Polls until `condition` holds; fails naming `what` (and the projector's log) otherwise."""
    for _ in range(int(seconds * 5)):
        if await condition():
            return
        if process.poll() is not None:
            break
        await asyncio.sleep(0.2)
    log = (settings.data_dir / "projector.log").read_text(errors="replace")[-3000:]
    pytest.fail(f"{what} did not happen (projector exit status {process.poll()}); log:\n{log}")


async def count(engine, table) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def stored_entries(engine):
    async with engine.connect() as conn:
        rows = await conn.execute(select(TIMELINE.entries).order_by(TIMELINE.entries.c.id))
        return [entry_from_row(row._mapping) for row in rows]


def fold(events) -> list:
    view = MemoryView()
    for event in events:
        view.record(apply(event, view))
    return sorted(view.entries.values(), key=lambda e: e.id)


def cross_channel_history():
    return [
        f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=(PHONE,)),
        f.registered("K-2", "Max", phones=("+4930111222",)),
        f.registered("K-3", "Moritz", phones=("+4930111222",)),
        f.mail(1, "erika@example.org", 1),
        f.call("started", "c1", PHONE, 2),
        f.call("ended", "c1", PHONE, 3, disposition="missed"),
        f.form(1, "erika@example.org", 4),
        f.parcel("TN1", "in_transit", 5, email="erika@example.org"),
        f.parcel("TN1", "delivered", 6, email="erika@example.org"),
        f.mail(2, "erika@example.org", 7, sent=True, subject="Re: Parcel arrived damaged"),
        f.complaint_opened("CP1", 8, email="erika@example.org"),
        f.call("started", "c2", "+4930111222", 9),
    ]


@pytest.fixture
async def engine(db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def publisher(kafka_settings):
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    yield publisher
    await publisher.stop()


async def test_a_cross_channel_history_lands_in_order_and_redelivery_changes_nothing(
        kafka_settings, db_url, engine, publisher):
    events = cross_channel_history()
    metrics_port = free_port()
    process = start_projector(kafka_settings, db_url, metrics_port)
    try:
        await publisher.publish(events)
        await wait_for(lambda: applied_all(engine, len(events)), "applying the history", process, kafka_settings)
        entries = await stored_entries(engine)
        assert entries == fold(events)
        erika = sorted((e for e in entries if e.owner_id == ERIKA), key=lambda e: e.occurred_at, reverse=True)
        assert [e.type for e in erika] == ["complaint.opened", "email.sent", "shipment.status_changed",
                                           "webform.submitted", "call.ended", "email.received"]
        (shared_line,) = [e for e in entries if e.entry_key == "call:cti:c2"]
        assert shared_line.ambiguous and shared_line.owner_id == contact_id_for(("phone", "+4930111222"))
        assert shared_line.candidates == tuple(sorted((customer_id_for("K-2"), customer_id_for("K-3"))))

        await publisher.publish(events)  # every event delivered a second time
        marker = f.mail(99, "erika@example.org", 99)
        await publisher.publish([marker])
        await wait_for(lambda: applied_all(engine, len(events) + 1), "applying the marker", process, kafka_settings)
        assert await stored_entries(engine) == fold([*events, marker])

        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert 'touchpoint_projector_events_applied_total{projection="timeline",type="email.received"} 2.0' in metrics
        assert 'touchpoint_projector_duplicates_skipped_total{projection="timeline"}' in metrics
        assert "touchpoint_projector_lag_seconds" in metrics and "touchpoint_projector_batch_size_bucket" in metrics
    finally:
        stop(process)


async def applied_all(engine, n: int) -> bool:
    return await count(engine, TIMELINE.applied) >= n


async def test_kill_9_mid_stream_then_restart_leaves_exactly_one_entry_per_event(
        kafka_settings, postgres_url, publisher):
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    events = [f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=(PHONE,))]
    for n in range(600):
        events += [f.mail(n, "erika@example.org", n), f.call("started", f"c{n}", PHONE, n + 0.1),
                   f.call("ended", f"c{n}", PHONE, n + 0.5, disposition="missed" if n % 3 else "answered")]
    process = start_projector(kafka_settings, postgres_url)
    try:
        await publisher.publish(events[:1])
        await wait_for(lambda: applied_all(engine, 1), "the projector starting", process, kafka_settings)
        feed = asyncio.create_task(publish_steadily(publisher, events[1:1200]))
        await wait_for(lambda: between(engine, 100, 1000), "the projector applying part of the stream", process,
                       kafka_settings)
        process.send_signal(signal.SIGKILL)
        process.wait()
        await feed
        await publisher.publish(events[1200:])
        done_before_restart = await count(engine, TIMELINE.applied)
        assert 0 < done_before_restart < len(events)

        process = start_projector(kafka_settings, postgres_url)
        await wait_for(lambda: applied_all(engine, len(events)), "catching up after the restart", process,
                       kafka_settings)
        assert await count(engine, TIMELINE.applied) == len(events)
        assert await stored_entries(engine) == fold(events)
        assert await count(engine, TIMELINE.entries) == 600 + 600  # a mail and a folded call per round
    finally:
        stop(process)
        await engine.dispose()


async def publish_steadily(publisher, events, chunk: int = 20) -> None:
    for start in range(0, len(events), chunk):
        await publisher.publish(events[start : start + chunk])
        await asyncio.sleep(0.1)


async def between(engine, low: int, high: int) -> bool:
    return low <= await count(engine, TIMELINE.applied) <= high


async def test_undecodable_records_go_to_the_dead_letter_topic_and_the_projection_moves_on(
        kafka_settings, engine, db_url, publisher):
    email_topic = topic_name(kafka_settings.topic_prefix, Topic.EMAIL)
    await publisher.send_raw(email_topic, b'{"type": "email.received", "schema_version": 1}', b"k1", [])
    await publisher.send_raw(email_topic, b"not json at all", None, [])
    good = f.mail(1, "erika@example.org", 1)
    await publisher.publish([good])
    dead = deadletter_topic(kafka_settings.topic_prefix, "projector")

    async def dead_lettered(n: int) -> bool:
        async with BatchReader(kafka_settings.bootstrap_servers, [dead]) as reader:
            return await reader.remaining() >= n

    process = start_projector(kafka_settings, db_url)
    try:
        await wait_for(lambda: applied_all(engine, 1), "applying the good event", process, kafka_settings)
        await wait_for(lambda: dead_lettered(2), "dead-lettering both bad records", process, kafka_settings)
    finally:
        stop(process)
    letters = await read_dead_letters(kafka_settings, dead)
    letters.sort(key=lambda d: d.original)
    assert [(d.source_topic, d.original) for d in letters] == [
        (email_topic, b"not json at all"), (email_topic, b'{"type": "email.received", "schema_version": 1}')]
    positions = {(d.source_partition, d.source_offset) for d in letters}
    assert len(positions) == 2 and all(None not in position for position in positions)
    assert "not JSON" in letters[0].reason and "event_id" in letters[1].reason


async def read_dead_letters(settings, topic: str) -> list[DeadLetter]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.set_topics([topic])  # so that partitions_for_topic knows it
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [0])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records = []
        ends = await consumer.end_offsets(partitions)
        while sum(ends.values()) > len(records):
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records += batch
        return [DeadLetter.from_record(r.value, r.key, list(r.headers)) for r in records]
    finally:
        await stop_consumer(consumer)
