"""The complaints service: the complaints processor as a member of the sla group, and the SLA
timers, started and stopped together (`shared/kafka/service_loops.py`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.complaints import metrics, store, timers
from services.projector.complaints.detector import DetectorConfig
from services.projector.complaints.policy import SlaRules
from services.projector.complaints.processor import ComplaintProcessor
from shared.kafka.service_loops import FollowerWithTimers


class ComplaintService(FollowerWithTimers):
    def __init__(
        self, bootstrap_servers: str, topic_prefix: str, engine: AsyncEngine, publisher, rules: SlaRules,  # type: ignore[no-untyped-def]
        detector: DetectorConfig, timer_interval: float = 1.0, retry_delay: float = 2.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._engine, self._publisher, self._rules, self._now = engine, publisher, rules, now
        self.processor = ComplaintProcessor(engine, publisher, topic_prefix, rules, detector, now)
        super().__init__("complaints", bootstrap_servers, self.processor.topics(), self.processor.step,
                         self.processor.start_offsets, f"{topic_prefix}sla", self._fire_due,
                         before_joining=self.processor.refresh_open, timer_interval=timer_interval,
                         retry_delay=retry_delay, client_options=client_options)

    async def _fire_due(self) -> None:
        await timers.fire_due(self._engine, self._publisher, self._rules, self._now)
        async with self._engine.connect() as conn:
            metrics.set_open_counts(await store.open_counts(conn))
