"""`touchpoint rebuild sla`: empties the complaints read model and replays the complaints topic
from the start, with a progress bar.

Nothing is derived or published again: the complaint events in the log are the record. Timers
already fired stay recorded, so no warning or breach is published twice. Clocks of open
complaints are recomputed under the current policies; how finished clocks ended is kept with
the policy version it was measured under, unless `recompute` asks to measure every complaint
again under the current policies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from services.projector.complaints import store
from services.projector.complaints.policy import SlaRules, rules_from_settings
from services.projector.complaints.processor import PROJECTION, complaints_topic, project
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import forget, store_offsets
from shared.kafka.consumer import BatchReader
from shared.kafka.security import client_options


def rebuild(settings: Settings, recompute: bool = False) -> int:
    """Synchronous entry for the CLI; returns the number of complaint events replayed."""
    return asyncio.run(rebuild_async(settings, recompute))


async def rebuild_async(
    settings: Settings, recompute: bool = False, rules: SlaRules | None = None, show_progress: bool = True,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    rules = rules or rules_from_settings(settings)
    await upgrade_async(settings.db_url)
    engine = make_engine(settings.db_url)
    replayed = 0
    try:
        async with engine.begin() as conn:
            await store.drop_view(conn, outcomes=recompute)
            await forget(conn, PROJECTION)
        topic = complaints_topic(settings.topic_prefix)
        async with BatchReader(settings.bootstrap_servers, [topic], client_id="touchpoint-rebuild-sla",
                               client_options=client_options(settings)) as reader:
            total = await reader.remaining()
            with _progress(show_progress) as progress:
                task = progress.add_task("rebuild sla", total=total)
                async for batch in reader.batches(until_end=True):
                    async with engine.begin() as conn:
                        # the processor's own writer; the same event may be in the log twice
                        events = await project(conn, [c.event for c in batch.events], rules, now(),
                                               trust_recorded_breaches=not recompute)
                        await store_offsets(conn, PROJECTION, batch.next_offsets())
                    replayed += len(events)
                    progress.advance(task, len(batch))
    finally:
        await engine.dispose()
    return replayed


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    disable=not enabled)
