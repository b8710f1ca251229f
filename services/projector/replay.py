"""Rebuilding a small read model from the log: its tables emptied and its tracking forgotten in
one transaction, then its topics replayed from offset 0 through the same step and writer as the
live path, with a progress bar. Used by `touchpoint rebuild consents` and `rebuild audit`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import forget
from shared.kafka.deadletter import RawProducer
from shared.kafka.follower import LogStep, follow_in_bulk
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.security import client_options
from shared.kafka.topics import ensure_for

StepFor = Callable[[AsyncEngine, RawProducer], LogStep]


async def replay_view(settings: Settings, name: str, projection: str, tables: Sequence[Table], topics: list[str],
                      step_for: StepFor, show_progress: bool = True) -> int:
    """Empties `tables` and replays `topics` into them; returns the number of records read.
    The live follower of the view should be stopped meanwhile (it writes the same tables)."""
    await upgrade_async(settings.db_url)
    await ensure_for(settings)
    engine = make_engine(settings.db_url)
    client_id = f"touchpoint-rebuild-{name}"
    publisher = KafkaPublisher.for_settings(settings, client_id=client_id)  # dead letters
    read = 0
    try:
        await publisher.start()
        async with engine.begin() as conn:
            for table in tables:
                await conn.execute(table.delete())
            await forget(conn, projection)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      disable=not show_progress) as progress:
            task = progress.add_task(f"rebuild {name}", total=None)

            def advance(done: int, remaining: int) -> None:
                nonlocal read
                if done == 0:
                    progress.update(task, total=remaining)
                read += done
                progress.advance(task, done)

            await follow_in_bulk(settings.bootstrap_servers, topics, step_for(engine, publisher), {},
                                 client_id=client_id, progress=advance, client_options=client_options(settings))
    finally:
        await publisher.stop()
        await engine.dispose()
    return read
