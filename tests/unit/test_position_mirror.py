"""Mirroring the database's positions into the group's committed offsets, for lag reporting:
a commit that fails during a rebalance is tried again even when no further batch comes, so an
idle group does not vanish from `touchpoint lag` and /ops; a partition taken away is left to
its new owner."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition
from aiokafka.errors import RebalanceInProgressError

from shared.kafka.follower import PositionMirror

A, B = TopicPartition("t.email", 0), TopicPartition("t.email", 1)


class Consumer:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.assigned = {A, B}
        self.committed: dict[TopicPartition, int] = {}
        self.attempts = 0

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise RebalanceInProgressError()
        unassigned = set(offsets) - self.assigned
        assert not unassigned, f"committed on partitions not assigned: {unassigned}"
        self.committed.update(offsets)


async def idle_ticks(mirror: PositionMirror, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while loop.time() < until:
        await mirror.tick(new_batch=False)
        await asyncio.sleep(0.01)


async def test_a_mirror_that_failed_in_a_rebalance_is_committed_later_without_a_new_batch():
    consumer = Consumer(failures=1)
    mirror = PositionMirror(consumer, "t.projector", retry_after=0.1)
    mirror.add({("t.email", 0): 7})
    await mirror.tick(new_batch=True)
    await idle_ticks(mirror, 0.4)
    await mirror.close()
    assert consumer.committed == {A: 7}
    assert consumer.attempts == 2


async def test_a_failed_mirror_waits_before_trying_again_while_idle():
    consumer = Consumer(failures=100)
    mirror = PositionMirror(consumer, "t.projector", retry_after=0.2)
    mirror.add({("t.email", 0): 7})
    await mirror.tick(new_batch=True)
    await idle_ticks(mirror, 0.3)  # the first try, and one more after 0.2 s; not one per tick
    await mirror.close()
    assert consumer.attempts == 2


async def test_a_later_position_is_not_overwritten_by_a_retried_earlier_one():
    consumer = Consumer(failures=1)
    mirror = PositionMirror(consumer, "t.projector", retry_after=0.05)
    mirror.add({("t.email", 0): 7, ("t.email", 1): 3})
    await mirror.tick(new_batch=True)  # fails
    mirror.add({("t.email", 0): 9})
    await mirror.tick(new_batch=True)  # waits for the failed one, then commits the merged positions
    await mirror.close()
    assert consumer.committed == {A: 9, B: 3}


async def test_positions_of_a_partition_taken_away_are_dropped():
    consumer = Consumer(failures=1)
    mirror = PositionMirror(consumer, "t.projector", retry_after=0.05)
    mirror.add({("t.email", 0): 7, ("t.email", 1): 3})
    await mirror.tick(new_batch=True)  # fails
    consumer.assigned = {A}
    await idle_ticks(mirror, 0.3)
    await mirror.close()
    assert consumer.committed == {A: 7}
    assert mirror.pending == {}
