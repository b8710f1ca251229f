"""`touchpoint projector`: the live path, a Faust agent per batch of records.

Start-up: migrations, topics, then a bulk catch-up from the offsets stored with the read model
(aiokafka directly, fast), then the group's committed offsets are moved up to those positions
so the agent does not re-read what is applied. All of it is the shared follower
(`shared/kafka/follower.py`): records → decode → the projector's `LogStep` (dead letters,
retries) → the timeline writer (pure apply + one transaction with tracking and positions).
Offsets are committed to Kafka by Faust only after a batch is written; anything redelivered
is skipped as applied."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import faust

from services.projector.catchup import catch_up, interaction_topics
from services.projector.consume import BatchProjector
from services.projector.timeline.projection import PROJECTION
from services.projector.timeline.writer import TimelineWriter
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import load_offsets
from shared.kafka.follower import LogStep, align_group, batch_agent
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.topics import ensure_for
from shared.kafka.security import client_options, faust_credentials
from shared.logging import configure_logging
from shared.status_http import serve_status

log = logging.getLogger("touchpoint.projector")
Position = tuple[str, int]
BATCH = 500
WITHIN_SECONDS = 0.05


def group_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}projector"


@dataclass
class Runtime:
    """Clients built at start-up (never at import) and closed at shutdown."""

    settings: Settings
    projector: BatchProjector | None = None
    closers: list = field(default_factory=list)

    async def start(self) -> BatchProjector:
        if self.projector is None:
            engine = make_engine(self.settings.db_url)
            publisher = KafkaPublisher.for_settings(self.settings, client_id="touchpoint-projector")
            await publisher.start()
            self.closers += [publisher.stop, engine.dispose]
            self.projector = BatchProjector(TimelineWriter(engine), publisher, self.settings.topic_prefix)
        return self.projector

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()
        self.closers.clear()
        self.projector = None


def build_app(settings: Settings, runtime: Runtime) -> faust.App:
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust makes its own folder, not the parents
    app = faust.App(
        group_id(settings),
        broker=[f"kafka://{server}" for server in settings.bootstrap_servers.split(",")],
        broker_credentials=faust_credentials(settings),
        store="memory://",
        web_enabled=False,
        topic_disable_leader=True,
        datadir=str(settings.data_dir / "faust"),
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=10,
        broker_heartbeat_interval=2,
        stream_wait_empty=False,
    )
    source = app.topic(*interaction_topics(settings), value_type=bytes, key_type=bytes,
                       value_serializer="raw", key_serializer="raw")

    async def step() -> LogStep:
        return (await runtime.start()).step

    batch_agent(app, source, step, BATCH, WITHIN_SECONDS, name="project", on_stop=runtime.close)

    return app


async def prepare(settings: Settings) -> None:
    """Migrations, topics, bulk catch-up, and the group's offsets moved up to the tracked ones."""
    await upgrade_async(settings.db_url)
    await ensure_for(settings)
    runtime = Runtime(settings)
    try:
        projector = await runtime.start()
        async with projector.writer.engine.connect() as conn:
            stored = await load_offsets(conn, PROJECTION)
        reached = await catch_up(settings, projector, stored)
    finally:
        await runtime.close()
    await align_group(settings.bootstrap_servers, group_id(settings), reached, client_options(settings))


def run(settings: Settings) -> None:
    configure_logging("projector", settings.log_level)
    serve_status("projector", settings, settings.projector_metrics_port)
    asyncio.run(prepare(settings))
    runtime = Runtime(settings)
    app = build_app(settings, runtime)
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
