"""The complaints service: the processor loop and the timer loop, with explicit start/stop.

Both loops retry after transient failures (Kafka or the database unreachable): the processor
resumes from the positions committed in the database, the timer loop simply tries again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.complaints import metrics, store, timers
from services.projector.complaints.detector import DetectorConfig
from services.projector.complaints.policy import SlaRules
from services.projector.complaints.processor import ComplaintProcessor
from shared.kafka.follower import follow_as_member
from shared.kafka.errors import classify

log = logging.getLogger(__name__)


class ComplaintService:
    def __init__(
        self, bootstrap_servers: str, topic_prefix: str, engine: AsyncEngine, publisher, rules: SlaRules,  # type: ignore[no-untyped-def]
        detector: DetectorConfig, timer_interval: float = 1.0, retry_delay: float = 2.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._client_options = dict(client_options or {})
        self.group_id = f"{topic_prefix}sla"  # shares the partitions; positions live in the database
        self._engine, self._publisher, self._rules, self._now = engine, publisher, rules, now
        self._interval, self._retry = timer_interval, retry_delay
        self.processor = ComplaintProcessor(engine, publisher, topic_prefix, rules, detector, now)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._process_forever(), name="complaints-processor"),
                           asyncio.create_task(self._timers_forever(), name="sla-timers")]

    async def stop(self) -> None:
        """Cancels both loops and waits for them; safe to call twice."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait(self) -> None:
        """Returns when a loop ends for good (a non-transient error); raises that error."""
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()

    async def _process_forever(self) -> None:
        """Follows the log as a member of the sla group, so that several instances share the
        partitions; each partition starts at the position stored in the database, and each
        batch goes through the processor's `LogStep` (dead letters, retries). Only a broken
        connection to Kafka ends the reader, which then joins again."""
        while True:
            try:
                await self.processor.refresh_open()
                await follow_as_member(self._bootstrap, self.processor.topics(), self.processor.step,
                                       self.processor.start_offsets, group_id=self.group_id,
                                       client_id="touchpoint-complaints", client_options=self._client_options)
            except Exception as exc:
                failure = classify(exc)
                if not failure.transient:
                    raise
                log.warning("complaints processor: %s; retrying in %.0fs", failure.reason, self._retry)
                await asyncio.sleep(self._retry)

    async def _timers_forever(self) -> None:
        while True:
            try:
                await timers.fire_due(self._engine, self._publisher, self._rules, self._now)
                async with self._engine.connect() as conn:
                    metrics.set_open_counts(await store.open_counts(conn))
            except Exception as exc:
                failure = classify(exc)
                # a timer has no record to dead-letter: log loudly and try again next round
                (log.warning if failure.transient else log.error)("SLA timers: %s; retrying in %.0fs",
                                                                   failure.reason, self._retry)
                await asyncio.sleep(self._retry)
                continue
            await asyncio.sleep(self._interval)
