"""The consumer step every view shares: transient failures are retried until they pass, a
permanently refused event is isolated, dead-lettered, and the rest of its batch committed."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from shared.kafka.consumer import Batch, Consumed, Undecodable
from shared.kafka.errors import KafkaUnavailable, classify
from shared.kafka.follower import Backoff, LogStep
from shared.kafka.publisher import InMemoryPublisher
from tests.complaint_builders import form, utc

AT = utc("2026-03-02 09:00")


class FakeSqlState(Exception):
    def __init__(self, sqlstate: str, text: str) -> None:
        super().__init__(text)
        self.sqlstate = sqlstate


def db_error(sqlstate: str, text: str = "refused") -> DBAPIError:
    return DBAPIError("INSERT ...", {}, FakeSqlState(sqlstate, text))


class Writer:
    """Commits what it is given, except events named poison (permanent) and `outages` first."""

    def __init__(self, poison: set[int] = frozenset(), outages: int = 0) -> None:
        self.poison, self.outages = poison, outages
        self.committed: list[tuple[list[int], dict]] = []

    async def __call__(self, consumed, offsets) -> None:
        if self.outages:
            self.outages -= 1
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database is starting up"))
        if any(c.offset in self.poison for c in consumed):
            raise db_error("22021", 'invalid byte sequence for encoding "UTF8": 0x00')
        self.committed.append(([c.offset for c in consumed], dict(offsets)))


def batch_of(count: int, partition: int = 0) -> Batch:
    return Batch(events=[Consumed(form(AT, n=str(n)), "t.webforms", partition, n, raw=b"raw-%d" % n)
                         for n in range(count)])


def step(writer: Writer, publisher: InMemoryPublisher, sleeps: list[float] | None = None) -> LogStep:
    async def sleep(delay: float) -> None:
        if sleeps is not None:
            sleeps.append(delay)

    return LogStep("projector", writer, publisher, "t.", Backoff(first=0.5, cap=2.0), sleep)


@pytest.mark.parametrize(("error", "transient"), [
    (db_error("22021"), False),  # invalid byte sequence
    (db_error("22001"), False),  # value too long
    (db_error("22003"), False),  # numeric out of range
    (db_error("23503"), False),  # foreign key
    (db_error("23514"), False),  # check
    (db_error("23505"), True),  # unique: another worker applied it first, a retry skips it
    (db_error("40001"), True),  # serialisation failure
    (db_error("40P01"), True),  # deadlock
    (db_error("08006"), True),  # connection failure
    (db_error("57P01"), True),  # admin shutdown
    (DBAPIError("x", {}, sqlite3.IntegrityError("CHECK constraint failed")), False),
    (DBAPIError("x", {}, sqlite3.OperationalError("database is locked")), True),
    (KafkaUnavailable("broker down"), True),
    (ConnectionRefusedError(), True),
    (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), False),
    (KeyError("payload"), False),
])
def test_errors_are_classified_once_for_every_consumer(error, transient):
    assert classify(error).transient is transient


async def test_a_poison_event_is_dead_lettered_and_the_rest_of_its_batch_committed():
    writer, publisher = Writer(poison={5}), InMemoryPublisher(topic_prefix="t.")
    await step(writer, publisher).handle(batch_of(8))
    committed = sorted(n for offsets, _ in writer.committed for n in offsets)
    assert committed == [0, 1, 2, 3, 4, 6, 7]
    [(topic, value, _, headers)] = publisher.raw
    assert (topic, value) == ("t.deadletter.projector", b"raw-5")
    assert dict(headers)["dlq.reason"].startswith(b"refused by the database (22021")
    assert writer.committed[-1][1] == {("t.webforms", 0): 8}  # the positions end past the batch


async def test_positions_never_go_back_while_a_batch_is_split():
    writer, publisher = Writer(poison={0, 6}), InMemoryPublisher(topic_prefix="t.")
    await step(writer, publisher).handle(batch_of(7))
    stored = [offsets[("t.webforms", 0)] for _, offsets in writer.committed if offsets]
    assert stored == sorted(stored) and stored[-1] == 7
    assert [dict(h)["dlq.source_offset"] for _, _, _, h in publisher.raw] == [b"0", b"6"]


async def test_undecodable_records_are_dead_lettered_and_their_positions_stored():
    writer, publisher = Writer(), InMemoryPublisher(topic_prefix="t.")
    bad = Batch(events=batch_of(2).events, invalid=[Undecodable("not JSON", b"{oops", None, "t.webforms", 0, 2)])
    await step(writer, publisher).handle(bad)
    assert writer.committed == [([0, 1], {("t.webforms", 0): 3})]
    assert [value for _, value, _, _ in publisher.raw] == [b"{oops"]


async def test_a_transient_failure_is_retried_with_growing_capped_delays_and_nothing_is_dead_lettered():
    writer, publisher, sleeps = Writer(outages=4), InMemoryPublisher(topic_prefix="t."), []
    await step(writer, publisher, sleeps).handle(batch_of(3))
    assert sleeps == [0.5, 1.0, 2.0, 2.0]
    assert writer.committed == [([0, 1, 2], {("t.webforms", 0): 3})]
    assert publisher.raw == []


async def test_an_outage_of_the_dead_letter_topic_is_waited_out():
    writer, publisher, sleeps = Writer(poison={0}), InMemoryPublisher(topic_prefix="t."), []
    publisher.fail_with = KafkaUnavailable("broker down")
    handle = step(writer, publisher, sleeps)

    async def recover(delay: float) -> None:
        sleeps.append(delay)
        publisher.fail_with = None

    handle._sleep = recover
    await handle.handle(batch_of(1))
    assert sleeps == [0.5] and len(publisher.raw) == 1
    assert writer.committed == [([], {("t.webforms", 0): 1})]
