"""`touchpoint rebuild audit`: empties the access audit's table and replays the `audit` topic
from its beginning through the same step and writer as the live path. Stop `touchpoint
projector` first (or rows read meanwhile show up once it catches up again)."""

from __future__ import annotations

import asyncio

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from services.projector.audit.follow import audit_step, audit_topics
from services.projector.audit.projection import PROJECTION
from services.projector.audit.tables import access_audit
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import forget
from shared.kafka.follower import follow_in_bulk
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.security import client_options
from shared.kafka.topics import ensure_for


def rebuild(settings: Settings, _recompute: bool = False) -> int:
    """Synchronous entry for the CLI; returns the number of records read."""
    return asyncio.run(rebuild_async(settings))


async def rebuild_async(settings: Settings, show_progress: bool = True) -> int:
    await upgrade_async(settings.db_url)
    await ensure_for(settings)
    engine = make_engine(settings.db_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-rebuild-audit")  # dead letters
    read = 0
    try:
        await publisher.start()
        async with engine.begin() as conn:
            await conn.execute(access_audit.delete())
            await forget(conn, PROJECTION)
        with Progress(TextColumn("rebuild audit"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      disable=not show_progress) as progress:
            task = progress.add_task("replay", total=None)

            def advance(done: int, remaining: int) -> None:
                nonlocal read
                if done == 0:
                    progress.update(task, total=remaining)
                read += done
                progress.advance(task, done)

            await follow_in_bulk(settings.bootstrap_servers, audit_topics(settings),
                                 audit_step(engine, publisher, settings.topic_prefix), {},
                                 client_id="touchpoint-rebuild-audit", progress=advance,
                                 client_options=client_options(settings))
    finally:
        await publisher.stop()
        await engine.dispose()
    return read
