"""`run(settings)`: the complaints processor and SLA timers as one process."""

from __future__ import annotations

import asyncio
import logging


from services.projector.callbacks.rules import rules_from_settings as callback_rules
from services.projector.callbacks.service import CallbackService
from services.projector.complaints.detector import DetectorConfig
from services.projector.complaints.policy import rules_from_settings
from services.projector.complaints.service import ComplaintService
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
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
    callback_rules_ = callback_rules(settings)
    stop = stop or stop_on_signals()
    await upgrade_async(settings.db_url)
    await ensure_for(settings)  # every topic it reads, and its dead-letter topic, exist
    engine = make_engine(settings.db_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-complaints")
    service = ComplaintService(settings.bootstrap_servers, settings.topic_prefix, engine, publisher, rules,
                               DetectorConfig(sla=settings.file.sla, rules=rules),
                               client_options=client_options(settings))
    # callbacks from missed calls: their own processor and timers, in this process
    callbacks = CallbackService(settings.bootstrap_servers, settings.topic_prefix, engine, publisher, callback_rules_,
                                client_options=client_options(settings))
    try:
        await publisher.start()
        await service.start()
        await callbacks.start()
        log.info("complaints processor, SLA timers and callbacks running")
        stopped = asyncio.create_task(stop.wait())
        failed = [asyncio.create_task(service.wait()), asyncio.create_task(callbacks.wait())]
        done, _ = await asyncio.wait({stopped, *failed}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopped, *failed):
            if task not in done:
                task.cancel()
        for task in failed:
            if task in done:
                task.result()
    finally:
        await callbacks.stop()
        await service.stop()
        await publisher.stop()
        await engine.dispose()

