"""The callback service: the callback processor as a member of its group, and the callback
timers, started and stopped together (`shared/kafka/service_loops.py`). It runs inside
`touchpoint sla`, next to the complaints service."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.callbacks.processor import CallbackProcessor
from services.projector.callbacks.rules import CallbackRules
from shared.kafka.service_loops import FollowerWithTimers


class CallbackService(FollowerWithTimers):
    def __init__(self, bootstrap_servers: str, topic_prefix: str, engine: AsyncEngine, publisher, rules: CallbackRules,  # type: ignore[no-untyped-def]
                 timer_interval: float = 1.0, retry_delay: float = 2.0,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 client_options: Mapping[str, Any] | None = None) -> None:
        self.processor = CallbackProcessor(engine, publisher, topic_prefix, rules, now)
        super().__init__("callbacks", bootstrap_servers, self.processor.topics(), self.processor.step,
                         self.processor.start_offsets, f"{topic_prefix}callbacks", self.processor.fire_due,
                         timer_interval=timer_interval, retry_delay=retry_delay, client_options=client_options)
