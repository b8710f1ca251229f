"""`touchpoint rebuild callbacks`: empties the callback queue and replays the callbacks topic
from the start, with a progress bar.

Nothing is decided or published again: the callback events in the log are the record. What
the decisions remember (missed calls in their grace time, when each number last reached us)
stays, as it belongs to the calls already read."""

from __future__ import annotations

import asyncio

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from services.projector.callbacks import store
from services.projector.callbacks.processor import PROJECTION, callbacks_topic, project
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import forget, store_offsets
from shared.kafka.consumer import BatchReader
from shared.kafka.security import client_options


def rebuild(settings: Settings, _recompute: bool = False) -> int:
    """Synchronous entry for the CLI; returns the number of records read."""
    return asyncio.run(rebuild_async(settings))


async def rebuild_async(settings: Settings, show_progress: bool = True) -> int:
    await upgrade_async(settings.db_url)
    engine = make_engine(settings.db_url)
    read = 0
    try:
        async with engine.begin() as conn:
            await store.drop_view(conn)
            await forget(conn, PROJECTION)
        async with BatchReader(settings.bootstrap_servers, [callbacks_topic(settings.topic_prefix)],
                               client_id="touchpoint-rebuild-callbacks", client_options=client_options(settings)) as reader:
            total = await reader.remaining()
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                          disable=not show_progress) as progress:
                task = progress.add_task("rebuild callbacks", total=total)
                async for batch in reader.batches(until_end=True):
                    async with engine.begin() as conn:
                        await project(conn, [c.event for c in batch.events])
                        await store_offsets(conn, PROJECTION, batch.next_offsets())
                    read += len(batch)
                    progress.advance(task, len(batch))
    finally:
        await engine.dispose()
    return read
