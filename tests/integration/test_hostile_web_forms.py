"""Hostile values posted to the public web form route, through the real Kafka, into every
consumer's step on PostgreSQL: whatever the route accepted is either in the view or in that
consumer's dead letter topic, and a normal form posted afterwards is still applied."""

from __future__ import annotations

import json

import httpx
import pytest

from events.topics import Topic, topic_name
from services.ingest.http.app import create_app
from shared.kafka.publisher import KafkaPublisher
from tests.hostile import LONG_ADDRESS, nested
from tests.hostile_consumers import assert_applied_or_dead_lettered
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

    topics = [topic_name(settings.topic_prefix, Topic.WEBFORMS)]
    await assert_applied_or_dead_lettered(settings, postgres_url, topics, accepted.values(), [later])
