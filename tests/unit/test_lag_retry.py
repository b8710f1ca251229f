"""`touchpoint lag` asks again while the broker is still loading group offsets, and gives up
at once on an error that asking again cannot fix."""

from __future__ import annotations

import pytest
from aiokafka.errors import GroupLoadInProgressError

from shared.kafka import lag
from shared.kafka.errors import KafkaUnavailable

ROWS = [lag.PartitionLag("g", "t.email", 0, committed=3, end=5)]


def failing(times: int, cause: Exception, calls: list[int]):
    async def read(bootstrap_servers: str, topic_prefix: str, client_options=None) -> tuple[list[lag.PartitionLag], list]:
        calls.append(1)
        if len(calls) <= times:
            raise KafkaUnavailable(f"cannot read consumer offsets from {bootstrap_servers}") from cause
        return ROWS, []
    return read


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(lag, "RETRY_DELAY_S", 0)


async def test_a_broker_loading_group_offsets_is_asked_again(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(lag, "_read_lag", failing(2, GroupLoadInProgressError(), calls))
    assert await lag.consumer_lag("kafka:9092", "t.") == ROWS
    assert len(calls) == 3


async def test_it_gives_up_after_a_few_attempts(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(lag, "_read_lag", failing(100, GroupLoadInProgressError(), calls))
    with pytest.raises(KafkaUnavailable):
        await lag.consumer_lag("kafka:9092", "t.")
    assert len(calls) == lag.RETRIES


async def test_an_error_that_retrying_cannot_fix_fails_at_once(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(lag, "_read_lag", failing(1, OSError("connection refused"), calls))
    with pytest.raises(KafkaUnavailable):
        await lag.consumer_lag("kafka:9092", "t.")
    assert len(calls) == 1


def test_members_and_their_partitions_come_from_the_group_description():
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    assignment = ConsumerProtocolMemberAssignment(0, [("t.email", [1, 0])], b"").encode()
    described = [(0, "g", "Stable", "consumer", "range",
                  [("m-1", "projector-a", "/10.0.0.5", b"", assignment),
                   ("m-2", "projector-b", "/10.0.0.6", b"", b"")])]
    members = lag.members_of(described)
    assert [(m.name, m.partitions) for m in members] == [
        ("projector-a@10.0.0.5", (("t.email", 0), ("t.email", 1))),
        ("projector-b@10.0.0.6", ()),
    ]
    rows = lag.with_owners([lag.PartitionLag("g", "t.email", 0, 3, 5), lag.PartitionLag("g", "t.email", 2, 0, 1)],
                           members)
    assert [row.owner for row in rows] == ["projector-a@10.0.0.5", ""]
    [summary] = lag.summarise(rows, members)
    assert (summary.total, summary.worst.partition, len(summary.members)) == (3, 0, 2)


def test_a_group_without_lag_has_no_worst_partition():
    rows = [lag.PartitionLag("g", "t.email", 0, committed=5, end=5)]
    [summary] = lag.summarise(rows, [])
    assert summary.total == 0 and summary.worst is None and summary.members == ()
