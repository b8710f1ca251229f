"""`touchpoint rebuild consents`: empties the consent read model and replays the consents and
customers topics from offset 0 through the same step and writer, with a progress bar. Stop
the projector first (its consent member writes the same tables)."""

from __future__ import annotations

import asyncio

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from services.projector.consent.tables import consent_erased_subjects, consent_history, consent_states
from services.projector.consent.writer import PROJECTION, ConsentWriter, consent_step, consent_topics
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
    publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-rebuild-consents")
    read = 0
    try:
        await publisher.start()  # dead letters of undecodable records
        async with engine.begin() as conn:
            await conn.execute(consent_history.delete())
            await conn.execute(consent_states.delete())
            await conn.execute(consent_erased_subjects.delete())
            await forget(conn, PROJECTION)
        step = consent_step(ConsentWriter(engine), publisher, settings.topic_prefix)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      disable=not show_progress) as progress:
            task = progress.add_task("rebuild consents", total=None)

            def advance(done: int, remaining: int) -> None:
                nonlocal read
                if done == 0:
                    progress.update(task, total=remaining)
                read += done
                progress.advance(task, done)

            await follow_in_bulk(settings.bootstrap_servers, consent_topics(settings.topic_prefix), step, {},
                                 client_id="touchpoint-rebuild-consents", progress=advance,
                                 client_options=client_options(settings))
    finally:
        await publisher.stop()
        await engine.dispose()
    return read
