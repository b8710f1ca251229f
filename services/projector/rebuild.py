"""`touchpoint rebuild [timeline]`: replay the log from offset 0 into fresh tables, then swap
them in atomically.

The replay fills `<table>__rebuild` tables through the same pure `apply` and writer as the live
path (its positions under a name of their own), reading partitions in bulk with aiokafka. The
swap is one transaction: it takes the writer's lock, makes sure the replay is not behind what
the live projector already applied (else it catches up once more and retries), drops the live
tables, renames the fresh ones into place (the table of applied events among them, so no
tracking row is rewritten while live writers wait) and hands the positions over. Readers see
either the old or the new read model, never a mix."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.schema import CreateIndex

from services.projector.catchup import catch_up
from services.projector.consume import BatchProjector
from services.projector.timeline.projection import PROJECTION
from services.projector.timeline.tables import TIMELINE, TimelineTables, timeline_tables
from services.projector.timeline.writer import TimelineWriter
from shared.collector import tune_for_batches
from shared.config import ConfigError, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import forget, load_offsets, projection_offsets
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.topics import ensure_for

Position = tuple[str, int]
SUFFIX = "__rebuild"
SWAP_ATTEMPTS = 5


def run(settings: Settings, projection: str = "timeline") -> None:
    if projection not in ("timeline", "all"):
        raise ConfigError(f"unknown projection {projection!r}; this build rebuilds: timeline, all")
    tune_for_batches()
    asyncio.run(rebuild_timeline(settings, show_progress=True))


async def rebuild_timeline(settings: Settings, show_progress: bool = False) -> int:
    """Returns the number of records replayed."""
    await upgrade_async(settings.db_url)
    await ensure_for(settings)
    engine = make_engine(settings.db_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-rebuild")
    fresh = timeline_tables(SUFFIX)
    shadow = f"{PROJECTION}{SUFFIX}"
    try:
        await publisher.start()  # dead letters of undecodable records
        await create_fresh(engine, fresh, shadow)
        projector = BatchProjector(TimelineWriter(engine, fresh, shadow, alone=True), publisher, settings.topic_prefix)
        with progress_bar(show_progress) as (bar, task):
            def advance(done: int, remaining: int) -> None:
                if done == 0:  # a catch-up begins: this many records lie ahead
                    bar.update(task, total=bar.tasks[task].completed + remaining)
                else:
                    bar.advance(task, done)

            reached = await catch_up(settings, projector, {}, advance)
            for _ in range(SWAP_ATTEMPTS):
                live = await live_offsets(engine)
                if behind(reached, live):
                    reached = await catch_up(settings, projector, reached, advance)
                if await swap(engine, fresh, shadow, reached):
                    await analyze(engine)
                    return int(bar.tasks[task].completed)
        raise RuntimeError("the live projector kept moving ahead during the swap; run the rebuild again")
    finally:
        await publisher.stop()
        await engine.dispose()


async def analyze(engine: AsyncEngine) -> None:
    """Fresh statistics for the swapped-in tables (PostgreSQL keeps none for renamed new tables)."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            for table in TIMELINE.all():
                await conn.execute(text(f"ANALYZE {table.name}"))


def progress_bar(show: bool):  # type: ignore[no-untyped-def]
    bar = Progress(TextColumn("rebuilding timeline"), BarColumn(), MofNCompleteColumn(), TextColumn("records"),
                   TimeElapsedColumn(), TimeRemainingColumn(), disable=not show)

    class Context:
        def __enter__(self):  # type: ignore[no-untyped-def]
            bar.__enter__()
            return bar, bar.add_task("replay", total=None)

        def __exit__(self, *exc):  # type: ignore[no-untyped-def]
            return bar.__exit__(*exc)

    return Context()


async def create_fresh(engine: AsyncEngine, fresh: TimelineTables, shadow: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: fresh.metadata.drop_all(sync))
        await conn.run_sync(lambda sync: fresh.metadata.create_all(sync))
        await forget(conn, shadow)


async def live_offsets(engine: AsyncEngine) -> dict[Position, int]:
    async with engine.connect() as conn:
        return await load_offsets(conn, PROJECTION)


def behind(reached: Mapping[Position, int], live: Mapping[Position, int]) -> bool:
    return any(reached.get(position, 0) < offset for position, offset in live.items())


async def swap(engine: AsyncEngine, fresh: TimelineTables, shadow: str, reached: Mapping[Position, int]) -> bool:
    """False (nothing changed) when the live projector got ahead of the replay meanwhile."""
    async with engine.begin() as conn:
        await TimelineWriter(engine).lock(conn)
        # a write first: on SQLite it takes the database's write lock for the rest of the swap
        await conn.execute(update(projection_offsets).where(projection_offsets.c.projection == PROJECTION)
                           .values(next_offset=projection_offsets.c.next_offset))
        if behind(reached, await load_offsets(conn, PROJECTION)):
            await conn.rollback()
            return False
        for live, new in zip(TIMELINE.all(), fresh.all(), strict=True):
            await conn.execute(text(f"DROP TABLE {live.name}"))
            await conn.execute(text(f"ALTER TABLE {new.name} RENAME TO {live.name}"))
        await rename_indexes(conn, fresh)
        await forget(conn, PROJECTION)  # the applied events went with the tables; the positions go now
        await conn.execute(update(projection_offsets).where(projection_offsets.c.projection == shadow)
                           .values(projection=PROJECTION))
    return True


async def rename_indexes(conn: AsyncConnection, fresh: TimelineTables) -> None:
    for index in fresh.indexes():
        live_name = str(index.name).removesuffix(SUFFIX)
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"ALTER INDEX {index.name} RENAME TO {live_name}"))
        else:  # SQLite cannot rename an index: build it again under its live name
            await conn.execute(text(f"DROP INDEX {index.name}"))
            live_index = next(i for i in TIMELINE.indexes() if i.name == live_name)
            await conn.execute(CreateIndex(live_index))
