"""What the webhook routes share: settings, the Publisher port, the clock and the form rate
limiter, plus the one step every route ends with, publish-then-answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.requests import Request

from events.envelope import Event
from services.ingest.http.metrics import metrics_of
from services.ingest.webforms.guards import RateLimiter
from shared.config import Settings
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import Publisher
from shared.logging import correlation_id, correlation_scope
from shared.web import ApiError

log = logging.getLogger("touchpoint.ingest")

RETRY_AFTER_SECONDS = 10


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class IngestContext:
    settings: Settings
    publisher: Publisher
    clock: Callable[[], datetime] = utc_now
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)

    @property
    def max_body_bytes(self) -> int:
        return self.settings.file.webhooks.max_body_bytes

    async def publish(self, source: str, events: Sequence[Event]) -> None:
        """Returns once Kafka acknowledged every event; otherwise answers 503 with Retry-After,
        so the provider retries and nothing is reported stored that is not."""
        if not events:
            return
        started = time.perf_counter()
        try:
            await self.publisher.publish(events)
        except KafkaUnavailable as exc:
            # the broker's error names internal hosts: it goes to the log, not to the caller
            log.warning("webhook %s answered 503: Kafka did not acknowledge: %s", source, exc)
            raise ApiError(
                503, "kafka_unavailable",
                f"Kafka is unavailable, the event could not be stored; nothing was accepted, retry after "
                f"{RETRY_AFTER_SECONDS} s",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from None
        metrics_of(source).produce_seconds.observe(time.perf_counter() - started)
        request_id = correlation_id.get()
        for event in events:
            with correlation_scope(event.correlation_id):
                log.info("captured %s", event.type, extra={"fields": {
                    "event_id": str(event.event_id), "webhook": source, "request_id": request_id}})

    def accepted(self, source: str, events: Sequence[Event]) -> dict[str, object]:
        metrics = metrics_of(source)
        metrics.accepted.inc()
        metrics.last_accepted.set_to_current_time()
        return {"status": "accepted" if events else "ignored", "event_ids": [str(e.event_id) for e in events]}


def context_of(request: Request) -> IngestContext:
    return request.app.state.ingest


def refuse(source: str, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> ApiError:
    """An error answer; the app's error handler counts it by source and reason."""
    return ApiError(status, code, detail, headers)
