"""Consumer lag per group and partition, read from the broker: the end offset of each
partition minus the offset the group committed there; and which member of each group owns
which partitions, so a scaled-out service shows how its instances share the work."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from shared.kafka.consumer import partitions_of, stop_consumer
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.security import client_options


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int
    owner: str = ""  # the member that has the partition assigned: "client-id@host"; "" when none

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


@dataclass(frozen=True)
class GroupMember:
    group: str
    client_id: str
    host: str
    partitions: tuple[tuple[str, int], ...]

    @property
    def name(self) -> str:
        return f"{self.client_id}@{self.host.lstrip('/')}"


@dataclass(frozen=True)
class GroupLag:
    """One group at a glance: its total lag, the partition furthest behind, its members."""

    group: str
    total: int
    worst: PartitionLag | None
    members: tuple[GroupMember, ...]
    partitions: tuple[PartitionLag, ...]


def members_of(described_groups: list[tuple]) -> list[GroupMember]:
    """Members and their assigned partitions from DescribeGroups rows
    `(error, group, state, protocol_type, protocol, members, ...)`."""
    found = []
    for row in described_groups:
        group, protocol_type, members = row[1], row[3], row[5]
        for _member_id, client_id, host, _metadata, assignment in members:
            partitions: tuple[tuple[str, int], ...] = ()
            if protocol_type == "consumer" and assignment:
                try:
                    decoded = ConsumerProtocolMemberAssignment.decode(assignment)
                    partitions = tuple(sorted((tp.topic, tp.partition) for tp in decoded.partitions()))
                except Exception:  # an assignment in another encoding still names its member
                    partitions = ()
            found.append(GroupMember(group, client_id, host, partitions))
    return found


def with_owners(rows: list[PartitionLag], members: list[GroupMember]) -> list[PartitionLag]:
    owners = {(m.group, topic, partition): m.name for m in members for topic, partition in m.partitions}
    return [replace(row, owner=owners.get((row.group, row.topic, row.partition), "")) for row in rows]


def summarise(rows: list[PartitionLag], members: list[GroupMember]) -> list[GroupLag]:
    groups = sorted({row.group for row in rows} | {m.group for m in members})
    summary = []
    for group in groups:
        partitions = tuple(row for row in rows if row.group == group)
        worst = max(partitions, key=lambda row: row.lag, default=None)
        summary.append(GroupLag(group, sum(row.lag for row in partitions), worst if worst and worst.lag else None,
                                tuple(m for m in members if m.group == group), partitions))
    return summary


RETRIES = 5
RETRY_DELAY_S = 0.5


async def consumer_lag(
    bootstrap_servers: str, topic_prefix: str, client_options: Mapping[str, Any] | None = None
) -> list[PartitionLag]:
    """Lag of every consumer group that reads a topic starting with `topic_prefix`, each
    partition with the member that owns it."""
    rows, _members = await consumer_groups(bootstrap_servers, topic_prefix, client_options)
    return rows


async def consumer_groups(
    bootstrap_servers: str, topic_prefix: str, client_options: Mapping[str, Any] | None = None
) -> tuple[list[PartitionLag], list[GroupMember]]:
    """Lag per partition and the members of every group reading the prefix's topics. A broker
    that is still loading its group offsets (just started) is asked again a few times."""
    for attempt in range(1, RETRIES):
        try:
            return await _read_lag(bootstrap_servers, topic_prefix, client_options)
        except KafkaUnavailable as exc:
            if not getattr(exc.__cause__, "retriable", False):
                raise
            await asyncio.sleep(RETRY_DELAY_S * attempt)
    return await _read_lag(bootstrap_servers, topic_prefix, client_options)


async def _read_lag(
    bootstrap_servers: str, topic_prefix: str, client_options: Mapping[str, Any] | None = None
) -> tuple[list[PartitionLag], list[GroupMember]]:
    options = dict(client_options or {})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000, **options)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **options)
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
        groups = sorted({group for group, _ in committed})
        # one group per request: aiokafka misreads answers that several coordinators send at once
        described = [row for group in groups for response in await admin.describe_consumer_groups([group])
                     for row in response.groups]
    except (KafkaError, OSError) as exc:
        raise KafkaUnavailable(f"cannot read consumer offsets from {bootstrap_servers}: {exc!r}") from exc
    finally:
        await admin.close()
        await stop_consumer(consumer)
    rows = [
        PartitionLag(group, tp.topic, tp.partition, offset, ends.get(tp, offset))
        for (group, tp), offset in committed.items()
    ]
    members = members_of(described)
    return with_owners(sorted(rows, key=lambda r: (r.group, r.topic, r.partition)), members), members


def run(settings, as_json: bool = False) -> None:  # type: ignore[no-untyped-def]
    rows, members = asyncio.run(consumer_groups(settings.bootstrap_servers, settings.topic_prefix,
                                                client_options(settings)))
    if as_json:
        print(json.dumps([{**asdict(row), "lag": row.lag} for row in rows], indent=2))
        return
    console = Console()
    if not rows:
        console.print("no consumer group has committed offsets on these topics yet")
        return
    table = Table(title=f"consumer lag at {settings.bootstrap_servers}")
    for column in ("group", "topic", "partition", "committed", "end", "lag", "owner"):
        table.add_column(column, justify="right" if column in ("partition", "committed", "end", "lag") else "left")
    for row in rows:
        table.add_row(row.group, row.topic, str(row.partition), str(row.committed), str(row.end),
                      f"[red]{row.lag}[/]" if row.lag else "0", row.owner or "[dim]unassigned[/]")
    console.print(table)
    console.print(members_table(summarise(rows, members)))


def members_table(groups: list[GroupLag]) -> Table:
    table = Table(title="group members")
    for column in ("group", "member", "partitions", "lag"):
        table.add_column(column, justify="right" if column == "lag" else "left")
    for group in groups:
        if not group.members:
            table.add_row(group.group, "[dim]no member (stopped, or positions kept elsewhere)[/]", "", str(group.total))
        for member in group.members:
            owned = [row for row in group.partitions if row.owner == member.name]
            table.add_row(group.group, member.name, ", ".join(f"{t}/{p}" for t, p in member.partitions) or "none",
                          str(sum(row.lag for row in owned)))
    return table
