"""Hostile values through every webhook channel (CTI, Twilio, AfterShip, generic shipping),
over HTTP into the real Kafka and from there into every consumer on PostgreSQL: no request
gets a 5xx, whatever a route accepted is either in the views or in a dead letter topic, and
the normal requests sent afterwards are applied. (Web forms: test_hostile_web_forms; mail:
tests/e2e/test_hostile_mail; stored events of any shape: test_hostile_events.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import pytest

from events.topics import Topic, topic_name
from services.ingest.http.app import create_app
from services.ingest.telephony.signatures import twilio_signature
from shared.config import FileConfig, Settings, Webhooks
from shared.kafka.publisher import KafkaPublisher
from tests.fixtures import raw
from tests.hostile import nested
from tests.hostile_consumers import assert_applied_or_dead_lettered

pytestmark = pytest.mark.integration

CTI_TOKEN = "cti-token-hostile"
TWILIO_TOKEN = "twilio-token-hostile"
PUBLIC_BASE = "https://hub.example.com"
SECRETS = {"aftership": "aftership-secret-hostile", "generic": "generic-secret-hostile"}
HOSTILE: dict[str, Any] = {
    "nul": "Erika\x00Muster",
    "other C0 controls": "\x01\x07\x1b[31mred\x7f\x0b",
    "lone surrogate": "broken \ud800 pair",
    "over-long": "x" * 200_000,
    "RTL override": "\u202egpj.exe",
}
JSON_ONLY = {"400-level nesting": nested(400)}
Request = tuple[str, bytes, dict[str, str]]


def settings_for(settings: Settings) -> Settings:
    webhooks = Webhooks.model_validate({
        "cti": {"token": CTI_TOKEN},
        "twilio": {"auth_token": TWILIO_TOKEN, "public_base_url": PUBLIC_BASE},
        "shipping": {name: {"secret": secret} for name, secret in SECRETS.items()},
    })
    return settings.model_copy(update={"file": FileConfig(webhooks=webhooks), "default_region": "DE"})


def form_body(fields: list[tuple[str, str]]) -> bytes:
    # a lone surrogate goes out as the bytes a broken client would send (%ED%A0%80)
    return "&".join(f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in fields).encode()


def cti(n: int, value: Any) -> Request:
    fields = [("event", "newCall"), ("from", f"49151{n:08d}"), ("to", "4930555000100"), ("direction", "in"),
              ("callId", f"HOSTILE{n:04d}"), ("user[]", value), ("user[]", "Ben Agent")]
    return (f"/webhooks/telephony/cti?token={CTI_TOKEN}", form_body(fields),
            {"content-type": "application/x-www-form-urlencoded"})


def twilio(n: int, value: Any) -> Request:
    fields = [("CallSid", f"CAhostile{n:026d}"), ("AccountSid", "AC" + "1" * 32), ("From", f"+49151{n:08d}"),
              ("To", "+4930555000100"), ("Direction", "inbound"), ("CallStatus", "no-answer"),
              ("CallerName", value), ("Timestamp", "Mon, 02 Mar 2026 09:15:30 +0000")]
    body = form_body(fields)
    # signed over the parameters as the route decodes them, so that the content is what is judged
    signature = twilio_signature(TWILIO_TOKEN, f"{PUBLIC_BASE}/webhooks/telephony/twilio",
                                 parse_qsl(body.decode(), keep_blank_values=True))
    return ("/webhooks/telephony/twilio", body,
            {"content-type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})


def aftership(n: int, value: Any) -> Request:
    data = json.loads(raw("aftership/tracking_update_exception.json"))
    data["event_id"] = f"5b3c6a1e-8f0d-4c2b-9e7a-{n:012d}"
    msg = data["msg"]
    msg.update(id=f"hostile{n}", tracking_number=f"0034{n:016d}", customer_name=value, title=value,
               emails=[f"hostile{n}@example.org"], custom_fields={"customer_ref": f"K-{n}", "note": value})
    for checkpoint in msg["checkpoints"]:
        checkpoint["message"] = value
    body = json.dumps(data).encode()  # json.dumps writes a lone surrogate as its escape
    digest = base64.b64encode(hmac.new(SECRETS["aftership"].encode(), body, hashlib.sha256).digest()).decode()
    return "/webhooks/shipping/aftership", body, {"content-type": "application/json", "aftership-hmac-sha256": digest}


def generic(n: int, value: Any) -> Request:
    data = json.loads(raw("generic/delivered.json"))
    data.update(event_id=f"hostile-{n}", tracking_number=f"1ZHOSTILE{n:08d}", message=value, location=value,
                email=f"generic{n}@example.org")
    body = json.dumps(data).encode()
    digest = hmac.new(SECRETS["generic"].encode(), body, hashlib.sha256).hexdigest()
    return "/webhooks/shipping/generic", body, {"content-type": "application/json", "X-Touchpoint-Signature": digest}


CHANNELS: dict[str, tuple[Callable[[int, Any], Request], dict[str, Any], Topic]] = {
    "cti": (cti, HOSTILE, Topic.CALLS),
    "twilio": (twilio, HOSTILE, Topic.CALLS),
    "aftership": (aftership, HOSTILE | JSON_ONLY, Topic.SHIPMENTS),
    "generic shipping": (generic, HOSTILE | JSON_ONLY, Topic.SHIPMENTS),
}


async def test_hostile_values_on_every_webhook_channel_end_in_the_views_or_in_dead_letters(kafka_settings, postgres_url):
    settings = settings_for(kafka_settings)
    publisher = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix)
    accepted: dict[tuple[str, str], list[str]] = {}
    later: list[str] = []
    n = 0
    try:
        app = create_app(settings, publisher)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            for channel, (request, values, _topic) in CHANNELS.items():
                for name, value in values.items():
                    n += 1
                    path, body, headers = request(n, value)
                    response = await client.post(path, content=body, headers=headers)
                    assert response.status_code < 500, f"{channel}, {name}: {response.status_code} {response.text[:300]}"
                    if response.status_code == 200:
                        accepted[(channel, name)] = response.json()["event_ids"]
                n += 1
                path, body, headers = request(n, "Anna Agent")
                normal = await client.post(path, content=body, headers=headers)
                assert normal.status_code == 200, f"{channel}: {normal.text}"
                later += normal.json()["event_ids"]
    finally:
        await publisher.stop()
    # a route may clean or refuse a value; these it must take, cleaned
    for channel in CHANNELS:
        assert {(channel, "nul"), (channel, "RTL override")} <= set(accepted), (channel, sorted(accepted))
    assert later
    topics = sorted({topic_name(settings.topic_prefix, topic) for _, _, topic in CHANNELS.values()})
    accepted_ids = [event_id for ids in accepted.values() for event_id in ids]
    await assert_applied_or_dead_lettered(settings, postgres_url, topics, accepted_ids, later)
