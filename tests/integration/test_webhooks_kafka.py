"""Webhooks over HTTP into the real Kafka: what the route acknowledged can be consumed, and
while Kafka is down the route answers 503 so that the provider's retry, once Kafka is back,
stores the event (nothing lost, nothing acknowledged early)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from urllib.parse import parse_qsl

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer

from events import decode
from events.topics import Topic, topic_name
from services.ingest.http.app import create_app
from services.ingest.telephony.signatures import twilio_signature
from shared.config import FileConfig, Settings, Webhooks
from shared.kafka.local_broker import LocalBroker
from tests.infra.ports import free_port
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.topics import ensure_for
from shared.privacy.runtime import install
from tests.fixtures import raw

pytestmark = pytest.mark.integration

CTI_TOKEN = "cti-token-integration"
TWILIO_TOKEN = "twilio-token-integration"
AFTERSHIP_SECRET = "aftership-secret-integration"
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


def with_webhooks(settings: Settings) -> Settings:
    webhooks = Webhooks.model_validate({
        "cti": {"token": CTI_TOKEN},
        "twilio": {"auth_token": TWILIO_TOKEN, "public_base_url": "https://hub.example.com"},
        "forms": {"contact": {"required": ["email", "message"], "allowed_origins": ["https://shop.example"]}},
        "shipping": {"aftership": {"secret": AFTERSHIP_SECRET}},
    })
    return settings.model_copy(update={"file": FileConfig(webhooks=webhooks), "default_region": "DE"})


async def consume(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    events = []
    deadline = time.monotonic() + timeout
    try:
        while len(events) < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                events.extend(decode(record.value) for record in records)
    finally:
        await consumer.stop()
    return events


async def test_every_webhook_source_reaches_kafka_and_can_be_consumed(kafka_settings):
    settings = with_webhooks(kafka_settings)
    publisher = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix)
    app = create_app(settings, publisher)
    twilio_body = raw("twilio/status_completed.form")
    twilio_headers = {**FORM, "X-Twilio-Signature": twilio_signature(
        TWILIO_TOKEN, "https://hub.example.com/webhooks/telephony/twilio", parse_qsl(twilio_body.decode(), keep_blank_values=True))}
    aftership_body = raw("aftership/tracking_update_exception.json")
    aftership_headers = {**JSON, "aftership-hmac-sha256": base64.b64encode(
        hmac.new(AFTERSHIP_SECRET.encode(), aftership_body, hashlib.sha256).digest()).decode()}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            cti = await client.post(f"/webhooks/telephony/cti?token={CTI_TOKEN}",
                                    content=raw("sipgate/newcall_inbound.form"), headers=FORM)
            twilio = await client.post("/webhooks/telephony/twilio", content=twilio_body, headers=twilio_headers)
            webform = await client.post("/webhooks/forms/contact", content=raw("webforms/complaint.json"),
                                        headers={**JSON, "Origin": "https://shop.example"})
            shipment = await client.post("/webhooks/shipping/aftership", content=aftership_body,
                                         headers=aftership_headers)
    finally:
        await publisher.stop()
    for response in (cti, twilio, webform, shipment):
        assert response.status_code == 200, response.text

    calls = await consume(settings.bootstrap_servers, topic_name(settings.topic_prefix, Topic.CALLS), 2)
    assert {str(e.event_id) for e in calls} == {*cti.json()["event_ids"], *twilio.json()["event_ids"]}
    started = next(e for e in calls if e.type == "call.started")
    assert started.payload.users == ("Anna Agent", "Ben Agent")
    ended = next(e for e in calls if e.type == "call.ended")
    assert (ended.payload.disposition, ended.payload.duration_seconds) == ("answered", 184)

    [form_event] = await consume(settings.bootstrap_servers, topic_name(settings.topic_prefix, Topic.WEBFORMS), 1)
    assert form_event.payload.topic == "complaint"
    assert str(form_event.event_id) == webform.json()["event_ids"][0]

    [parcel] = await consume(settings.bootstrap_servers, topic_name(settings.topic_prefix, Topic.SHIPMENTS), 1)
    assert parcel.payload.status == "returned"
    assert parcel.contact.order_ref == "A-1001"


@pytest.fixture
async def own_broker(tmp_path):
    """A broker of this test's own, so stopping it leaves the session broker alone."""
    broker = LocalBroker(data_dir=tmp_path / "kafka", port=free_port(), controller_port=free_port(), heap="384m")
    await asyncio.to_thread(broker.start, 120)
    yield broker
    await asyncio.to_thread(broker.stop)


async def serve(app, port: int) -> tuple[uvicorn.Server, asyncio.Task]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on",
                                           http="httptools"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    return server, task


def call(call_id: str) -> bytes:
    return f"event=newCall&callId={call_id}&direction=in&from=4915112345678&to=4930555000100".encode()


async def test_kafka_down_means_503_and_the_providers_retry_stores_the_event(own_broker, settings_factory):
    settings = with_webhooks(settings_factory(kafka_bootstrap=own_broker.bootstrap, topic_partitions=1))
    await ensure_for(settings)
    publisher = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix, request_timeout_ms=3000)
    port = free_port()
    server, task = await serve(create_app(settings, publisher), port)
    url = f"http://127.0.0.1:{port}/webhooks/telephony/cti?token={CTI_TOKEN}"
    before, during = f"before-{uuid.uuid4().hex[:6]}", f"during-{uuid.uuid4().hex[:6]}"
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            accepted = await client.post(url, content=call(before), headers=FORM)
            assert accepted.status_code == 200

            await asyncio.to_thread(own_broker.stop)
            refused = await client.post(url, content=call(during), headers=FORM)
            assert refused.status_code == 503
            assert refused.json()["error"] == "kafka_unavailable"
            assert int(refused.headers["retry-after"]) > 0

            await asyncio.to_thread(own_broker.start, 120)
            # the provider retries (Retry-After is honoured by real providers; here, promptly)
            for _ in range(10):
                retried = await client.post(url, content=call(during), headers=FORM)
                if retried.status_code == 200:
                    break
                assert retried.status_code == 503
            assert retried.status_code == 200
    finally:
        server.should_exit = True
        await task
    events = await consume(settings.bootstrap_servers, topic_name(settings.topic_prefix, Topic.CALLS), 2)
    assert {e.payload.call_id for e in events} >= {before, during}
    # a write that was in flight during the outage may land too: then it is the same event
    assert {str(e.event_id) for e in events if e.payload.call_id == during} == set(retried.json()["event_ids"])


async def test_touchpoint_ingest_creates_topics_serves_and_stops_on_sigint(kafka_bootstrap, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    config = tmp_path / "touchpoint.toml"
    config.write_text(f'[webhooks.cti]\ntoken = "{CTI_TOKEN}"\n')
    port = free_port()
    prefix = f"t{uuid.uuid4().hex[:10]}."
    env = {**os.environ, "TOUCHPOINT_KAFKA_BOOTSTRAP": kafka_bootstrap, "TOUCHPOINT_INGEST_PORT": str(port),
           "TOUCHPOINT_CONFIG": str(config), "TOUCHPOINT_TOPIC_PREFIX": prefix, "TOUCHPOINT_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "shared.cli", "ingest"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(300):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    assert process.poll() is None, process.stderr.read().decode()
                await asyncio.sleep(0.1)
            response = await client.post(f"/webhooks/telephony/cti?token={CTI_TOKEN}", content=call("cli-1"),
                                         headers=FORM)
            assert response.status_code == 200, response.text
    finally:
        process.send_signal(signal.SIGINT)
        exit_code = await asyncio.to_thread(process.wait, 30)
    assert exit_code == 0
    log = process.stderr.read().decode()
    assert "Traceback" not in log, log[-3000:]  # a stop on request is not an error
    install(Settings(data_dir=tmp_path))  # opens what `touchpoint ingest` sealed (its data folder's keys)
    [event] = await consume(kafka_bootstrap, topic_name(prefix, Topic.CALLS), 1)
    assert event.payload.call_id == "cli-1"
