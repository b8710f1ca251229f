"""One correlation id from a webhook to the escalation it ends in, against real Kafka and
PostgreSQL: the ingest app captures a complaint form, the complaints service opens the
complaint and breaches its SLA, and `touchpoint notifier` (its own process) mails the lead
and reports it. Every event of the chain, and the notifier's JSON log, carry the id."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from events import decode
from events.topics import Topic, topic_name
from services.ingest.http.app import create_app
from shared.kafka.publisher import KafkaPublisher
from shared.logging import JsonFormatter
from shared.privacy.runtime import install
from tests.fixtures import raw
from tests.integration.complaint_harness import Running, complaint_log, configure, eventually
from tests.integration.notifier_peers import SmtpPeer, wait_until
from tests.integration.test_kafka_publisher import consume_all
from tests.integration.test_notifier_worker import alive, start_worker, stop_worker, worker_env, write_config

pytestmark = pytest.mark.integration

FILE = {
    "webhooks": {"forms": {"complaints": {"required": ["email", "message"], "topic": "complaint"}}},
    "sla": {
        "timezone": "Europe/Berlin",
        "policies": [{"name": "standard", "calendar": "24/7", "first_response": "4h", "resolution": "3d"}],
    },
}


@contextmanager
def json_log() -> Iterator[io.StringIO]:
    """What this process logs meanwhile (ingest and the complaints service run in it), as the
    JSON lines the services write."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("test"))
    root, level = logging.getLogger(), logging.getLogger().level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def correlated(lines: str, correlation_id: str) -> list[str]:
    """The messages of the JSON lines that carry `correlation_id` (a worker's output may put
    a terminal control sequence in front of a line)."""
    entries = [orjson.loads(line[line.index('{"ts"'):]) for line in lines.splitlines() if '{"ts"' in line]
    return [entry["msg"] for entry in entries if entry.get("correlation_id") == correlation_id]


async def escalations(settings) -> list:
    topic = topic_name(settings.topic_prefix, Topic.ESCALATIONS)
    return [decode(r.value) for r in await consume_all(settings.bootstrap_servers, topic, 1, timeout=3)]


async def submit_form(settings, received_at: datetime) -> tuple[str, httpx.Response]:
    publisher = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix)
    app = create_app(settings.model_copy(update={"default_region": "DE"}), publisher, clock=lambda: received_at)
    await publisher.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            answer = await client.post("/webhooks/forms/complaints", content=raw("webforms/complaint.json"),
                                       headers={"content-type": "application/json", "X-Request-ID": "req-chain-1"})
    finally:
        await publisher.stop()
    assert answer.status_code == 200, answer.text
    [event_id] = answer.json()["event_ids"]
    return event_id, answer


async def test_a_webhook_its_complaint_the_breach_and_the_escalation_share_one_correlation_id(
    kafka_settings, postgres_url, tmp_path
):
    settings = configure(kafka_settings, postgres_url, FILE)
    install(settings)  # this process seals and opens as the notifier worker (same data folder) does
    hub = await Running(settings).start()
    smtp = SmtpPeer().start()
    log = tmp_path / "notifier.log"
    worker = start_worker(worker_env(settings, postgres_url, write_config(tmp_path / "n.toml", smtp.port, None),
                                     tmp_path / "var"), log)
    try:
        with json_log() as in_process:
            # received 4 h 1 min ago: the 4 h first response clock breached a minute ago
            form_id, answer = await submit_form(settings, datetime.now(UTC) - timedelta(hours=4, minutes=1))
            assert answer.headers["X-Request-ID"] == "req-chain-1"

            async def breached() -> list:
                return [e for e in await complaint_log(settings) if e.type == "sla.breached"]

            await eventually(breached, "the SLA breach", deadline=60)
            running = alive(worker, log)

            async def reported() -> list:
                return running() and [e for e in await escalations(settings) if e.type == "escalation.notified"]

            await wait_until(reported, "the escalation report", limit=90)
            [notified] = await reported()
            chain = await complaint_log(settings)
    finally:
        stop_worker(worker)
        smtp.stop()
        await hub.close()

    [opened] = [e for e in chain if e.type == "complaint.opened"]
    breaches = [e for e in chain if e.type == "sla.breached"]
    assert (opened.correlation_id, opened.causation_id) == (form_id, form_id)
    assert {e.correlation_id for e in chain} == {form_id}
    assert breaches
    assert notified.correlation_id == form_id
    assert notified.causation_id in {str(e.event_id) for e in breaches}
    assert smtp.recipients() == ["lead@shop.example"]

    # ingest and the complaints service (in this process), the notifier (its own) log the chain
    ingest_and_sla = correlated(in_process.getvalue(), form_id)
    assert "captured webform.submitted" in ingest_and_sla
    assert any(msg.startswith("complaint.opened for complaint") for msg in ingest_and_sla), ingest_and_sla
    assert any(msg.startswith("sla.breached of complaint") for msg in ingest_and_sla), ingest_and_sla
    notifier = correlated(log.read_text(), form_id)
    assert any(" planned by rule breach-lead" in msg for msg in notifier), log.read_text()[-3000:]
    assert any(msg.endswith("sent to email") for msg in notifier), log.read_text()[-3000:]
