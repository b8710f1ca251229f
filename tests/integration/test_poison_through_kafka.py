"""The deployed consumers on PostgreSQL and a real Kafka, each fed the event that once stalled the
projector (a web form whose text holds a NUL byte, which PostgreSQL refuses), produced straight
to Kafka: the next event still arrives, the refused one shows as a dead letter of that service
with the database's reason, and a dead letter whose cause was fixed replays into the view once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from events.codec import encode
from events.topics import Topic, topic_name
from services.projector.complaints.tables import complaints
from services.projector.ops.deadletters import read_dead_letters, replay
from services.projector.timeline.projection import PROJECTION
from services.projector.timeline.tables import TIMELINE
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import applied_events
from shared.kafka.deadletter import DeadLetter, send_to_deadletter
from shared.kafka.publisher import KafkaPublisher
from tests.complaint_builders import form
from tests.hostile import HOSTILE
from tests.integration.complaint_harness import Running, configure, eventually
from tests.integration.test_notifier_worker import start_worker, stop_worker, worker_env
from tests.integration.test_projector_live import start_projector, stop

pytestmark = pytest.mark.integration
SLA_FILE = {"sla": {"complaint_mail_rules": [{"to": ["complaints@shop.example"]}],
                    "policies": [{"name": "std", "calendar": "24/7", "first_response": "1h", "resolution": "1d"}]}}


async def is_applied(engine, tracking: str, event_id: str) -> bool:
    async with engine.connect() as conn:
        if tracking == PROJECTION:  # the timeline keeps its applied events beside its rows
            query = select(func.count()).select_from(TIMELINE.applied).where(TIMELINE.applied.c.event_id == event_id)
        else:
            query = select(func.count()).select_from(applied_events).where(
                applied_events.c.projection == tracking, applied_events.c.event_id == event_id)
        return (await conn.execute(query)).scalar_one() > 0


async def letters_of(settings, service: str) -> list:
    views = await read_dead_letters(settings.bootstrap_servers, settings.topic_prefix)
    return [v for v in views if v.letter.service == service]


async def publish_with_poison(settings, publisher: KafkaPublisher, n: str):
    """A normal form, the NUL form (raw bytes, same key), another normal form; returns the last."""
    now = datetime.now(UTC)
    before, poison, after = form(now, n=f"{n}-before"), form(now, n=f"{n}-poison"), form(now, n=f"{n}-after")
    webforms = topic_name(settings.topic_prefix, Topic.WEBFORMS)
    await publisher.publish([before])
    await publisher.send_raw(webforms, HOSTILE["nul in the address"](poison), before.partition_key().encode(), [])
    await publisher.publish([after])
    return poison, after


async def test_the_live_projector_dead_letters_a_refused_event_and_keeps_projecting(kafka_settings, postgres_url):
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    process = start_projector(kafka_settings, postgres_url)
    try:
        poison, after = await publish_with_poison(kafka_settings, publisher, "p")
        await eventually(lambda: is_applied(engine, "timeline", str(after.event_id)), "the form after the poison", 90)
        [letter] = await eventually(lambda: letters_of(kafka_settings, "projector"), "the projector's dead letter")
        assert "22021" in letter.letter.reason and "0x00" in letter.letter.reason
        assert not await is_applied(engine, "timeline", str(poison.event_id))
    finally:
        stop(process)
        await publisher.stop()
        await engine.dispose()


async def test_the_sla_processor_dead_letters_a_refused_event_and_a_fixed_letter_replays_once(
    kafka_settings, postgres_url
):
    settings = configure(kafka_settings, postgres_url, SLA_FILE)
    hub = await Running(settings).start()
    try:
        poison, after = await publish_with_poison(settings, hub.publisher, "s")
        await eventually(lambda: is_applied(hub.engine, "complaint-detector", str(after.event_id)),
                         "the form after the poison")
        [letter] = await eventually(lambda: letters_of(settings, "complaints"), "the complaints dead letter")
        assert "22021" in letter.letter.reason
        assert letter.letter.source_topic == topic_name(settings.topic_prefix, Topic.WEBFORMS)

        # the cause fixed (here: the text cleaned), the operator replays the corrected letter
        fixed = form(datetime.now(UTC), n="s-fixed")
        await send_to_deadletter(hub.publisher, settings.topic_prefix, DeadLetter(
            service="complaints", reason="refused before the fix", original=encode(fixed),
            source_topic=letter.letter.source_topic, source_partition=0, source_offset=letter.letter.source_offset))
        [stored] = [v for v in await letters_of(settings, "complaints") if v.letter.reason == "refused before the fix"]
        await replay(hub.engine, hub.publisher, settings.bootstrap_servers, stored.id, "olaf")
        await eventually(lambda: is_applied(hub.engine, "complaint-detector", str(fixed.event_id)), "the replayed form")

        async def opened() -> int:
            async with hub.engine.connect() as conn:
                return (await conn.execute(select(func.count()).select_from(complaints))).scalar_one()

        await eventually(lambda: _equals(opened, 3), "three complaints: before, after and the replayed one")
        assert len(await letters_of(settings, "complaints")) == 2  # the replay did not fail again
    finally:
        await hub.close()


async def _equals(read, expected: int) -> bool:
    return await read() == expected


async def test_the_notifier_dead_letters_a_refused_event_and_keeps_consuming(kafka_settings, postgres_url,
                                                                          tmp_path: Path):
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    config = tmp_path / "touchpoint.toml"
    config.write_text("")
    log = tmp_path / "notifier.log"
    worker = start_worker(worker_env(kafka_settings, postgres_url, config, tmp_path / "data"), log)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    try:
        poison, after = await publish_with_poison(kafka_settings, publisher, "n")

        async def after_applied() -> bool:
            if worker.poll() is not None:
                raise AssertionError(f"the notifier exited:\n{log.read_text()[-3000:]}")
            return await is_applied(engine, "notifier", str(after.event_id))

        await eventually(after_applied, "the form after the poison", 120)
        [letter] = await eventually(lambda: letters_of(kafka_settings, "notifier"), "the notifier's dead letter")
        assert "22021" in letter.letter.reason
        assert not await is_applied(engine, "notifier", str(poison.event_id))
    finally:
        stop_worker(worker)
        await publisher.stop()
        await engine.dispose()
