"""Consumer lag per group and partition, read from the broker: the end offset of each
partition minus the offset the group committed there."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from shared.kafka.consumer import partitions_of, stop_consumer
from shared.kafka.errors import KafkaUnavailable


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


RETRIES = 5
RETRY_DELAY_S = 0.5


async def consumer_lag(bootstrap_servers: str, topic_prefix: str) -> list[PartitionLag]:
    """Lag of every consumer group that reads a topic starting with `topic_prefix`. A broker
    that is still loading its group offsets (just started) is asked again a few times."""
    for attempt in range(1, RETRIES):
        try:
            return await _read_lag(bootstrap_servers, topic_prefix)
        except KafkaUnavailable as exc:
            if not getattr(exc.__cause__, "retriable", False):
                raise
            await asyncio.sleep(RETRY_DELAY_S * attempt)
    return await _read_lag(bootstrap_servers, topic_prefix)


async def _read_lag(bootstrap_servers: str, topic_prefix: str) -> list[PartitionLag]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    try:
        await admin.start()
        await consumer.start()
        committed: dict[tuple[str, TopicPartition], int] = {}
        for group_id, _protocol in await admin.list_consumer_groups():
            offsets = await admin.list_consumer_group_offsets(group_id)
            topics = sorted({tp.topic for tp in offsets if tp.topic.startswith(topic_prefix)})
            if not topics:
                continue
            # a partition the group never committed on still counts, from its start
            starts = await consumer.beginning_offsets(await partitions_of(consumer, topics))
            for tp, start in starts.items():
                meta = offsets.get(tp)
                committed[(group_id, tp)] = meta.offset if meta is not None and meta.offset >= 0 else start
        ends = await consumer.end_offsets(sorted({tp for _, tp in committed})) if committed else {}
    except (KafkaError, OSError) as exc:
        raise KafkaUnavailable(f"cannot read consumer offsets from {bootstrap_servers}: {exc!r}") from exc
    finally:
        await admin.close()
        await stop_consumer(consumer)
    rows = [
        PartitionLag(group, tp.topic, tp.partition, offset, ends.get(tp, offset))
        for (group, tp), offset in committed.items()
    ]
    return sorted(rows, key=lambda r: (r.group, r.topic, r.partition))


def run(settings, as_json: bool = False) -> None:  # type: ignore[no-untyped-def]
    rows = asyncio.run(consumer_lag(settings.bootstrap_servers, settings.topic_prefix))
    if as_json:
        print(json.dumps([{**asdict(row), "lag": row.lag} for row in rows], indent=2))
        return
    table = Table(title=f"consumer lag at {settings.bootstrap_servers}")
    for column in ("group", "topic", "partition", "committed", "end", "lag"):
        table.add_column(column, justify="right" if column in ("partition", "committed", "end", "lag") else "left")
    for row in rows:
        table.add_row(row.group, row.topic, str(row.partition), str(row.committed), str(row.end),
                      f"[red]{row.lag}[/]" if row.lag else "0")
    console = Console()
    if rows:
        console.print(table)
    else:
        console.print("no consumer group has committed offsets on these topics yet")
