"""`touchpoint notifier` as deployed: the faust worker in its own process, consuming real
Kafka, delivering to a real SMTP server and HTTP receiver, and killed with SIGKILL at the
worst moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from events import decode
from events.topics import Topic, deadletter_topic, topic_name
from shared.kafka.publisher import KafkaPublisher
from shared.privacy.runtime import install
from tests.infra.ports import free_port
from tests.integration.notifier_peers import HttpReceiver, SmtpPeer, wait_until
from tests.integration.test_kafka_publisher import consume_all
from tests.notifier_events import breached, customer, opened

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def write_config(path: Path, smtp_port: int | None, webhook_url: str | None) -> Path:
    """A notifier config whose one rule sends breaches by mail (when an SMTP port is given)
    and to a webhook (when a URL is given)."""
    smtp = f"""
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
sender = "touchpoint@shop.example"
timeout = 2
""" if smtp_port else ""
    email = 'email = ["lead@shop.example"]' if smtp_port else ""
    webhook = f'webhook = ["{webhook_url}"]' if webhook_url else ""
    path.write_text(f"""{smtp}
[notifier]
retry_initial = 0.2
retry_max = 1
poll_interval = 0.2
webhook_timeout = 2

[[routing.rules]]
name = "breach-lead"
match = {{ type = "sla.breached" }}
{email}
{webhook}
level = 2
""")
    return path


def worker_env(settings, database_url: str, config: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOUCHPOINT_")}
    env.update(
        TOUCHPOINT_KAFKA_BOOTSTRAP=settings.bootstrap_servers,
        TOUCHPOINT_TOPIC_PREFIX=settings.topic_prefix,
        TOUCHPOINT_DATABASE_URL=database_url,
        TOUCHPOINT_CONFIG=str(config),
        TOUCHPOINT_DATA_DIR=str(data_dir),
        TOUCHPOINT_NOTIFIER_METRICS_PORT="0",
        TOUCHPOINT_PUBLIC_URL="https://hub.shop.example",
    )
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "notifier"], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def alive(worker: subprocess.Popen, log: Path):
    def check() -> bool:
        if worker.poll() is not None:
            raise AssertionError(f"the notifier exited with {worker.returncode}:\n{log.read_text()[-3000:]}")
        return True

    return check


async def escalations(settings, expected: int) -> list:
    topic = topic_name(settings.topic_prefix, Topic.ESCALATIONS)
    return [decode(r.value) for r in await consume_all(settings.bootstrap_servers, topic, expected, timeout=5)]


async def test_a_breach_in_kafka_reaches_mail_and_webhook_once_and_is_reported_to_kafka(
    kafka_settings, postgres_url, tmp_path
):
    smtp = SmtpPeer().start()
    receiver = await HttpReceiver().start()
    config = write_config(tmp_path / "touchpoint.toml", smtp.port, receiver.url("/slack"))
    log = tmp_path / "notifier.log"
    metrics_port = free_port()
    env = worker_env(
        kafka_settings, postgres_url, config, tmp_path / "var", TOUCHPOINT_NOTIFIER_METRICS_PORT=str(metrics_port)
    )
    install(kafka_settings.model_copy(update={"database_url": postgres_url}))  # seals and opens as the worker does
    worker = start_worker(env, log)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    complaints_topic = topic_name(kafka_settings.topic_prefix, Topic.COMPLAINTS)
    try:
        await publisher.send_raw(complaints_topic, b"not an event", b"complaint:cmp-1", [])
        now = datetime.now(UTC)  # within notifier.max_trigger_age
        await publisher.publish([customer(), opened(at=now - timedelta(hours=4)), breached(at=now)])
        running = alive(worker, log)
        await wait_until(lambda: running() and smtp.messages and receiver.requests, "mail and webhook", limit=90)

        async def both_reported() -> bool:
            return running() and len(await escalations(kafka_settings, 2)) >= 2

        await wait_until(both_reported, "two escalation.notified events in Kafka", limit=60)
        await publisher.publish([breached(at=now)])  # the same breach again: a quiet duplicate
        reported = await escalations(kafka_settings, 3)
        assert sorted(e.payload.target_kind for e in reported) == ["email", "webhook"]
        assert {e.type for e in reported} == {"escalation.notified"}
        assert smtp.recipients() == ["lead@shop.example"]
        (mail,) = smtp.messages
        assert mail["Message-ID"] == next(e.payload.message_id for e in reported if e.payload.target_kind == "email")
        assert mail["Auto-Submitted"] == "auto-generated"
        assert len(receiver.requests) == 1

        letters = await consume_all(
            kafka_settings.bootstrap_servers, deadletter_topic(kafka_settings.topic_prefix, "notifier"), 1
        )
        assert [r.value for r in letters] == [b"not an event"]
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert 'touchpoint_notifier_sent_total{target_kind="email"} 1.0' in metrics
        assert 'touchpoint_notifier_sent_total{target_kind="webhook"} 1.0' in metrics
    finally:
        await publisher.stop()
        stop_worker(worker)
        smtp.stop()
        await receiver.stop()


async def test_kill_9_between_sending_and_recording_sends_no_second_mail(kafka_settings, postgres_url, tmp_path):
    smtp = SmtpPeer().start()
    config = write_config(tmp_path / "touchpoint.toml", smtp.port, None)
    log = tmp_path / "notifier.log"
    paused = tmp_path / "paused-after-send"
    env = worker_env(kafka_settings, postgres_url, config, tmp_path / "var")
    install(kafka_settings.model_copy(update={"database_url": postgres_url}))  # seals and opens as the worker does
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    worker = start_worker({**env, "TOUCHPOINT_NOTIFIER_PAUSE_AFTER_SEND": str(paused)}, log)
    try:
        now = datetime.now(UTC)
        await publisher.publish([opened(complaint_id="cmp-1", at=now), breached(complaint_id="cmp-1", at=now)])
        running = alive(worker, log)
        await wait_until(lambda: running() and paused.exists(), "the mail handed over", limit=90)
        assert len(smtp.messages) == 1
        worker.kill()  # SIGKILL: the outcome is never recorded
        worker.wait()

        worker = start_worker(env, log)
        running = alive(worker, log)
        await publisher.publish([opened(complaint_id="cmp-2", at=now), breached(complaint_id="cmp-2", at=now)])
        await wait_until(lambda: running() and len(smtp.messages) >= 2, "the next breach delivered", limit=120)

        async def first_reported_in_doubt() -> bool:
            running()
            return any(e.payload.in_doubt for e in await escalations(kafka_settings, 2))

        await wait_until(first_reported_in_doubt, "cmp-1 reported as in doubt", limit=60)
        subjects = sorted(str(m["Subject"]) for m in smtp.messages)
        assert [s.split(": ")[1] for s in subjects] == ["cmp-1", "cmp-2"]  # cmp-1 exactly once
        reported = {e.payload.complaint_id: e for e in await escalations(kafka_settings, 2)}
        assert reported["cmp-1"].payload.in_doubt and not reported["cmp-2"].payload.in_doubt
        assert reported["cmp-1"].payload.message_id == str(smtp.messages[0]["Message-ID"])
    finally:
        await publisher.stop()
        stop_worker(worker)
        smtp.stop()


def test_an_unusable_routing_rule_stops_the_notifier_with_a_one_line_reason(tmp_path):
    config = tmp_path / "touchpoint.toml"
    config.write_text(
        '[[routing.rules]]\nname = "odd"\nmatch = { colour = "red" }\nwebhook = ["https://hooks.example/x"]\n'
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOUCHPOINT_")}
    env.update(TOUCHPOINT_CONFIG=str(config), TOUCHPOINT_DATA_DIR=str(tmp_path / "var"))
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", "notifier"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "touchpoint: routing.rules[0] (odd): match.colour: unknown key; use one of type, kind, priority, segment, "
        "channel, team"
    ]
