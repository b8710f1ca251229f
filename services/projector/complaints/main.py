"""`run(settings)`: the complaints processor and SLA timers as one process."""

from __future__ import annotations

import asyncio
import logging
import threading

from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.callbacks.rules import rules_from_settings as callback_rules
from services.projector.callbacks.service import CallbackService
from services.projector.complaints.detector import DetectorConfig
from services.projector.complaints.policy import rules_from_settings
from services.projector.complaints.service import ComplaintService
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.apart import follow_apart
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.security import client_options
from shared.kafka.topics import ensure_for
from shared.logging import configure_logging
from shared.shutdown import stop_on_signals
from shared.status_http import serve_status

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    configure_logging("sla", settings.log_level)
    serve_status("sla", settings, settings.sla_metrics_port)
    asyncio.run(serve(settings))


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Runs until `stop` is set, SIGINT/SIGTERM, or a non-transient error."""
    rules = rules_from_settings(settings)  # a bad policy stops the start with a ConfigError
    callback_rules(settings)  # so does a bad callbacks section, before anything starts
    stop = stop or stop_on_signals()
    await upgrade_async(settings.db_url)
    await ensure_for(settings)  # every topic it reads, and its dead-letter topic, exist
    engine = make_engine(settings.db_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-complaints")
    service = ComplaintService(settings.bootstrap_servers, settings.topic_prefix, engine, publisher, rules,
                               DetectorConfig(sla=settings.file.sla, rules=rules),
                               client_options=client_options(settings))
    # callbacks from missed calls: their own processor and timers, in this process, on a thread
    # of their own (shared/kafka/apart.py says why)
    stop_apart = threading.Event()
    failed: list[asyncio.Task] = []
    try:
        await publisher.start()
        await service.start()
        failed = [asyncio.create_task(service.wait()),
                  asyncio.create_task(asyncio.to_thread(follow_apart, settings, follow_callbacks, "touchpoint-callbacks",
                                                        stop_apart))]
        log.info("complaints processor, SLA timers and callbacks running")
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({stopped, *failed}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        for task in failed:
            if task in done:
                task.result()
    finally:
        stop_apart.set()  # a thread cannot be cancelled: it stops within a fraction of a second
        await service.stop()
        await asyncio.gather(*failed, return_exceptions=True)
        await publisher.stop()
        await engine.dispose()


async def follow_callbacks(settings: Settings, engine: AsyncEngine, publisher: KafkaPublisher) -> None:
    """The callback processor and its timers until cancelled, or until they fail for good."""
    callbacks = CallbackService(settings.bootstrap_servers, settings.topic_prefix, engine, publisher,
                                callback_rules(settings), client_options=client_options(settings))
    await callbacks.start()
    try:
        await callbacks.wait()
    finally:
        await callbacks.stop()
