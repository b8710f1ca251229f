"""Following the log: the one way every view consumes its topics.

- `LogStep` is what happens to a batch of records (below);
- `follow_in_bulk` reads partitions in bulk with aiokafka from positions kept in the database
  (catch-up and rebuild) and runs each batch through a step;
- `follow_as_member` does the same for ever as a member of a consumer group, so that several
  instances of a service share the partitions (the projector, the sla processor); each partition it is given
  starts from the position the database holds;
- `batch_agent` is a live Faust agent (the notifier): group membership from Faust, batches
  through a step.

The step:

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
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from events.codec import encode
from shared.kafka.consumer import Batch, BatchReader, Consumed, Undecodable, decode_record, stop_consumer
from shared.kafka.deadletter import DeadLetter, RawProducer, send_to_deadletter
from shared.kafka.errors import KafkaUnavailable, classify
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


# ---- reading in bulk (catch-up, rebuild, the sla processor) ---------------------------------

Progress = Callable[[int, int], None]  # (records done in this batch, records remaining at start)


async def follow_in_bulk(
    bootstrap_servers: str, topics: list[str], step: LogStep, start: Mapping[Position, int], *,
    until_end: bool = True, client_id: str = "touchpoint-reader", group_id: str | None = None,
    max_records: int = 5000, progress: Progress | None = None, client_options: Mapping[str, Any] | None = None,
) -> dict[Position, int]:
    """Runs every record from `start` through `step`: up to the end offsets seen now
    (`until_end`), or for ever. With `group_id`, the positions reached are mirrored to Kafka
    for lag reporting. Returns the positions reached."""
    reached = dict(start)
    async with BatchReader(bootstrap_servers, topics, start_offsets=start, max_records=max_records,
                           client_id=client_id, group_id=group_id, client_options=client_options) as reader:
        if progress:
            progress(0, await reader.remaining())
        async for batch in read_ahead(reader.batches(until_end=until_end)):
            await step.handle(batch)
            positions = batch.next_offsets()
            reached.update(positions)
            await reader.report_positions(positions)
            if progress:
                progress(len(batch), 0)
    return reached


# How long a fetch waits at the broker for new records. Kafka's default of 500 ms held live
# batches back: with a batch being written, the next fetch often waited out most of it even
# though records kept arriving (publish → visible p50 527 ms at 500 events/s; 195 ms with
# 50 ms, bench/bench_projector.py).
FETCH_MAX_WAIT_MS = 50

PositionsSource = Callable[[], Awaitable[Mapping[Position, int]]]


async def follow_as_member(
    bootstrap_servers: str, topics: list[str], step: LogStep, stored_positions: PositionsSource, *,
    group_id: str, client_id: str = "touchpoint-member", max_records: int = 5000, poll_ms: int = 500,
    client_options: Mapping[str, Any] | None = None,
) -> None:
    """Follows `topics` for ever as a member of `group_id`: the group gives this instance its
    share of the partitions and moves them when instances come and go. A partition given to
    this instance starts at the position the database holds (Kafka's committed offset only
    mirrors it); a partition taken away is released only after the batch being written is
    committed, so two instances never write the same partition at once."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, client_id=client_id, group_id=group_id, enable_auto_commit=False,
        auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        **(client_options or {}))
    try:
        await consumer.start()
        listener = _StoredPositions(consumer, stored_positions)
        consumer.subscribe(topics, listener=listener)
        await follow_assigned(consumer, listener, step, group_id=group_id, max_records=max_records, poll_ms=poll_ms)
    except (KafkaError, OSError) as exc:
        raise KafkaUnavailable(f"following {topics} as {group_id} failed: {exc!r}") from exc
    finally:
        await stop_consumer(consumer)


async def follow_assigned(consumer: Any, listener: _StoredPositions, step: LogStep, *, group_id: str,
                          max_records: int, poll_ms: int) -> None:
    """The member's loop. A batch whose fetch overlapped a rebalance is not handled: the new
    assignment may have sought back before it (it was not written yet), so handling it would
    write it twice and dead-letter its undecodable records twice; or the fetch already moved
    past records fetched for the new assignment. Either way the member seeks its partitions to
    the stored positions again and reads from there."""
    mirror = PositionMirror(consumer, group_id)
    try:
        while True:
            fetching_in = listener.generation
            fetched = await consumer.getmany(timeout_ms=poll_ms, max_records=max_records)
            async with listener.writing:
                if listener.generation != fetching_in:
                    await listener.seek_to_stored()
                    continue
                batch = as_batch([decode_record(tp.topic, tp.partition, record.offset, record.key, record.value)
                                  for tp, records in fetched.items() for record in records])
                if len(batch):
                    await step.handle(batch)
            # outside the lock (a commit can wait for a rebalance that waits for the lock), and
            # beside the next fetch and batch: the positions that count are in the database
            if len(batch):
                mirror.add(batch.next_offsets())
            await mirror.tick(new_batch=bool(len(batch)))
    finally:
        await mirror.close()


async def follow_as_member_for_ever(
    bootstrap_servers: str, topics: list[str], step: LogStep, stored_positions: PositionsSource, *,
    name: str, retry_delay: float = 2.0, before_joining: Callable[[], Awaitable[None]] | None = None,
    **member_options: Any,
) -> None:
    """`follow_as_member`, joining the group again after a failure that goes away (a broken
    connection to Kafka, say); a failure that does not go away is raised."""
    while True:
        try:
            if before_joining is not None:
                await before_joining()
            await follow_as_member(bootstrap_servers, topics, step, stored_positions, **member_options)
        except Exception as exc:
            failure = classify(exc)
            if not failure.transient:
                raise
            log.warning("%s: %s; joining again in %.0fs", name, failure.reason, retry_delay)
            await asyncio.sleep(retry_delay)


class _StoredPositions(ConsumerRebalanceListener):
    """Seeks each partition given to the member to its stored position. `generation` counts the
    rebalances, so the member can tell records fetched across one; `writing` is held while a
    batch is written, and a revocation waits for it."""

    def __init__(self, consumer: Any, stored_positions: PositionsSource) -> None:
        self._consumer, self._stored = consumer, stored_positions
        self.writing = asyncio.Lock()
        self.generation = 0

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.writing:  # the batch in hand is committed before another member starts
            self.generation += 1

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.generation += 1
        try:
            await self.seek_to_stored()
        except Exception as exc:  # the committed offsets trail the database's: rereading is harmless
            log.warning("stored positions unavailable (%s); starting from the group's committed offsets",
                        classify(exc).reason)
            return
        if assigned:
            log.info("now following %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(assigned)))

    async def seek_to_stored(self) -> None:
        stored = await self._stored()
        for tp in self._consumer.assignment():  # read after the await: only partitions assigned now can seek
            self._consumer.seek(tp, stored.get((tp.topic, tp.partition), 0))


class PositionMirror:
    """Mirrors the database's positions into the group's committed offsets, so lag reporting
    sees the member (best effort: the database stays the source of truth). One commit runs at
    a time, beside the next batch. Positions whose commit failed (a rebalance in progress,
    say) are tried again with the next batch or, when none comes, after `retry_after`
    seconds: an idle group still shows where it stopped."""

    def __init__(self, consumer: Any, group_id: str, retry_after: float = 2.0) -> None:
        self._consumer, self._group_id, self._retry_after = consumer, group_id, retry_after
        self.pending: dict[Position, int] = {}
        self._running: asyncio.Task[dict[Position, int]] | None = None
        self._failed_at: float | None = None

    def add(self, positions: Mapping[Position, int]) -> None:
        self.pending.update(positions)

    async def tick(self, new_batch: bool) -> None:
        if self._running is not None:
            if not new_batch and not self._running.done():
                return
            failed = await self._running
            self._running = None
            for position, offset in failed.items():  # a later position of the same partition wins
                self.pending.setdefault(position, offset)
            self._failed_at = time.monotonic() if failed else None
        if not self.pending:
            return
        if not new_batch and self._failed_at is not None and time.monotonic() - self._failed_at < self._retry_after:
            return
        # only partitions assigned now can be committed; a partition taken away is the new owner's to report
        assigned = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        positions = {position: offset for position, offset in self.pending.items() if position in assigned}
        self.pending = {}
        if positions:
            self._running = asyncio.create_task(self._commit(positions))

    async def _commit(self, positions: dict[Position, int]) -> dict[Position, int]:
        try:
            await self._consumer.commit({TopicPartition(t, p): o for (t, p), o in positions.items()})
        except KafkaError as exc:
            log.info("could not mirror positions of %s to Kafka (%r); trying again", self._group_id, exc)
            return positions
        return {}

    async def close(self) -> None:
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)


async def read_ahead(batches: AsyncIterator[Batch], depth: int = 2) -> AsyncIterator[Batch]:
    """Fetches and decodes the next batches while the current one is written."""
    queue: asyncio.Queue[Batch | None] = asyncio.Queue(maxsize=depth)

    async def fill() -> None:
        try:
            async for batch in batches:
                await queue.put(batch)
        except asyncio.CancelledError:
            raise  # the consumer went away; nobody waits for the end marker
        except BaseException:
            await queue.put(None)
            raise
        await queue.put(None)

    task = asyncio.create_task(fill())
    try:
        while (batch := await queue.get()) is not None:
            yield batch
        await task  # re-raises a failure of the reader
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# ---- the live path: a Faust agent ------------------------------------------------------------


def batch_agent(app, source, step: Callable[[], Awaitable[LogStep]], batch: int, within: float,  # type: ignore[no-untyped-def]
                name: str, on_stop: Callable[[], Awaitable[None]] | None = None) -> None:
    """Registers a Faust agent on `source` that hands batches of raw records to the step
    (`step()` builds or returns it once the worker runs). Faust commits a record's offset only
    after the agent moved past it, so a crash replays at most the batch being written, which
    the writers recognise as applied."""

    async def follow(stream):  # type: ignore[no-untyped-def]
        handle = await step()
        try:
            async for events in stream.take_events(batch, within=within):
                records = [decode_record(e.message.topic, e.message.partition, e.message.offset, e.message.key,
                                         e.message.value) for e in events]
                await handle.handle(as_batch(records))
        finally:
            if on_stop is not None:
                await on_stop()

    follow.__name__ = name
    follow.__qualname__ = name
    app.agent(source, concurrency=1, name=name)(follow)


def as_batch(items: Sequence[Consumed | Undecodable]) -> Batch:
    batch = Batch()
    for item in items:
        (batch.events if isinstance(item, Consumed) else batch.invalid).append(item)
    return batch
