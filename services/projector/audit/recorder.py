"""Appending reads to the `audit` topic.

Two ways, by what a failure costs:
- `record(reader, reads)` returns only after Kafka acknowledged the records and raises
  `AuditUnavailable` otherwise: an export (a whole customer in one file) is refused when its
  reading cannot be recorded;
- `record_soon(reader, find_reads)` publishes in the background, so a page is not held up by the
  acknowledgement; a record that cannot be written is logged and counted
  (`touchpoint_audit_failures_total`), and the page has been served. `drain()` waits for those
  still under way (at shutdown, before the publisher stops)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from prometheus_client import Counter

from events.audit import CustomerAccessed
from services.projector.audit.access import Read, Reader, access_event
from shared.kafka.errors import TransientError, classify
from shared.kafka.publisher import Publisher

log = logging.getLogger("touchpoint.audit")

AUDIT_RECORDED = Counter("touchpoint_audit_records_total", "Reads of personal data recorded on the audit topic",
                         ["resource", "via"])
AUDIT_FAILURES = Counter("touchpoint_audit_failures_total",
                         "Reads of personal data whose audit record could not be written", ["resource"])

FindReads = Callable[[], Awaitable[Sequence[Read]]]


class AuditUnavailable(TransientError):
    """The audit record of a read was not acknowledged by Kafka: the read is refused or logged."""


class AccessRecorder:
    def __init__(self, publisher: Publisher, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._publisher, self._now = publisher, now
        self._pending: set[asyncio.Task[None]] = set()

    async def record(self, reader: Reader, reads: Sequence[Read]) -> list[CustomerAccessed]:
        """Returns the records once Kafka acknowledged every one; raises AuditUnavailable."""
        if not reads:
            return []
        at = self._now()
        events = [access_event(reader, read, at) for read in reads]
        try:
            await self._publisher.publish(events)
        except Exception as exc:
            for read in reads:
                AUDIT_FAILURES.labels(read.resource).inc()
            reason = classify(exc).reason
            log.error("audit of %s by %s not written: %s", reads[0].resource, reader.user, reason)
            raise AuditUnavailable(reason) from exc
        for read in reads:
            AUDIT_RECORDED.labels(read.resource, reader.via).inc()
        return events

    def record_soon(self, reader: Reader, find_reads: FindReads) -> None:
        """Finds what was read (e.g. the customer behind an entry) and records it, in the background."""
        task = asyncio.create_task(self._record_quietly(reader, find_reads))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _record_quietly(self, reader: Reader, find_reads: FindReads) -> None:
        try:
            reads = await find_reads()
        except Exception as exc:  # the database failed: nothing to name, but the miss is counted
            AUDIT_FAILURES.labels("unresolved").inc()
            log.error("audit of a read by %s not written: %s", reader.user, classify(exc).reason)
            return
        try:
            await self.record(reader, reads)
        except AuditUnavailable:
            pass  # logged and counted by record()

    async def drain(self) -> None:
        """Waits for the records still being written."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
