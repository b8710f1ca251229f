"""`touchpoint notifier`: a faust-streaming worker that turns SLA warnings and breaches and the
other configured triggers into notifications, and delivers them exactly once in effect.

The agent (the shared follower's `batch_agent`) hands batches to the notifier's `LogStep`,
which dead-letters what cannot be decoded or stored and passes each event to `EventHandler`
(state, triggers, routing and the owed notifications in one transaction with its tracking
row); a task runs the `Dispatcher`, which
delivers due notifications and writes `escalation.notified` / `escalation.failed` back to
Kafka. Faust commits offsets after the agent moved on; a record seen again after a crash is
recognised by its tracking row. See `dispatcher.py` for the one narrow window that remains
and how it is detected."""

from __future__ import annotations

import asyncio
import logging

import faust
import mode

from events.topics import Topic, topic_name
from services.notifier.runtime import NotifierRuntime, check_settings
from shared.config import ConfigError, Settings
from shared.db.migrate import upgrade_async
from shared.kafka.errors import classify
from shared.kafka.follower import LogStep, batch_agent
from shared.kafka.topics import ensure_for
from shared.logging import configure_logging
from shared.status_http import serve_status
from shared.kafka.security import faust_credentials

log = logging.getLogger(__name__)

BATCH = 100
WITHIN_SECONDS = 0.05
CONSUMED_TOPICS = (Topic.COMPLAINTS, Topic.CUSTOMERS, Topic.SHIPMENTS, Topic.CALLS, Topic.EMAIL, Topic.WEBFORMS,
                   Topic.CALLBACKS, Topic.CONSENTS)


def broker_urls(bootstrap_servers: str) -> str:
    return ";".join(f"kafka://{server.strip()}" for server in bootstrap_servers.split(",") if server.strip())


def build_app(settings: Settings, runtime: NotifierRuntime) -> faust.App:
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust makes its own folder, not the parents
    app = faust.App(
        f"{settings.topic_prefix}notifier",
        broker=broker_urls(settings.bootstrap_servers),
        broker_credentials=faust_credentials(settings),
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # a restarted worker takes over the partitions of a killed one once its session expired
        broker_session_timeout=15.0,
        broker_heartbeat_interval=3.0,
        datadir=str(settings.data_dir / "notifier"),
    )
    names = [topic_name(settings.topic_prefix, topic) for topic in CONSUMED_TOPICS]
    source = app.topic(*names, value_serializer="raw", key_serializer="raw")

    async def step() -> LogStep:
        await runtime.start()
        return runtime.step

    batch_agent(app, source, step, BATCH, WITHIN_SECONDS, name="notify")

    @app.service
    class Dispatching(mode.Service):
        async def on_start(self) -> None:
            await runtime.start()

        async def on_stop(self) -> None:
            await runtime.stop()

        @mode.Service.task
        async def _dispatch(self) -> None:
            await runtime.start()
            while not self.should_stop:
                try:
                    await runtime.dispatcher.run_forever()
                except Exception as exc:
                    failure = classify(exc)
                    (log.warning if failure.transient else log.error)("dispatching paused, retrying in 2s: %s",
                                                                       failure.reason)
                    await self.sleep(2.0)

    return app


async def prepare(settings: Settings) -> None:
    await ensure_for(settings)
    await upgrade_async(settings.db_url)


def run(settings: Settings) -> None:
    configure_logging("notifier", settings.log_level)
    check_settings(settings)
    asyncio.run(prepare(settings))
    serve_status("notifier", settings, settings.notifier_metrics_port)
    (settings.data_dir / "notifier").mkdir(parents=True, exist_ok=True)
    runtime = NotifierRuntime(settings)
    app = build_app(settings, runtime)
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), override_logging=False, quiet=True)
    worker.execute_from_commandline()
