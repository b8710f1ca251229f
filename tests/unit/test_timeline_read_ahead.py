"""Catch-up reads the next batches while the current one is written, without losing order
or swallowing a reader failure."""

from __future__ import annotations

import asyncio

import pytest

from shared.kafka.follower import read_ahead
from shared.kafka.consumer import Batch, Undecodable
from shared.kafka.errors import KafkaUnavailable


def batch(n: int) -> Batch:
    return Batch(invalid=[Undecodable("test", b"", None, "t", 0, n)])


async def source(count: int, fail: bool = False):
    for n in range(count):
        yield batch(n)
    if fail:
        raise KafkaUnavailable("broker went away")


async def test_batches_come_out_in_the_order_they_were_read():
    seen = [b.invalid[0].offset async for b in read_ahead(source(7))]
    assert seen == list(range(7))


async def test_a_reader_failure_reaches_the_consumer_after_the_batches_read_before_it():
    seen = []
    with pytest.raises(KafkaUnavailable, match="broker went away"):
        async for b in read_ahead(source(3, fail=True)):
            seen.append(b.invalid[0].offset)
    assert seen == [0, 1, 2]


async def test_stopping_early_stops_the_reader():
    before = asyncio.all_tasks()
    reader = read_ahead(source(100))
    await anext(reader)
    assert len(asyncio.all_tasks() - before) == 1  # the reader, ahead of us
    await reader.aclose()
    assert asyncio.all_tasks() - before == set()
