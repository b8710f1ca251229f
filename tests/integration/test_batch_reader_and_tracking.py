"""Catch-up reading from stored positions, and tracking rows that make re-application a no-op."""

from __future__ import annotations

import pytest

from events.topics import Topic, topic_name
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import claim_unapplied, claim_unapplied_in, forget, load_offsets, mark_applied, store_offsets, unapplied
from shared.kafka.consumer import BatchReader
from shared.kafka.publisher import KafkaPublisher
from tests.integration.test_kafka_publisher import started

pytestmark = pytest.mark.integration


async def read_all(settings, start=None):
    topic = topic_name(settings.topic_prefix, Topic.CALLS)
    consumed, invalid, last = [], [], {}
    async with BatchReader(settings.bootstrap_servers, [topic], start_offsets=start, max_records=7) as reader:
        async for batch in reader.batches():
            consumed += batch.events
            invalid += batch.invalid
            last.update(batch.next_offsets())
    return consumed, invalid, last


async def test_reader_catches_up_to_the_end_and_resumes_from_stored_positions(kafka_settings):
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    try:
        await publisher.publish([started(n) for n in range(20)])
        topic = topic_name(kafka_settings.topic_prefix, Topic.CALLS)
        await publisher.send_raw(topic, b"{not an event", b"k", [])
        consumed, invalid, positions = await read_all(kafka_settings)
        assert sorted(c.event.payload.call_id for c in consumed) == sorted(f"c-{n}" for n in range(20))
        assert [i.value for i in invalid] == [b"{not an event"]

        await publisher.publish([started(n) for n in range(20, 25)])
        more, _, _ = await read_all(kafka_settings, start=positions)
        assert sorted(c.event.payload.call_id for c in more) == sorted(f"c-{n}" for n in range(20, 25))
    finally:
        await publisher.stop()


async def test_tracking_skips_applied_events_and_keeps_positions(db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            assert await unapplied(conn, "timeline", ["a", "b"]) == {"a", "b"}
            await mark_applied(conn, "timeline", ["a"])
            await store_offsets(conn, "timeline", {("t.calls", 0): 10, ("t.calls", 1): 3})
        async with engine.begin() as conn:
            assert await unapplied(conn, "timeline", ["a", "b"]) == {"b"}
            assert await unapplied(conn, "other", ["a"]) == {"a"}
            await store_offsets(conn, "timeline", {("t.calls", 0): 12})
            assert await load_offsets(conn, "timeline") == {("t.calls", 0): 12, ("t.calls", 1): 3}
            await forget(conn, "timeline")
            assert await load_offsets(conn, "timeline") == {}
            assert await unapplied(conn, "timeline", ["a"]) == {"a"}
    finally:
        await engine.dispose()


async def test_claiming_events_returns_those_not_applied_yet_and_marks_them_with_the_transaction(db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await mark_applied(conn, "timeline", ["a"])
        async with engine.begin() as conn:
            assert await claim_unapplied(conn, "timeline", ["a", "b", "c", "b"]) == {"b", "c"}
            assert await claim_unapplied(conn, "timeline", ["b", "d"]) == {"d"}  # claimed in this transaction
            await conn.rollback()  # a batch that failed: its claims go with it
        async with engine.begin() as conn:
            assert await unapplied(conn, "timeline", ["a", "b", "c", "d"]) == {"b", "c", "d"}
            assert await claim_unapplied(conn, "timeline", ["c"]) == {"c"}
            assert await claim_unapplied(conn, "other", ["a"]) == {"a"}
            assert await claim_unapplied(conn, "timeline", []) == set()
        async with engine.begin() as conn:
            assert await unapplied(conn, "timeline", ["a", "b", "c"]) == {"b"}
    finally:
        await engine.dispose()


async def test_a_view_with_its_own_applied_table_claims_each_event_once_and_only_with_its_transaction(db_url):
    from services.projector.timeline.tables import TIMELINE

    await upgrade_async(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            assert await claim_unapplied_in(conn, TIMELINE.applied, ["a", "b", "a"]) == {"a", "b"}
            assert await claim_unapplied_in(conn, TIMELINE.applied, ["b", "c"]) == {"c"}
            await conn.rollback()
        async with engine.begin() as conn:
            assert await claim_unapplied_in(conn, TIMELINE.applied, ["a", "c"]) == {"a", "c"}
            assert await claim_unapplied_in(conn, TIMELINE.applied, []) == set()
        async with engine.begin() as conn:
            assert await claim_unapplied_in(conn, TIMELINE.applied, ["a", "b", "c"]) == {"b"}
            # the shared table of the other views knows nothing of them
            assert await unapplied(conn, "timeline", ["a", "b", "c"]) == {"a", "b", "c"}
    finally:
        await engine.dispose()


async def test_a_reader_with_a_group_mirrors_its_positions_for_lag(kafka_settings):
    from shared.kafka.lag import consumer_lag

    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    try:
        await publisher.publish([started(n) for n in range(6)])
    finally:
        await publisher.stop()
    topic = topic_name(kafka_settings.topic_prefix, Topic.CALLS)
    group = f"{kafka_settings.topic_prefix}sla"
    async with BatchReader(kafka_settings.bootstrap_servers, [topic], group_id=group) as reader:
        async for batch in reader.batches():
            await reader.report_positions(batch.next_offsets())
    rows = [r for r in await consumer_lag(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
            if r.group == group]
    assert sum(r.end for r in rows) == 6 and sum(r.lag for r in rows) == 0
