"""`touchpoint projector`: the timeline projection as a member of the projector's consumer group,
and next to it the consent and access audit projections (see the end of this text).

The group gives each instance its share of the partitions; the instance reads them in bulk
from the positions stored with the read model, and takes over another's partitions from those
positions when that instance leaves or dies (`follow_as_member` in `shared/kafka/follower.py`).
Every batch goes records → decode → the projector's `LogStep` (dead letters, retries) → the
timeline writer (pure apply, then one transaction with tracking and positions), so a batch
read twice is skipped as applied. The same step serves `touchpoint rebuild`.

Beside it, in the same process, the consent projection follows the consents and customers topics
as a member of its own group (`services/projector/consent/follow.py`), and the access audit's
projection follows the audit topic (`services/projector/audit/follow.py`), each on a thread of
its own (`shared/kafka/apart.py`). With privacy on and `[privacy.retention]` rules, the retention
job runs here too, once an hour (`services/projector/privacy/retention_job.py`): the projector
owns the key store's database."""

from __future__ import annotations

import asyncio
import threading

from services.projector.audit.follow import follow_audit
from services.projector.catchup import interaction_topics
from services.projector.consent.follow import follow_consents
from services.projector.consume import BatchProjector
from services.projector.privacy.retention_job import Clock, every_hour, run_retention, system_clock
from services.projector.timeline.projection import PROJECTION
from services.projector.timeline.writer import TimelineWriter
from shared.collector import tune_for_batches
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import load_offsets
from shared.kafka.apart import follow_apart
from shared.kafka.follower import follow_as_member_for_ever
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.security import client_options
from shared.kafka.topics import ensure_for
from shared.logging import configure_logging
from shared.privacy.runtime import master_key, retention_rules
from shared.shutdown import stop_on_signals
from shared.status_http import serve_status

BATCH = 2000
RETRY_DELAY_S = 2.0


def group_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}projector"


def run(settings: Settings) -> None:
    configure_logging("projector", settings.log_level)
    serve_status("projector", settings, settings.projector_metrics_port)
    tune_for_batches()
    asyncio.run(serve(settings))


async def serve(settings: Settings, stop: asyncio.Event | None = None, clock: Clock = system_clock) -> None:
    """Runs until `stop` is set, SIGINT/SIGTERM, or a non-transient error. `clock`: the retention job's now."""
    stop = stop or stop_on_signals()
    await upgrade_async(settings.db_url)
    await ensure_for(settings)
    engine = make_engine(settings.db_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-projector")
    following = None
    apart: list[asyncio.Task] = []
    stop_apart = threading.Event()
    try:
        await publisher.start()
        projector = BatchProjector(TimelineWriter(engine), publisher, settings.topic_prefix)

        async def stored_positions() -> dict[tuple[str, int], int]:
            async with engine.connect() as conn:
                return await load_offsets(conn, PROJECTION)

        following = asyncio.create_task(_follow_forever(settings, projector, stored_positions))
        # the consent and access audit projections, each its own group, on threads of their own
        apart = [asyncio.create_task(asyncio.to_thread(follow_apart, settings, follow, client_id, stop_apart))
                 for follow, client_id in ((follow_consents, "touchpoint-consents"),
                                           (follow_audit, "touchpoint-access-audit"))]
        apart += _retention(settings, engine, publisher, stop, clock)
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({following, *apart, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        for task in (following, *apart):
            if task in done:
                task.result()
    finally:
        stop_apart.set()  # a thread cannot be cancelled: it stops within a fraction of a second
        if following is not None and not following.done():
            following.cancel()
        await asyncio.gather(*(task for task in (following, *apart) if task is not None), return_exceptions=True)
        await publisher.stop()
        await engine.dispose()


def _retention(settings: Settings, engine, publisher, stop: asyncio.Event, clock: Clock) -> list[asyncio.Task]:  # type: ignore[no-untyped-def]
    rules = retention_rules(settings)
    if not (settings.encrypts_personal_data and rules.rules):
        return []
    master = master_key(settings)
    return [asyncio.create_task(every_hour(lambda now: run_retention(engine, master, publisher, rules, now), stop, clock))]


async def _follow_forever(settings: Settings, projector: BatchProjector, stored_positions) -> None:  # type: ignore[no-untyped-def]
    """Only a broken connection to Kafka ends the member; it then joins the group again."""
    await follow_as_member_for_ever(settings.bootstrap_servers, interaction_topics(settings), projector.step,
                                    stored_positions, name="projector", retry_delay=RETRY_DELAY_S,
                                    group_id=group_id(settings), client_id="touchpoint-projector", max_records=BATCH,
                                    client_options=client_options(settings))
