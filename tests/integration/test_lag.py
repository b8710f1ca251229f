"""`touchpoint lag` reads committed offsets and end offsets from the broker."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from events.topics import Topic, topic_name
from shared.kafka.consumer import stop_consumer
from shared.kafka.lag import consumer_groups, consumer_lag, summarise
from shared.kafka.publisher import KafkaPublisher
from tests.integration.test_kafka_publisher import started

pytestmark = pytest.mark.integration


async def test_lag_is_what_a_group_has_not_committed_yet(kafka_settings):
    topic = topic_name(kafka_settings.topic_prefix, Topic.CALLS)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    try:
        await publisher.publish([started(n) for n in range(12)])
    finally:
        await publisher.stop()
    group = f"{kafka_settings.topic_prefix}readers"
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_settings.bootstrap_servers, group_id=group,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        read = 0
        while read < 5:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5 - read)
            for tp, records in batch.items():
                read += len(records)
                await consumer.commit({tp: records[-1].offset + 1})
    finally:
        await stop_consumer(consumer)

    rows = [row for row in await consumer_lag(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
            if row.group == group]
    assert sum(row.end for row in rows) == 12
    assert sum(row.lag for row in rows) == 12 - 5


async def test_lag_names_each_member_of_a_group_and_the_partitions_it_owns(kafka_settings):
    topic = topic_name(kafka_settings.topic_prefix, Topic.CALLS)  # two partitions in these tests
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    try:
        await publisher.publish([started(n) for n in range(8)])
    finally:
        await publisher.stop()
    group = f"{kafka_settings.topic_prefix}shared"
    consumers = [AIOKafkaConsumer(topic, bootstrap_servers=kafka_settings.bootstrap_servers, group_id=group,
                                  client_id=f"instance-{n}", enable_auto_commit=False,
                                  auto_offset_reset="earliest") for n in (1, 2)]
    try:
        for consumer in consumers:
            await consumer.start()
        for _ in range(60):  # both have joined once each holds one partition
            await asyncio.gather(*(consumer.getmany(timeout_ms=200) for consumer in consumers))
            if all(len(consumer.assignment()) == 1 for consumer in consumers):
                break
        for consumer in consumers:
            await consumer.commit({tp: 0 for tp in consumer.assignment()})
        rows, members = await consumer_groups(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    finally:
        for consumer in consumers:
            await stop_consumer(consumer)

    mine = [member for member in members if member.group == group]
    assert sorted(member.client_id for member in mine) == ["instance-1", "instance-2"]
    assert sorted(p for member in mine for p in member.partitions) == [(topic, 0), (topic, 1)]
    rows = [row for row in rows if row.group == group]
    assert {row.owner for row in rows} == {member.name for member in mine}
    [summary] = [g for g in summarise(rows, mine) if g.group == group]
    assert summary.total == 8 and summary.worst is not None and summary.worst.lag == max(r.lag for r in rows)
