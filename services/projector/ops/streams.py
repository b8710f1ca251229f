"""Stream health for the ops page and Prometheus: throughput per topic over the last minutes
(sampled end offsets), consumer lag per group (total, worst partition, trend, members) and per
partition, dead letters per service."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from typing import Any
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer
from prometheus_client import Gauge

from events.topics import EVENT_TOPICS, deadletter_topic, topic_name
from shared.kafka.consumer import partitions_of, stop_consumer
from shared.kafka.lag import GroupLag, GroupMember, PartitionLag, consumer_groups, summarise
from shared.kafka.topics import SERVICES_WITH_DEADLETTERS
from shared.periodic import Periodic


TOPIC_END_OFFSET = Gauge("touchpoint_topic_end_offset", "Sum of end offsets over a topic's partitions", ["topic"])
CONSUMER_LAG = Gauge("touchpoint_consumer_lag", "Records not yet consumed", ["group", "topic", "partition"])
DEAD_LETTERS_STORED = Gauge("touchpoint_dead_letters_stored", "Records in a service's dead letter topic", ["service"])


@dataclass(frozen=True)
class Sample:
    at: float
    end_offsets: dict[str, int]


@dataclass
class StreamHistory:
    """End-offset samples; throughput is the difference between samples."""

    window_seconds: float = 900
    samples: deque[Sample] = field(default_factory=deque)

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)
        while self.samples and sample.at - self.samples[0].at > self.window_seconds:
            self.samples.popleft()

    def per_minute(self, topic: str, minutes: int = 10) -> list[float]:
        """Events per minute for each of the last `minutes` minutes (oldest first)."""
        if not self.samples:
            return [0.0] * minutes
        now = self.samples[-1].at
        result = []
        for minute in range(minutes, 0, -1):
            start, end = now - minute * 60, now - (minute - 1) * 60
            result.append(float(max(0, self._value_at(topic, end) - self._value_at(topic, start))))
        return result

    def at_each_minute(self, key: str, minutes: int = 10) -> list[int]:
        """The sampled value at the end of each of the last `minutes` minutes (oldest first)."""
        if not self.samples:
            return [0] * minutes
        now = self.samples[-1].at
        return [self._value_at(key, now - (minute - 1) * 60) for minute in range(minutes, 0, -1)]

    def _value_at(self, topic: str, at: float) -> int:
        best = None
        for sample in self.samples:
            if sample.at <= at:
                best = sample
            else:
                break
        if best is None:
            best = self.samples[0]
        return best.end_offsets.get(topic, 0)


@dataclass
class StreamSnapshot:
    throughput: dict[str, list[float]]
    totals: dict[str, int]
    lag: list[PartitionLag]
    dead_letters: dict[str, int]
    groups: list[GroupLag] = field(default_factory=list)
    lag_trend: dict[str, list[int]] = field(default_factory=dict)  # group -> total lag, minute by minute


class StreamMonitor:
    """Samples the broker every `interval` seconds; also feeds the Prometheus gauges."""

    def __init__(self, bootstrap_servers: str, topic_prefix: str, interval: float = 15.0,
                 client_options: Mapping[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap_servers
        self.client_options = dict(client_options or {})
        self.prefix = topic_prefix
        self.history = StreamHistory()
        self.lag: list[PartitionLag] = []
        self.members: list[GroupMember] = []
        self.lag_history = StreamHistory()
        self.dead_letters: dict[str, int] = {}
        self._sampler = Periodic(self.sample_once, interval, "stream sampling")

    @property
    def event_topics(self) -> list[str]:
        return [topic_name(self.prefix, topic) for topic in EVENT_TOPICS]

    async def sample_once(self) -> None:
        dl_topics = {deadletter_topic(self.prefix, s): s for s in SERVICES_WITH_DEADLETTERS}
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, **self.client_options)
        try:
            await consumer.start()
            partitions = await partitions_of(consumer, self.event_topics + list(dl_topics))
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
        finally:
            await stop_consumer(consumer)
        totals: dict[str, int] = {}
        stored: dict[str, int] = {}
        for tp, end in ends.items():
            if tp.topic in dl_topics:
                stored[dl_topics[tp.topic]] = stored.get(dl_topics[tp.topic], 0) + end - starts[tp]
            else:
                totals[tp.topic] = totals.get(tp.topic, 0) + end
        self.history.add(Sample(time.time(), totals))
        self.dead_letters = stored
        self.lag, self.members = await consumer_groups(self.bootstrap, self.prefix, self.client_options)
        self.lag_history.add(Sample(time.time(), {g.group: g.total for g in summarise(self.lag, self.members)}))
        for topic, total in totals.items():
            TOPIC_END_OFFSET.labels(topic).set(total)
        for service, count in stored.items():
            DEAD_LETTERS_STORED.labels(service).set(count)
        for row in self.lag:
            CONSUMER_LAG.labels(row.group, row.topic, str(row.partition)).set(row.lag)

    def snapshot(self, minutes: int = 10) -> StreamSnapshot:
        latest = self.history.samples[-1].end_offsets if self.history.samples else {}
        return StreamSnapshot(
            throughput={topic: self.history.per_minute(topic, minutes) for topic in self.event_topics},
            totals=dict(latest),
            lag=list(self.lag),
            dead_letters=dict(self.dead_letters),
            groups=summarise(self.lag, self.members),
            lag_trend={group: self.lag_history.at_each_minute(group, minutes)
                       for group in {row.group for row in self.lag}},
        )

    def start(self) -> None:
        self._sampler.start()

    async def stop(self) -> None:
        await self._sampler.stop()
