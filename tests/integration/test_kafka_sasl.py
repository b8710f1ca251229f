"""Touchpoint's Kafka clients against a broker that only accepts SASL (SCRAM and PLAIN) on its
client listener, as managed clusters do: topic creation, publishing, reading, lag and the
projector's Faust worker all sign in with the configured mechanism; a wrong password is a clear
refusal, not a hang."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from events.topics import Topic, topic_name
from services.projector.timeline.tables import TIMELINE
from shared.config import Settings
from shared.db.engine import make_engine
from shared.kafka.consumer import BatchReader
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.lag import consumer_lag
from shared.kafka.local_broker import LocalBroker
from tests.infra.ports import free_port, free_port_run
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.security import client_options
from shared.kafka.topics import ensure_for
from tests.integration.test_projector_live import ROOT, stop, wait_for
from tests.timeline_factories import form

pytestmark = pytest.mark.integration

USER, PASSWORD = "touchpoint", "s3cret-for-the-test-broker"


@pytest.fixture(scope="module")
def sasl_broker(session_dir: Path) -> Iterator[LocalBroker]:
    port = free_port_run(2)  # the broker talks to itself on the port above its client port
    broker = LocalBroker(data_dir=session_dir / "kafka-sasl", port=port, controller_port=free_port(), heap="384m",
                         sasl_users=((USER, PASSWORD),))
    broker.start(wait_seconds=120)
    yield broker
    broker.stop(wait_seconds=0)


def sasl_settings(broker: LocalBroker, tmp_path: Path, mechanism: str, password: str = PASSWORD) -> Settings:
    return Settings(
        data_dir=tmp_path / "var", kafka_bootstrap=broker.bootstrap, topic_prefix=f"sasl{mechanism[-3:]}.",
        topic_partitions=2, kafka_request_timeout_ms=8000, kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism=mechanism, kafka_sasl_username=USER, kafka_sasl_password=password,
    )


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
async def test_every_client_signs_in_with_the_configured_mechanism(sasl_broker, tmp_path, mechanism):
    settings = sasl_settings(sasl_broker, tmp_path, mechanism)
    await ensure_for(settings)
    publisher = KafkaPublisher.for_settings(settings, client_id="sasl-test")
    await publisher.start()
    try:
        await publisher.publish([form(n, f"sasl-{n}@example.com", minute=n) for n in range(3)])
    finally:
        await publisher.stop()
    forms = topic_name(settings.topic_prefix, Topic.WEBFORMS)
    async with BatchReader(settings.bootstrap_servers, [forms], client_options=client_options(settings),
                           group_id=f"{settings.topic_prefix}readers") as reader:
        read = [change.event async for batch in reader.batches() for change in batch.events]
    assert sorted(event.contact.email for event in read) == [f"sasl-{n}@example.com" for n in range(3)]
    lag = await consumer_lag(settings.bootstrap_servers, settings.topic_prefix, client_options(settings))
    assert isinstance(lag, list)


async def test_a_wrong_password_is_refused_with_a_clear_error(sasl_broker, tmp_path):
    settings = sasl_settings(sasl_broker, tmp_path, "SCRAM-SHA-256", password="not-the-password")
    publisher = KafkaPublisher.for_settings(settings, client_id="sasl-test")
    with pytest.raises(KafkaUnavailable):
        await publisher.start()


async def test_the_projector_worker_projects_through_a_sasl_listener(sasl_broker, tmp_path, postgres_url):
    settings = sasl_settings(sasl_broker, tmp_path, "SCRAM-SHA-512")
    await ensure_for(settings)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOUCHPOINT_")}
    password_file = tmp_path / "kafka-password"
    password_file.write_text(PASSWORD + "\n")
    env.update(
        TOUCHPOINT_KAFKA_BOOTSTRAP=settings.bootstrap_servers, TOUCHPOINT_TOPIC_PREFIX=settings.topic_prefix,
        TOUCHPOINT_DATABASE_URL=postgres_url, TOUCHPOINT_DATA_DIR=str(settings.data_dir),
        TOUCHPOINT_PROJECTOR_METRICS_PORT="0", TOUCHPOINT_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        TOUCHPOINT_KAFKA_SASL_MECHANISM="SCRAM-SHA-512", TOUCHPOINT_KAFKA_SASL_USERNAME=USER,
        TOUCHPOINT_KAFKA_SASL_PASSWORD_FILE=str(password_file),
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = open(settings.data_dir / "projector.log", "ab")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen([sys.executable, "-m", "shared.cli", "projector"], env=env, cwd=ROOT,
                               stdout=log, stderr=log)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="sasl-test")
    try:
        await publisher.start()
        await publisher.publish([form(n, "erika@example.org", minute=n) for n in range(4)])

        async def projected() -> bool:
            try:
                async with engine.connect() as conn:
                    return (await conn.scalar(select(func.count()).select_from(TIMELINE.entries))) == 4
            except Exception:  # not migrated yet
                return False

        await wait_for(projected, "the forms reaching the timeline", process, settings)
    finally:
        await publisher.stop()
        stop(process)
        await engine.dispose()
    assert PASSWORD not in (settings.data_dir / "projector.log").read_text(errors="replace")
