"""`kill -9` of a consumer in the middle of a backlog, then a restart, on PostgreSQL and a real
Kafka: every complaint and every notification exists exactly once (the projector's timeline is
covered in test_projector_live)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.notifier.tables import notifications
from services.projector.complaints.tables import complaints
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import KafkaPublisher
from tests.complaint_builders import form
from tests.integration.complaint_harness import eventually
from tests.integration.notifier_peers import HttpReceiver
from tests.integration.test_projector_live import stop
from tests.integration.test_notifier_worker import start_worker, stop_worker, worker_env, write_config
from tests.notifier_events import breached, opened

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BACKLOG = 400
WAVES, WAVE = 3, 40  # the sla processor's per-event work is slower: smaller waves


async def count(engine, table) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


def start_sla(settings, db_url: str, config: Path, log: Path) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOUCHPOINT_")}
    env.update(TOUCHPOINT_KAFKA_BOOTSTRAP=settings.bootstrap_servers, TOUCHPOINT_TOPIC_PREFIX=settings.topic_prefix,
               TOUCHPOINT_DATABASE_URL=db_url, TOUCHPOINT_CONFIG=str(config), TOUCHPOINT_DATA_DIR=str(log.parent),
               TOUCHPOINT_SLA_METRICS_PORT="0", TOUCHPOINT_LOG_LEVEL="WARNING")
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "shared.cli", "sla"], env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)


def kill_9(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(30)


async def kill_when_partly_done(process: subprocess.Popen, progress, log: Path) -> int:
    """Waits until some but not all of the backlog is stored, then kills the process with SIGKILL."""
    async def started() -> int:
        if process.poll() is not None:
            raise AssertionError(f"the consumer exited early:\n{log.read_text(errors='replace')[-3000:]}")
        return await progress()

    done = await eventually(started, "the first stored effects", 120)
    kill_9(process)
    return done


async def test_kill_9_of_the_sla_processor_mid_backlog_loses_and_duplicates_no_complaint(
    kafka_settings, postgres_url, tmp_path
):
    config = tmp_path / "touchpoint.toml"
    config.write_text('[[sla.policies]]\nname = "std"\ncalendar = "24/7"\nfirst_response = "1h"\nresolution = "1d"\n')
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    log = tmp_path / "sla.log"
    now = datetime.now(UTC)
    process = None
    try:
        # the processor writes a backlog as one batch: kill it while it writes the last wave
        process = start_sla(kafka_settings, postgres_url, config, log)
        for wave in range(WAVES):
            await publisher.publish([form(now, n=f"k{wave}-{n}", email=f"c{wave}-{n}@example.org") for n in range(WAVE)])
            if wave < WAVES - 1:
                await eventually(lambda: _at_least(engine, (wave + 1) * WAVE), f"wave {wave + 1} stored", 120)
        await asyncio.sleep(0.5)
        kill_9(process)
        interrupted = await count(engine, complaints)
        process = start_sla(kafka_settings, postgres_url, config, log)
        await eventually(lambda: _at_least(engine, WAVES * WAVE), f"{WAVES * WAVE} complaints after the restart", 180)
        await asyncio.sleep(2)  # anything duplicated would land now
        assert await count(engine, complaints) == WAVES * WAVE
        assert interrupted < WAVES * WAVE, "the last wave was written before the kill; nothing was interrupted"
    finally:
        if process is not None:
            stop(process)
        await publisher.stop()
        await engine.dispose()


async def _at_least(engine, expected: int) -> bool:
    return await count(engine, complaints) >= expected


async def test_kill_9_of_the_notifier_mid_backlog_loses_and_duplicates_no_notification(
    kafka_settings, postgres_url, tmp_path
):
    receiver = await HttpReceiver().start()
    config = write_config(tmp_path / "touchpoint.toml", None, receiver.url("/hook"))
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    log = tmp_path / "notifier.log"
    env = worker_env(kafka_settings, postgres_url, config, tmp_path / "var")
    now = datetime.now(UTC)
    worker = None
    try:
        backlog = []
        for n in range(BACKLOG // 2):
            backlog += [opened(complaint_id=f"cmp-{n}", email=f"c{n}@example.org", at=now - timedelta(hours=4)),
                        breached(complaint_id=f"cmp-{n}", at=now)]
        await publisher.publish(backlog)
        worker = start_worker(env, log)
        done = await kill_when_partly_done(worker, lambda: count(engine, notifications), log)
        assert done < BACKLOG // 2, "the backlog was done before the kill; nothing was interrupted"
        worker = start_worker(env, log)

        async def all_planned() -> bool:
            return await count(engine, notifications) >= BACKLOG // 2

        await eventually(all_planned, f"{BACKLOG // 2} notifications after the restart", 240)

        async def settled() -> bool:
            # one being sent when the worker died is reported in doubt, by design not sent again
            return len(_keys(receiver) | await _in_doubt(engine)) >= BACKLOG // 2

        await eventually(settled, "every webhook delivered or reported in doubt", 240)
        await asyncio.sleep(2)
        assert await count(engine, notifications) == BACKLOG // 2
        keys = [r.headers.get("Idempotency-Key") for r in receiver.requests]
        assert len(keys) == len(set(keys)), "a webhook was delivered twice"
        assert len(set(keys) | await _in_doubt(engine)) == BACKLOG // 2
    finally:
        if worker is not None:
            stop_worker(worker)
        await receiver.stop()
        await publisher.stop()
        await engine.dispose()


def _keys(receiver: HttpReceiver) -> set[str]:
    return {r.headers.get("Idempotency-Key") for r in receiver.requests}


async def _in_doubt(engine) -> set[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        rows = await conn.execute(select(notifications.c.notification_id).where(notifications.c.status == "in_doubt"))
    return {row[0] for row in rows}
