"""Publishing events to Kafka.

`Publisher.publish(events)` returns only after the broker acknowledged every event
(`acks="all"`, idempotent producer); when it cannot, it raises `KafkaUnavailable` within the
configured request timeout instead of hanging or dropping. Callers answer providers only after
it returned.

Concurrent `publish` calls share produce requests: the producer sends at once (no linger)
whenever no request to the broker is in flight, and what arrives meanwhile travels together in
the next request, each caller still awaiting the acknowledgement of its own records. A linger
only adds its delay to every cycle: with one request in flight per broker, waiting for the
acknowledgement already gathers the concurrent records."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from events.codec import encode, protection, record_key
from events.envelope import Event
from events.topics import topic_for
from shared.kafka.errors import KafkaUnavailable, TransientError
from shared.kafka.security import client_options
from shared.metrics import EVENTS_PUBLISHED, PUBLISH_LATENCY


MAX_BATCH_BYTES = 256 * 1024


class Publisher(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, events: Sequence[Event]) -> None:
        """Returns after every event is acknowledged; raises KafkaUnavailable otherwise."""


def record_headers(event: Event) -> list[tuple[str, bytes]]:
    headers = [*_type_headers(event.type, event.schema_version)]
    if event.correlation_id:
        headers.append(("correlation_id", event.correlation_id.encode()))
    return headers


@functools.lru_cache(maxsize=256)
def _type_headers(event_type: str, schema_version: int) -> tuple[tuple[str, bytes], ...]:
    return ("type", event_type.encode()), ("schema_version", str(schema_version).encode())


@functools.lru_cache(maxsize=64)
def _topic(prefix: str, event_type: str) -> str:
    return topic_for(prefix, event_type)


class KeyPartitioner(DefaultPartitioner):
    """aiokafka's default partitioning (murmur2 of the key, as the Java client does), remembered
    for recent keys: the same contacts recur, and aiokafka's murmur2 is pure Python."""

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return super().__call__(key, all_partitions, available)
        return _slot_of(key, tuple(all_partitions))


@functools.lru_cache(maxsize=16_384)
def _slot_of(key: bytes, partitions: tuple[int, ...]) -> int:
    return DefaultPartitioner.__call__(key, list(partitions), [])


@functools.lru_cache(maxsize=256)
def _published_counter(channel: str, event_type: str):  # type: ignore[no-untyped-def]
    return EVENTS_PUBLISHED.labels(channel, event_type)


T = TypeVar("T")


class KeysNeeded(TransientError):
    """Events published inside a write transaction need data keys this process has not fetched.
    Making a key writes to the database, which on SQLite waits for that very transaction."""

    def __init__(self, events: Sequence[Event]) -> None:
        super().__init__(f"{len(events)} event(s) need data keys before the transaction publishes them")
        self.events = list(events)


def keys_missing(events: Sequence[Event]) -> bool:
    """True when sealing `events` would fetch or make a data key (none is cached here)."""
    waits = getattr(protection(), "sealing_waits", None)
    return waits is not None and bool(waits(events))


def require_keys(events: Sequence[Event]) -> None:
    """Called inside a write transaction before it publishes `events` (see `keys_first`)."""
    if keys_missing(events):
        raise KeysNeeded(events)


async def prepare_keys(events: Sequence[Event]) -> None:
    """Fetches or makes the data keys `events` will be sealed with (outside any transaction)."""
    prepare = getattr(protection(), "prepare", None)
    if prepare is not None and events:
        await asyncio.to_thread(prepare, events)


async def encoded(events: Sequence[Event]) -> list[bytes]:
    """The events' bytes. When sealing them needs a key not cached yet (a database round
    trip), the keys are fetched in a thread first, so that other requests go on meanwhile."""
    if keys_missing(events):
        await prepare_keys(events)
    return [encode(event) for event in events]


async def keys_first(write: Callable[[], Awaitable[T]], rounds: int = 3) -> T:
    """Runs `write`, a transaction that calls `require_keys` before it publishes. When it needs keys,
    it rolls back, the keys are made, and it runs again: it derives the same events (their ids
    are deterministic), now with their keys at hand."""
    for _ in range(rounds - 1):
        try:
            return await write()
        except KeysNeeded as missing:
            await prepare_keys(missing.events)
    return await write()


class KafkaPublisher:
    def __init__(
        self,
        bootstrap_servers: str,
        topic_prefix: str,
        request_timeout_ms: int = 15_000,
        compression: str | None = "gzip",
        client_id: str = "touchpoint",
        client_options: Mapping[str, Any] | None = None,
        linger_ms: int = 0,
    ) -> None:
        self._prefix = topic_prefix
        self._timeout_s = request_timeout_ms / 1000
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            compression_type=None if compression in (None, "none") else compression,
            request_timeout_ms=request_timeout_ms,
            linger_ms=linger_ms,
            max_request_size=1_048_576,
            # a batch of mails (a few KB each) fits in one request per partition instead of
            # waiting for the acknowledgement of each 16 KB slice
            max_batch_size=MAX_BATCH_BYTES,
            partitioner=KeyPartitioner(),
            **(client_options or {}),
        )
        self._started = False

    @classmethod
    def for_settings(cls, settings, client_id: str, **overrides: Any) -> KafkaPublisher:  # type: ignore[no-untyped-def]
        """A publisher as the settings describe it: cluster, security, timeout and compression."""
        options = dict(request_timeout_ms=settings.kafka_request_timeout_ms, compression=settings.kafka_compression,
                       client_id=client_id, client_options=client_options(settings))
        return cls(settings.bootstrap_servers, settings.topic_prefix, **{**options, **overrides})

    async def start(self) -> None:
        if self._started:
            return
        try:
            await asyncio.wait_for(self._producer.start(), self._timeout_s)
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            await self._producer.stop()
            raise KafkaUnavailable(f"cannot reach Kafka: {exc!r}") from exc
        self._started = True

    async def stop(self) -> None:
        # a producer never started is closed too: left to the collector, aiokafka logs it as unclosed
        self._started = False
        await self._producer.stop()

    async def publish(self, events: Sequence[Event]) -> None:
        if not self._started:
            await self.start()
        started = time.perf_counter()
        values = await encoded(events)  # before the clock for Kafka starts: sealing may fetch keys
        try:
            async with asyncio.timeout(self._timeout_s * 2):
                futures = [
                    await self._producer.send(
                        _topic(self._prefix, event.type),
                        value=value,
                        key=record_key(event),
                        headers=record_headers(event),
                    )
                    for event, value in zip(events, values, strict=True)
                ]
                await asyncio.gather(*futures)
        except (KafkaError, OSError, TimeoutError) as exc:
            raise KafkaUnavailable(f"Kafka did not acknowledge {len(events)} event(s): {exc!r}") from exc
        PUBLISH_LATENCY.observe(time.perf_counter() - started)
        for event in events:
            _published_counter(event.channel, event.type).inc()

    async def send_raw(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        """Produces bytes as they are (dead letters, replays); returns after the ack."""
        if not self._started:
            await self.start()
        try:
            await asyncio.wait_for(
                self._producer.send_and_wait(topic, value=value, key=key, headers=headers), self._timeout_s * 2
            )
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            raise KafkaUnavailable(f"Kafka did not acknowledge a write to {topic}: {exc!r}") from exc


@dataclass
class InMemoryPublisher:
    """For unit tests: keeps what was published; `fail_with` simulates an outage."""

    topic_prefix: str = "touchpoint."
    published: list[tuple[str, str, Event]] = field(default_factory=list)
    fail_with: Exception | None = None
    raw: list[tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]] = field(default_factory=list)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, events: Sequence[Event]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        for event in events:
            self.published.append((topic_for(self.topic_prefix, event.type), event.partition_key(), event))

    async def send_raw(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.raw.append((topic, value, key, headers))

    @property
    def events(self) -> list[Event]:
        return [event for _, _, event in self.published]
