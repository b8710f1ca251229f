"""Hostile values posted to the public web form route, through the real Kafka, into every
consumer's step on PostgreSQL: whatever the route accepted is either in the view or in that
consumer's dead letter topic, and a normal form posted afterwards is still applied."""

from __future__ import annotations

import json

import httpx
import pytest

from events.topics import Topic, topic_name
from services.ingest.http.app import create_app
from services.notifier.handler import TRACKING_NAME as NOTIFIER, EventHandler, step_for
from services.projector.complaints.detector import DetectorConfig
from services.projector.complaints.processor import DETECTOR, ComplaintProcessor
from services.projector.consume import BatchProjector
from services.projector.timeline.projection import PROJECTION
from services.projector.timeline.writer import TimelineWriter
from shared.config import Notifier
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import unapplied
from shared.kafka.follower import Backoff, follow_in_bulk
from shared.kafka.publisher import InMemoryPublisher, KafkaPublisher
from tests.hostile import LONG_ADDRESS, nested
from tests.integration.test_hostile_events import RULES, SLA
from tests.integration.test_webhooks_kafka import with_webhooks

pytestmark = pytest.mark.integration
NORMAL = {"name": "Max Beispiel", "email": "max@example.net", "subject": "Parcel damaged",
          "message": "The box arrived crushed.", "topic": "complaint"}
HOSTILE_FIELDS = {
    "nul": {"message": "crushed\x00box", "name": "Max\x00"},
    "nul in the address": {"email": "max\x00@example.net"},
    "other C0 controls": {"message": "\x01\x07\x1b[31mred\x7f", "subject": "\x0b\x0c"},
    "lone surrogate": {"message": "broken \ud800 pair"},
    "over-long address": {"email": LONG_ADDRESS},
    "over-long message": {"message": "x" * 200_000},
    "400-level nesting": {"message": nested(400)},
    "RTL override": {"subject": "\u202egpj.exe", "name": "\u202eakirE"},
}


def body(fields: dict) -> bytes:
    # json.dumps writes lone surrogates as escapes, as a hostile client would send them
    return json.dumps({**NORMAL, **fields}).encode()


async def test_hostile_web_forms_end_in_the_views_or_in_dead_letters_and_later_forms_arrive(
    kafka_settings, postgres_url
):
    settings = with_webhooks(kafka_settings)
    publisher = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix)
    accepted: dict[str, str] = {}
    try:
        app = create_app(settings, publisher)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            for name, fields in HOSTILE_FIELDS.items():
                response = await client.post("/webhooks/forms/contact", content=body(fields),
                                             headers={"content-type": "application/json",
                                                      "Origin": "https://shop.example"})
                assert response.status_code < 500, f"{name}: {response.status_code} {response.text[:300]}"
                if response.status_code == 200:
                    accepted[name] = response.json()["event_ids"][0]
            last = await client.post("/webhooks/forms/contact", content=body({"email": "later@example.net"}),
                                     headers={"content-type": "application/json", "Origin": "https://shop.example"})
            assert last.status_code == 200, last.text
            later = last.json()["event_ids"][0]
        # the route may clean or refuse some values; these two it must take (cleaned or not)
        assert {"nul", "RTL override"} <= set(accepted), sorted(accepted)
    finally:
        await publisher.stop()

    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    webforms = [topic_name(settings.topic_prefix, Topic.WEBFORMS)]
    fast = Backoff(first=0.01, cap=0.05)
    letters = InMemoryPublisher(topic_prefix=settings.topic_prefix)
    consumers = {
        "projector": (PROJECTION, BatchProjector(TimelineWriter(engine), letters, settings.topic_prefix, fast).step),
        "complaints": (DETECTOR, ComplaintProcessor(engine, letters, settings.topic_prefix, RULES,
                                                    DetectorConfig(sla=SLA, rules=RULES), backoff=fast).step),
        "notifier": (NOTIFIER, step_for(EventHandler(engine, Notifier(), [], {}), letters, settings.topic_prefix, fast)),
    }
    try:
        for service, (tracking, step) in consumers.items():
            await follow_in_bulk(settings.bootstrap_servers, webforms, step, {}, client_id=f"test-{service}")
            dead = {(dict(h)["dlq.source_partition"], dict(h)["dlq.source_offset"]) for t, _, _, h in letters.raw
                    if t.endswith(f"deadletter.{service}")}
            async with engine.connect() as conn:
                missing = await unapplied(conn, tracking, [later, *accepted.values()])
            assert later not in missing, f"{service}: the form after the hostile ones was not applied"
            if service == "notifier":
                continue  # it keeps only what its triggers need: not every form leaves a tracking row
            offsets = await _offsets_of(settings, webforms[0], set(missing))
            assert offsets <= dead, f"{service}: {sorted(missing)} neither applied nor dead-lettered"
    finally:
        await engine.dispose()


async def _offsets_of(settings, topic: str, event_ids: set[str]) -> set[tuple[bytes, bytes]]:
    """The source positions (as dead-letter headers spell them) of the records carrying `event_ids`."""
    from shared.kafka.consumer import BatchReader, Consumed

    found: set[tuple[bytes, bytes]] = set()
    async with BatchReader(settings.bootstrap_servers, [topic]) as reader:
        async for batch in reader.batches():
            for item in batch.events:
                if isinstance(item, Consumed) and str(item.event.event_id) in event_ids:
                    found.add((str(item.partition).encode(), str(item.offset).encode()))
    return found
