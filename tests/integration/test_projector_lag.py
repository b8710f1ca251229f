"""`touchpoint lag` with the real projector process: the projector's group lag rises while the
projector is stopped and events keep coming, and falls back to zero once it runs again."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from services.projector.main import group_id
from shared.kafka.lag import consumer_lag
from shared.kafka.publisher import KafkaPublisher
from tests import timeline_factories as f
from tests.integration.test_projector_live import ROOT, start_projector, stop, wait_for

pytestmark = pytest.mark.integration


def lag_command(settings) -> list[dict]:
    """`touchpoint lag --json`, as an operator runs it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOUCHPOINT_")}
    env.update(TOUCHPOINT_KAFKA_BOOTSTRAP=settings.bootstrap_servers, TOUCHPOINT_TOPIC_PREFIX=settings.topic_prefix)
    done = subprocess.run([sys.executable, "-m", "shared.cli", "lag", "--json"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def projector_lag(rows: list[dict], settings) -> int:
    return sum(row["lag"] for row in rows if row["group"] == group_id(settings))


async def group_lag(settings) -> int | None:
    """The projector group's total lag, None while the group has committed nothing."""
    rows = [r for r in await consumer_lag(settings.bootstrap_servers, settings.topic_prefix)
            if r.group == group_id(settings)]
    return sum(r.lag for r in rows) if rows else None


def mails(start: int, n: int) -> list:
    return [f.mail(i, "erika@example.org", i) for i in range(start, start + n)]


async def test_lag_rises_while_the_projector_is_stopped_and_falls_after_it_restarts(kafka_settings, db_url):
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    process = start_projector(kafka_settings, db_url)
    try:
        await publisher.publish(mails(0, 3))

        async def caught_up() -> bool:
            return await group_lag(kafka_settings) == 0

        await wait_for(caught_up, "the projector committing its first events", process, kafka_settings)
        stop(process)
        assert projector_lag(lag_command(kafka_settings), kafka_settings) == 0

        await publisher.publish(mails(100, 5))
        first = projector_lag(lag_command(kafka_settings), kafka_settings)
        await publisher.publish(mails(200, 7))
        second = projector_lag(lag_command(kafka_settings), kafka_settings)
        assert (first, second) == (5, 12)

        process = start_projector(kafka_settings, db_url)
        await wait_for(caught_up, "the lag falling back to zero after the restart", process, kafka_settings)
        rows = lag_command(kafka_settings)
        assert projector_lag(rows, kafka_settings) == 0
        assert {row["topic"] for row in rows if row["group"] == group_id(kafka_settings)}  # it is listed, at 0
    finally:
        stop(process)
        await publisher.stop()
