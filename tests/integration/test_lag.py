"""`touchpoint lag` reads committed offsets and end offsets from the broker."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer

from events.topics import Topic, topic_name
from shared.kafka.consumer import stop_consumer
from shared.kafka.lag import consumer_lag
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
