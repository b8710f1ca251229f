"""Following the log: the one step every consumer runs on a batch of records.

`LogStep.handle(batch)`:
- dead-letters the records that cannot be decoded (original bytes, reason, source position);
- hands the decoded events with the batch's next positions to the service's one writer, which
  commits its effects and the positions in one transaction;
- when the writer fails for a reason that will not go away (see `errors.classify`), splits the
  batch in halves until the poison event is alone, dead-letters it and commits everything else,
  so one event never stalls a view;
- retries a transient failure (broker or database unavailable, serialisation failure) with a
  capped exponential backoff, logging the cause on each attempt, and never skips the event.

The live Faust agents, the bulk catch-up and the rebuild all call this step, so there is one
error classification and one dead-letter path for every view."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from events.codec import encode
from shared.kafka.consumer import Batch, Consumed, Undecodable
from shared.kafka.deadletter import DeadLetter, RawProducer, send_to_deadletter
from shared.kafka.errors import classify
from shared.metrics import DEAD_LETTERS

Position = tuple[str, int]
log = logging.getLogger("touchpoint.follower")


class Writer(Protocol):
    def __call__(self, events: Sequence[Consumed], next_offsets: Mapping[Position, int]) -> Awaitable[Any]:
        """Commits the effects of `events` and `next_offsets` in one transaction, or raises."""


@dataclass(frozen=True)
class Backoff:
    first: float = 0.2
    cap: float = 30.0

    def delays(self):  # type: ignore[no-untyped-def]
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.cap)


def positions_of(items: Sequence[Consumed | Undecodable]) -> dict[Position, int]:
    found: dict[Position, int] = {}
    for item in items:
        key = (item.topic, item.partition)
        found[key] = max(found.get(key, 0), item.offset + 1)
    return found


class LogStep:
    def __init__(
        self, service: str, write: Writer, deadletters: RawProducer, topic_prefix: str,
        backoff: Backoff = Backoff(), sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.service, self._write, self._deadletters, self._prefix = service, write, deadletters, topic_prefix
        self._backoff, self._sleep = backoff, sleep
        self.dead_lettered = 0

    async def handle(self, batch: Batch) -> None:
        for record in batch.invalid:
            await self._dead_letter(record, record.value, record.key, record.reason, "undecodable")
        await self._write_isolating(batch.events, batch.next_offsets())

    async def _write_isolating(self, events: Sequence[Consumed], offsets: Mapping[Position, int]) -> None:
        """Writes `events` with `offsets`; on a permanent failure, writes each half on its own
        (positions of a half stay below those of the next), down to the single poison event."""
        failure = await self._retrying(events, offsets)
        if failure is None:
            return
        if len(events) > 1:
            half = len(events) // 2
            first, second = events[:half], events[half:]
            await self._write_isolating(first, positions_of(first))
            await self._write_isolating(second, offsets)  # the last part carries the batch's positions
            return
        if events:
            [poison] = events
            original = poison.raw if poison.raw is not None else encode(poison.event)
            await self._dead_letter(poison, original, poison.key, failure, "unappliable")
        # the positions past the poison event (and past undecodable records) still move on
        if await self._retrying([], offsets) is not None:
            raise RuntimeError(f"{self.service}: storing positions alone failed permanently")

    async def _retrying(self, events: Sequence[Consumed], offsets: Mapping[Position, int]) -> str | None:
        """None once written; the reason when the failure is permanent. Transient ones are retried."""
        for delay in self._backoff.delays():
            try:
                await self._write(events, offsets)
                return None
            except Exception as exc:
                failure = classify(exc)
                if not failure.transient:
                    if len(events) == 1:
                        log.warning("%s: %s[%d]@%d refused: %s", self.service, events[0].topic, events[0].partition,
                                    events[0].offset, failure.reason)
                    return failure.reason
                log.warning("%s: writing %d events failed for a transient cause, retrying in %.1fs: %s",
                            self.service, len(events), delay, failure.reason)
                await self._sleep(delay)
        return None  # unreachable: delays() never ends

    async def _dead_letter(self, item: Consumed | Undecodable, value: bytes, key: bytes | None, reason: str,
                           kind: str) -> None:
        letter = DeadLetter(service=self.service, reason=reason, original=value, key=key, source_topic=item.topic,
                            source_partition=item.partition, source_offset=item.offset)
        for delay in self._backoff.delays():
            try:
                await send_to_deadletter(self._deadletters, self._prefix, letter)
                break
            except Exception as exc:
                failure = classify(exc)
                if not failure.transient:
                    raise
                log.warning("%s: dead-lettering %s[%d]@%d failed, retrying in %.1fs: %s", self.service, item.topic,
                            item.partition, item.offset, delay, failure.reason)
                await self._sleep(delay)
        self.dead_lettered += 1
        DEAD_LETTERS.labels(self.service, kind).inc()
        log.warning("%s: dead-lettered %s[%d]@%d: %s", self.service, item.topic, item.partition, item.offset, reason)
