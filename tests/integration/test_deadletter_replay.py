"""Dead letters with the real projector process, Kafka and database: a poisoned record lands in
`deadletter.projector` with its reason and source position while the projection moves on; a
dead letter whose cause was fixed, replayed from the ops backend, is projected exactly once,
and a second replay is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from events.codec import encode
from events.topics import Topic, topic_name
from services.projector.ops.deadletters import ReplayRefused, read_dead_letters, replay, with_replays
from services.projector.timeline.tables import TIMELINE
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.deadletter import DeadLetter, send_to_deadletter
from shared.kafka.publisher import KafkaPublisher
from tests import timeline_factories as f
from tests.integration.test_projector_live import start_projector, stop, wait_for

pytestmark = pytest.mark.integration
ERIKA = "erika@example.org"


async def entries_of(engine, event_id: str) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(TIMELINE.entries).where(TIMELINE.entries.c.event_id == event_id)
        return (await conn.execute(query)).scalar_one()


async def applied(engine, event_id: str) -> bool:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(TIMELINE.applied).where(TIMELINE.applied.c.event_id == event_id)
        return (await conn.execute(query)).scalar_one() > 0


async def test_a_poisoned_record_is_dead_lettered_and_a_fixed_one_replays_into_the_timeline_once(
    kafka_settings, postgres_url
):
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    email_topic = topic_name(kafka_settings.topic_prefix, Topic.EMAIL)
    process = start_projector(kafka_settings, postgres_url)
    try:
        before, after = f.mail(1, ERIKA, 1), f.mail(2, ERIKA, 2)
        await publisher.publish([before])
        await publisher.send_raw(email_topic, b'{"type": "email.received", "oops"', f"email:{ERIKA}".encode(), [])
        await publisher.publish([after])
        await wait_for(lambda: applied(engine, str(after.event_id)), "projecting past the poisoned record",
                       process, kafka_settings)

        async def poisoned() -> list:
            views = await read_dead_letters(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
            return [v for v in views if v.letter.service == "projector"]

        await wait_for(poisoned, "the poisoned record in deadletter.projector", process, kafka_settings)
        [letter] = await poisoned()
        assert (letter.letter.source_topic, letter.letter.source_offset) == (email_topic, 1)
        assert letter.letter.reason and letter.letter.first_seen is not None
        assert letter.preview.startswith('{"type": "email.received"')

        # a record the projector could not take then (its cause fixed since): replay it once
        fixed = f.mail(3, ERIKA, 3)
        await send_to_deadletter(publisher, kafka_settings.topic_prefix, DeadLetter(
            service="projector", reason="database unavailable during a migration", original=encode(fixed),
            key=f"email:{ERIKA}".encode(), source_topic=email_topic, source_partition=0, source_offset=7))
        [stored] = [v for v in await poisoned() if v.letter.reason.startswith("database unavailable")]
        assert await entries_of(engine, str(fixed.event_id)) == 0

        assert await replay(engine, publisher, kafka_settings.bootstrap_servers, stored.id, "olaf") == email_topic
        with pytest.raises(ReplayRefused, match="already replayed"):
            await replay(engine, publisher, kafka_settings.bootstrap_servers, stored.id, "olaf")
        await wait_for(lambda: applied(engine, str(fixed.event_id)), "projecting the replayed record", process,
                       kafka_settings)
        marker = f.mail(4, ERIKA, 4)  # same key, same partition: seen after everything before it
        await publisher.publish([marker])
        await wait_for(lambda: applied(engine, str(marker.event_id)), "projecting the marker", process, kafka_settings)

        assert await entries_of(engine, str(fixed.event_id)) == 1
        marked = {v.id: v.replayed_by for v in await with_replays(engine, await poisoned())}
        assert marked == {letter.id: None, stored.id: "olaf"}
        assert len(await poisoned()) == 2  # the replay did not fail again
    finally:
        stop(process)
        await publisher.stop()
        await engine.dispose()


async def test_malformed_dead_letters_are_listed_and_their_ids_refused_for_replay(kafka_settings, postgres_url):
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    topic = f"{kafka_settings.topic_prefix}deadletter.projector"
    try:
        await publisher.send_raw(topic, b"\xff\x00" * 400_000, b"\xfe", [])  # no headers at all
        await publisher.send_raw(topic, b"{}", None, [
            ("dlq.first_seen", b"not a time"), ("dlq.source_offset", b"-x"), ("dlq.service", b"\xff"),
            ("dlq.source_topic", topic_name(kafka_settings.topic_prefix, Topic.EMAIL).encode()),
        ])
        await publisher.send_raw(topic, b"{}", None, [("dlq.first_seen", b"2026-03-02T09:15:00")])  # no zone
        views = await with_replays(engine, await read_dead_letters(kafka_settings.bootstrap_servers,
                                                                   kafka_settings.topic_prefix))
        assert len(views) == 3
        assert all(v.preview is not None and v.letter.reason for v in views)
        for bad_id in ("", "nonsense", f"{topic}:0:x", "touchpoint.calls:0:0"):
            with pytest.raises(ReplayRefused):
                await replay(engine, publisher, kafka_settings.bootstrap_servers, bad_id, "olaf",
                             kafka_settings.topic_prefix)
    finally:
        await publisher.stop()
        await engine.dispose()
