"""A group member and a rebalance: a batch whose fetch overlapped a rebalance is not handled
(the new assignment may have sought back before it, or the fetch already moved past records of
the new assignment); the member reads again from the stored positions, and each record is
handled once."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

import pytest
from aiokafka import TopicPartition

from events.codec import encode
from shared.kafka.follower import Backoff, LogStep, _StoredPositions, follow_assigned
from shared.kafka.publisher import InMemoryPublisher
from tests.complaint_builders import form, utc

TP = TopicPartition("t.webforms", 0)


@dataclass(frozen=True)
class Record:
    offset: int
    key: bytes | None
    value: bytes


class RebalancingConsumer:
    """One partition; a rebalance meets the first fetch, before or after it takes its records."""

    def __init__(self, values: list[bytes], rebalance_after_fetch: bool) -> None:
        self.records = [Record(n, None, value) for n, value in enumerate(values)]
        self.position, self.fetches = 0, 0
        self.rebalance_after_fetch = rebalance_after_fetch
        self.listener: _StoredPositions | None = None

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position = offset

    async def rebalance(self) -> None:
        await self.listener.on_partitions_revoked({TP})
        await self.listener.on_partitions_assigned({TP})

    async def getmany(self, timeout_ms: int, max_records: int) -> dict:
        self.fetches += 1
        if self.fetches == 1 and not self.rebalance_after_fetch:
            await self.rebalance()
        chunk = self.records[self.position:self.position + max_records]
        self.position += len(chunk)
        if self.fetches == 1 and self.rebalance_after_fetch:
            await self.rebalance()
        await asyncio.sleep(0)
        return {TP: chunk} if chunk else {}

    async def commit(self, offsets: dict) -> None:
        return None


@pytest.mark.parametrize("rebalance_after_fetch", [True, False], ids=["stale-batch", "fresh-assignment"])
async def test_records_fetched_across_a_rebalance_are_handled_once_and_none_is_lost(rebalance_after_fetch):
    values = [b"not json at all", encode(form(utc("2026-03-02 09:00"), n="1"))]
    consumer = RebalancingConsumer(values, rebalance_after_fetch)
    stored: dict[tuple[str, int], int] = {}
    written: Counter[int] = Counter()

    async def write(events, next_offsets) -> None:
        written.update(item.offset for item in events)
        stored.update(next_offsets)

    async def stored_positions() -> dict[tuple[str, int], int]:
        return dict(stored)

    deadletters = InMemoryPublisher(topic_prefix="t.")
    consumer.listener = _StoredPositions(consumer, stored_positions)
    step = LogStep("projector", write, deadletters, "t.", Backoff())
    member = asyncio.create_task(follow_assigned(consumer, consumer.listener, step, group_id="t.projector",
                                                 max_records=10, poll_ms=10))
    try:
        for _ in range(200):
            if stored.get(("t.webforms", 0)) == 2:
                break
            await asyncio.sleep(0.005)
        for _ in range(5):  # a few more fetches, in which nothing may be handled again
            await asyncio.sleep(0.005)
    finally:
        member.cancel()
        await asyncio.gather(member, return_exceptions=True)
    assert stored == {("t.webforms", 0): 2}
    assert written == Counter({1: 1})
    assert [value for _topic, value, _key, _headers in deadletters.raw] == [b"not json at all"]
    assert consumer.fetches >= 3  # the fetch overtaken by the rebalance, the one reading again, then idle ones
