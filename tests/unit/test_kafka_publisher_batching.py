"""The Kafka publisher under concurrency, against a stand-in for aiokafka's producer whose
acknowledgements the test gives one by one: concurrent callers share the producer, and each
returns only once its own records are acknowledged."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaTimeoutError
from aiokafka.partitioner import DefaultPartitioner

from events import ContactIdentifiers, event_id_for
from events.call import CallStarted, CallStartedPayload
from shared.kafka import publisher as publisher_module
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import KafkaPublisher, KeyPartitioner


def started(n: int) -> CallStarted:
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    return CallStarted(
        event_id=event_id_for("call.started", "cti", f"c-{n}"), occurred_at=now, recorded_at=now, source="cti",
        contact=ContactIdentifiers(phone=f"+49151000000{n:02d}"),
        payload=CallStartedPayload(provider="cti", call_id=f"c-{n}", direction="inbound"),
    )


class HandAckedProducer:
    """Keeps every record's future; the test resolves them."""

    instances: list[HandAckedProducer] = []

    def __init__(self, **config: object) -> None:
        self.config = config
        self.pending: dict[bytes, asyncio.Future[None]] = {}
        HandAckedProducer.instances.append(self)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, topic: str, value: bytes, key: bytes, headers: list) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        return future


@pytest.fixture
def producer(monkeypatch) -> HandAckedProducer:
    HandAckedProducer.instances = []
    monkeypatch.setattr(publisher_module, "AIOKafkaProducer", HandAckedProducer)
    return HandAckedProducer  # type: ignore[return-value]


async def until(condition, timeout: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0)


async def test_concurrent_publishes_each_return_once_their_own_records_are_acknowledged(producer):
    publisher = KafkaPublisher("kafka.invalid:9092", "t.")
    first = asyncio.create_task(publisher.publish([started(1)]))
    second = asyncio.create_task(publisher.publish([started(2), started(3)]))
    [hand] = producer.instances
    await until(lambda: len(hand.pending) == 3)

    hand.pending[b"phone:+4915100000002"].set_result(None)
    hand.pending[b"phone:+4915100000001"].set_result(None)
    await first
    await asyncio.sleep(0.01)
    assert not second.done()  # one of its two records is still unacknowledged

    hand.pending[b"phone:+4915100000003"].set_result(None)
    await second


async def test_a_failed_acknowledgement_fails_only_the_publish_that_owns_the_record(producer):
    publisher = KafkaPublisher("kafka.invalid:9092", "t.")
    first = asyncio.create_task(publisher.publish([started(1)]))
    second = asyncio.create_task(publisher.publish([started(2)]))
    [hand] = producer.instances
    await until(lambda: len(hand.pending) == 2)

    hand.pending[b"phone:+4915100000001"].set_exception(KafkaTimeoutError())
    hand.pending[b"phone:+4915100000002"].set_result(None)
    with pytest.raises(KafkaUnavailable):
        await first
    await second


def test_the_producer_waits_for_all_replicas_and_sends_without_linger(producer):
    KafkaPublisher("kafka.invalid:9092", "t.")
    [hand] = producer.instances
    assert hand.config["acks"] == "all" and hand.config["enable_idempotence"] is True
    # concurrent records gather while a request is in flight; a linger would only add delay
    assert hand.config["linger_ms"] == 0


def test_keys_go_to_the_same_partitions_as_with_kafkas_default_partitioner():
    ours, kafkas = KeyPartitioner(), DefaultPartitioner()
    partitions = [0, 1, 2, 3]
    keys = [f"phone:+49151{n:08d}".encode() for n in range(200)] + [b"email:kunde@example.org", b""]
    for key in keys:
        assert ours(key, partitions, partitions) == kafkas(key, partitions, partitions)
        assert ours(key, partitions, partitions) == kafkas(key, partitions, partitions)  # remembered


async def test_a_publisher_that_never_published_closes_its_producer_when_stopped(caplog):
    """A dead-letter publisher of a quiet follower is never started; stopping it closes the
    producer, so that shutting a service down logs no "Unclosed AIOKafkaProducer" error."""
    publisher = KafkaPublisher("127.0.0.1:9", "t.")
    await publisher.stop()
    del publisher
    gc.collect()
    assert not [r for r in caplog.records if "Unclosed AIOKafkaProducer" in r.getMessage()]
