"""`touchpoint rebuild timeline` replays the log into fresh tables and swaps them in: the
result equals what the live projector built, row by row, and tracking is handed over."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from services.projector.catchup import catch_up
from services.projector.consume import BatchProjector
from services.projector.timeline.projection import PROJECTION
from services.projector.timeline.tables import TIMELINE
from services.projector.timeline.writer import TimelineWriter
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import load_offsets
from shared.kafka.publisher import KafkaPublisher
from tests import timeline_factories as f
from tests.integration.test_projector_live import ROOT, applied_all, count, start_projector, stop, wait_for

pytestmark = pytest.mark.integration
PHONE, SHARED, STRANGER = "+4915112345678", "+4930111222", "+4930999888"


def history():
    events = [
        f.mail(0, "erika@example.org", 0),  # before her master data exists
        f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=(PHONE,)),
        f.registered("K-2", "Max", phones=(SHARED,)),
        f.registered("K-3", "Moritz", phones=(SHARED,)),
        f.call("started", "x1", STRANGER, 1), f.call("ended", "x1", STRANGER, 2, disposition="missed"),
        f.linked("phone", STRANGER, "K-1", minute=3),
        f.call("started", "s1", SHARED, 4),
        f.complaint_responded("CP1", 6), f.complaint_opened("CP1", 5, email="erika@example.org"),
        f.sla_breached("CP1", 7),
    ]
    for n in range(1, 40):
        events += [f.mail(n, "erika@example.org", 10 + n), f.form(n, f"lead{n % 5}@example.org", 10 + n),
                   f.parcel(f"TN{n % 4}", ["label_created", "in_transit", "delivered"][n % 3], 10 + n,
                            email="erika@example.org"),
                   f.call("started", f"c{n}", PHONE, 10 + n), f.call("ended", f"c{n}", PHONE, 10.5 + n,
                                                                     disposition="answered", duration_seconds=n)]
    events += [f.linked("phone", STRANGER, "K-1", minute=90, unlink=True),
               f.registered("K-1", "Erika Muster", emails=("erika@example.org", "e@example.com"), minute=91, version="2")]
    return events


async def snapshot(engine) -> dict[str, list[tuple]]:
    """Every row of the read model. Of the entry versions only the newest of each entry: the
    older ones record the order in which events were applied, and a replay reads the topics'
    partitions in another order than the live projector met them."""
    found = {}
    async with engine.connect() as conn:
        for table in TIMELINE.read_model():
            rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
            found[table.name] = [tuple(row) for row in rows]
    newest = {row[0]: row[:-1] for row in found.pop(TIMELINE.versions.name)}  # ordered by (id, version_at)
    found["newest versions"] = sorted(newest.values())
    return found


def rebuild_cli(settings, db_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOUCHPOINT_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
           "TOUCHPOINT_TOPIC_PREFIX": settings.topic_prefix, "TOUCHPOINT_DATABASE_URL": db_url,
           "TOUCHPOINT_DATA_DIR": str(settings.data_dir)}
    return subprocess.run([sys.executable, "-m", "shared.cli", "rebuild", "timeline"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


async def test_rebuild_equals_the_live_projection_row_by_row(kafka_settings, db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    events = history()
    process = start_projector(kafka_settings, db_url)
    try:
        for start in range(0, len(events), 25):  # live: arrives in several polls
            await publisher.publish(events[start : start + 25])
        await wait_for(lambda: applied_all(engine, len(events)), "the live projection", process, kafka_settings)
        stop(process)
        live = await snapshot(engine)
        assert all(live.values())
        assert live["newest versions"] == live[TIMELINE.entries.name]  # the newest version is the entry

        done = rebuild_cli(kafka_settings, db_url)
        assert done.returncode == 0, done.stderr
        assert "rebuilding timeline" in done.stdout + done.stderr

        assert await snapshot(engine) == live
        async with engine.connect() as conn:
            offsets = await load_offsets(conn, PROJECTION)
            assert await load_offsets(conn, f"{PROJECTION}__rebuild") == {}
        assert await count(engine, TIMELINE.applied) == len(events)

        # tracking was handed over: the next catch-up applies only what is new
        extra = f.mail(500, "erika@example.org", 500)
        await publisher.publish([extra])
        projector = BatchProjector(TimelineWriter(engine), publisher, kafka_settings.topic_prefix)
        await catch_up(kafka_settings, projector, offsets)
        assert await count(engine, TIMELINE.applied) == len(events) + 1
    finally:
        stop(process)
        await publisher.stop()
        await engine.dispose()


def test_rebuild_of_an_unknown_projection_is_refused_naming_the_known_ones(settings_factory):
    settings = settings_factory(kafka_bootstrap="127.0.0.1:1")
    env = {**os.environ, "TOUCHPOINT_KAFKA_BOOTSTRAP": "127.0.0.1:1", "TOUCHPOINT_DATA_DIR": str(settings.data_dir)}
    done = subprocess.run([sys.executable, "-m", "shared.cli", "rebuild", "nonsense"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    # bad usage: exit status 2 (CONTRACT), and the message names what can be rebuilt
    assert done.returncode == 2
    assert "unknown projection 'nonsense'" in done.stderr and "timeline, sla, callbacks, consents, audit, all" in done.stderr
