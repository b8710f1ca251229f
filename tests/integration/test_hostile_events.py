"""Every consumer's step on PostgreSQL, fed a hostile record between two normal ones: the record
after it is still applied, and the hostile one is either in the view or in the consumer's dead
letter topic with its original bytes and a reason. (SQLite accepts all of these; PostgreSQL
refuses NUL bytes, over-long values and more, which once stalled the projector.)"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from events.topics import Topic, topic_name
from services.notifier.handler import TRACKING_NAME as NOTIFIER, EventHandler, step_for
from services.projector.complaints.detector import DetectorConfig
from services.projector.complaints.policy import build_rules
from services.projector.complaints.processor import DETECTOR, ComplaintProcessor
from services.projector.consume import BatchProjector
from services.projector.timeline.projection import PROJECTION
from services.projector.timeline.tables import TIMELINE
from services.projector.timeline.writer import TimelineWriter
from shared.config import Notifier, Sla
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import load_offsets, unapplied
from shared.kafka.consumer import Batch, Consumed, decode_record
from shared.kafka.follower import Backoff
from shared.kafka.publisher import InMemoryPublisher
from tests.complaint_builders import form, utc
from tests.hostile import HOSTILE

pytestmark = pytest.mark.integration
PREFIX = "touchpoint."
WEBFORMS = topic_name(PREFIX, Topic.WEBFORMS)
SLA = Sla.model_validate({
    "complaint_mail_rules": [{"to": ["complaints@shop.example"]}],
    "policies": [{"name": "tiny", "calendar": "24/7", "first_response": "10m", "resolution": "1h"}],
})
RULES = build_rules(SLA)
AT = utc("2026-03-02 09:00")
NO_WAIT = Backoff(first=0.01, cap=0.05)


def records(hostile_name: str) -> tuple[Batch, str, str]:
    """A batch: a normal form, the hostile record, another normal form (offsets 0, 1, 2)."""
    before, spoiled, after = form(AT, n="before"), form(AT, n="hostile"), form(AT, n="after")
    raws = [before.model_dump_json().encode(), HOSTILE[hostile_name](spoiled), after.model_dump_json().encode()]
    batch = Batch()
    for offset, raw in enumerate(raws):
        item = decode_record(WEBFORMS, 0, offset, b"key", raw)
        (batch.events if isinstance(item, Consumed) else batch.invalid).append(item)
    return batch, str(spoiled.event_id), str(after.event_id)


def dead_letter_of(publisher: InMemoryPublisher, service: str, offset: int) -> tuple[bytes, dict[str, bytes]] | None:
    for topic, value, _, headers in publisher.raw:
        found = dict(headers)
        if topic == f"{PREFIX}deadletter.{service}" and found.get("dlq.source_offset") == str(offset).encode():
            return value, found
    return None


async def not_applied(conn, tracking: str, event_ids: list[str]) -> set[str]:
    """The ids among `event_ids` the view tracked as `tracking` has not applied; the timeline
    keeps its applied events in a table of its own."""
    if tracking == PROJECTION:
        table = TIMELINE.applied
        found = await conn.execute(select(table.c.event_id).where(table.c.event_id.in_(event_ids)))
        return set(event_ids) - {row[0] for row in found}
    return await unapplied(conn, tracking, event_ids)


async def assert_stored_or_dead_lettered(engine, tracking: str, publisher, service: str, batch: Batch,
                                         hostile_id: str, after_id: str, hostile_raw: bytes) -> None:
    async with engine.connect() as conn:
        missing = await not_applied(conn, tracking, [hostile_id, after_id])
    assert after_id not in missing, "the event after the hostile one was not applied"
    letter = dead_letter_of(publisher, service, 1)
    if hostile_id in missing or not batch.events or all(c.offset != 1 for c in batch.events):
        assert letter is not None, "the hostile event is neither in the view nor dead-lettered"
        value, headers = letter
        assert value == hostile_raw
        assert headers["dlq.reason"] and headers["dlq.source_topic"] == WEBFORMS.encode()
    else:
        assert letter is None, "an event both applied and dead-lettered"


@pytest.fixture
async def engine(postgres_url):
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    yield engine
    await engine.dispose()


def hostile_bytes(name: str) -> bytes:
    return HOSTILE[name](form(AT, n="hostile"))


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_the_projector_moves_past_a_hostile_event(engine, name):
    publisher = InMemoryPublisher(topic_prefix=PREFIX)
    projector = BatchProjector(TimelineWriter(engine), publisher, PREFIX, NO_WAIT)
    batch, hostile_id, after_id = records(name)
    await projector.handle(batch)
    await assert_stored_or_dead_lettered(engine, PROJECTION, publisher, "projector", batch, hostile_id, after_id,
                                         hostile_bytes(name))
    async with engine.connect() as conn:
        assert await load_offsets(conn, PROJECTION) == {(WEBFORMS, 0): 3}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_the_complaints_processor_moves_past_a_hostile_event(engine, name):
    publisher = InMemoryPublisher(topic_prefix=PREFIX)
    processor = ComplaintProcessor(engine, publisher, PREFIX, RULES, DetectorConfig(sla=SLA, rules=RULES),
                                   lambda: AT, NO_WAIT)
    batch, hostile_id, after_id = records(name)
    await processor.step.handle(batch)
    await assert_stored_or_dead_lettered(engine, DETECTOR, publisher, "complaints", batch, hostile_id, after_id,
                                         hostile_bytes(name))
    async with engine.connect() as conn:
        assert await load_offsets(conn, DETECTOR) == {(WEBFORMS, 0): 3}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_the_notifier_moves_past_a_hostile_event(engine, name):
    publisher = InMemoryPublisher(topic_prefix=PREFIX)
    handler = EventHandler(engine, Notifier(), [], {})
    step = step_for(handler, publisher, PREFIX, NO_WAIT)
    batch, hostile_id, after_id = records(name)
    for record in [*batch.events, *batch.invalid]:  # one record at a time, as the live agent does
        one = Batch(events=[record]) if isinstance(record, Consumed) else Batch(invalid=[record])
        await step.handle(one)
    await assert_stored_or_dead_lettered(engine, NOTIFIER, publisher, "notifier", batch, hostile_id, after_id,
                                         hostile_bytes(name))
