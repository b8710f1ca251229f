"""Dead letters for the ops page: list them with reason, time, source and a payload preview,
and replay one (after the cause was fixed) to the topic it came from, recording who did it.
A sealed letter (a raw mail the IMAP parser could not read, with privacy on) is opened with its
subject's key; once erasure or retention destroyed the key it shows as erased and is not
replayed. An IMAP letter is replayed by parsing its mail again into the email topic.

A replay is recorded in `deadletter_replays` before the record is produced; the position of
the dead letter is its primary key, so the same dead letter is never replayed twice."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from events.envelope import Event
from events.topics import deadletter_topic, topic_for
from services.ingest.imap.deadletters import SERVICE as IMAP
from services.ingest.imap.deadletters import replayed_mail
from shared.blobs import BlobNotFound, BlobStore
from shared.kafka.consumer import partitions_of, stop_consumer
from shared.kafka.deadletter import DeadLetter
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.topics import SERVICES_WITH_DEADLETTERS
from shared.privacy.blobs import open_blob
from shared.privacy.letters import LetterErased, open_letter
from shared.privacy.runtime import active_sealer

ops_metadata = MetaData()

deadletter_replays = Table(
    "deadletter_replays",
    ops_metadata,
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("offset", BigInteger, primary_key=True),
    Column("replayed_by", String(255), nullable=False),
    Column("replayed_at", DateTime(timezone=True), nullable=False),
    Column("target_topic", String(255), nullable=False),
)

PREVIEW_BYTES = 600


class ReplayRefused(ValueError):
    """The dead letter cannot be replayed (unknown, no source topic, already replayed)."""


@dataclass(frozen=True)
class DeadLetterView:
    topic: str
    partition: int
    offset: int
    letter: DeadLetter
    replayed_by: str | None = None
    erased: bool = False  # sealed, and its key is destroyed: nothing to show or replay

    @property
    def replayable(self) -> bool:
        return not self.erased and (bool(self.letter.source_topic) or is_imap_letter(self.letter))

    @property
    def id(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def preview(self) -> str:
        if self.erased:
            return ""
        text = self.letter.original[:PREVIEW_BYTES].decode("utf-8", errors="replace")
        return text + ("…" if len(self.letter.original) > PREVIEW_BYTES else "")


LETTER_ID = re.compile(r"(?P<topic>[A-Za-z0-9._-]{1,249}):(?P<partition>[0-9]{1,9}):(?P<offset>[0-9]{1,18})")


def parse_id(value: str, topic_prefix: str | None = None) -> tuple[str, int, int]:
    """`topic:partition:offset` of a dead letter; anything else (or, given the prefix, a
    topic that is no dead-letter topic) is refused."""
    found = LETTER_ID.fullmatch(value or "")
    if found is None:
        raise ReplayRefused(f"{value[:80]!r} is not a dead letter id (topic:partition:offset)")
    topic = found["topic"]
    if topic_prefix is not None and topic not in deadletter_topics(topic_prefix):
        raise ReplayRefused(f"{topic} is not a dead-letter topic")
    return topic, int(found["partition"]), int(found["offset"])


def deadletter_topics(topic_prefix: str) -> list[str]:
    return [deadletter_topic(topic_prefix, service) for service in SERVICES_WITH_DEADLETTERS]


async def read_dead_letters(
    bootstrap_servers: str, topic_prefix: str, limit: int = 200, client_options: Mapping[str, Any] | None = None
) -> list[DeadLetterView]:
    """The newest `limit` dead letters of every service, newest first."""
    topics = deadletter_topics(topic_prefix)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **(client_options or {}))
    views: list[DeadLetterView] = []
    try:
        await consumer.start()
        partitions = await partitions_of(consumer, topics)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, max(starts[tp], ends[tp] - limit))
        remaining = {tp for tp in partitions if ends[tp] > max(starts[tp], ends[tp] - limit)}
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=1000)
            if not fetched:
                break
            for tp, records in fetched.items():
                for record in records:
                    letter = DeadLetter.from_record(record.value, record.key, list(record.headers or ()))
                    views.append(DeadLetterView(tp.topic, tp.partition, record.offset, letter))
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
    except KafkaError as exc:
        raise KafkaUnavailable(f"cannot read dead letters: {exc!r}") from exc
    finally:
        await stop_consumer(consumer)
    views.sort(key=lambda v: (v.letter.first_seen or datetime.min.replace(tzinfo=UTC)), reverse=True)
    return await asyncio.to_thread(_opened, views[:limit])  # the key store may be asked


def _opened(views: list[DeadLetterView]) -> list[DeadLetterView]:
    sealer = active_sealer()
    found = []
    for view in views:
        try:
            found.append(replace(view, letter=open_letter(sealer, view.letter)))
        except LetterErased:
            found.append(replace(view, letter=replace(view.letter, original=b""), erased=True))
    return found


def is_imap_letter(letter: DeadLetter) -> bool:
    return letter.service == IMAP and not letter.source_topic


async def with_replays(engine: AsyncEngine, views: list[DeadLetterView]) -> list[DeadLetterView]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(deadletter_replays))
        done = {(r.topic, r.partition, r.offset): r.replayed_by for r in rows}
    return [replace(v, replayed_by=done.get((v.topic, v.partition, v.offset))) for v in views]


async def fetch_one(
    bootstrap_servers: str, topic: str, partition: int, offset: int, client_options: Mapping[str, Any] | None = None
) -> DeadLetter:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **(client_options or {}))
    try:
        await consumer.start()
        tp = TopicPartition(topic, partition)
        if tp not in await partitions_of(consumer, [topic]):
            raise ReplayRefused(f"no partition {partition} in {topic}")
        consumer.assign([tp])
        consumer.seek(tp, offset)
        fetched = await consumer.getmany(tp, timeout_ms=5000, max_records=1)
        records = fetched.get(tp, [])
        if not records or records[0].offset != offset:
            raise ReplayRefused(f"no dead letter at {topic}:{partition}:{offset}")
        record = records[0]
        return DeadLetter.from_record(record.value, record.key, list(record.headers or ()))
    except KafkaError as exc:
        raise KafkaUnavailable(f"cannot read the dead letter: {exc!r}") from exc
    finally:
        await stop_consumer(consumer)


async def replay(
    engine: AsyncEngine, publisher: KafkaPublisher, bootstrap_servers: str, letter_id: str, actor: str,
    topic_prefix: str | None = None, client_options: Mapping[str, Any] | None = None, blobs: BlobStore | None = None,
) -> str:
    """Republishes a dead letter's original bytes to its source topic (an IMAP letter: the event its
    mail parses into now, to the email topic, its blobs into `blobs`); returns that topic."""
    topic, partition, offset = parse_id(letter_id, topic_prefix)
    letter = await fetch_one(bootstrap_servers, topic, partition, offset, client_options)
    try:
        letter = await asyncio.to_thread(open_letter, active_sealer(), letter)
    except LetterErased as exc:
        raise ReplayRefused(str(exc)) from None
    mail = None
    if is_imap_letter(letter):
        if blobs is None:
            raise ReplayRefused("an IMAP dead letter is replayed where the blob store is at hand (the ops page)")
        mail = await asyncio.to_thread(_reparse, letter, blobs)
        target = topic_for(topic.removesuffix(deadletter_topic("", IMAP)), mail.type)  # the prefix of its own topic
    elif letter.source_topic:
        target = letter.source_topic
    else:
        raise ReplayRefused("this dead letter did not come from a topic (e.g. a rejected webhook); it cannot be replayed")
    try:
        async with engine.begin() as conn:
            await conn.execute(deadletter_replays.insert().values(
                topic=topic, partition=partition, offset=offset, replayed_by=actor,
                replayed_at=datetime.now(UTC), target_topic=target,
            ))
            # produce inside the transaction: if Kafka fails, the replay is not recorded
            if mail is not None:
                await publisher.publish([mail])
            else:
                await publisher.send_raw(
                    target, letter.original, letter.key,
                    [("replayed_from", letter_id.encode()), ("replayed_by", actor.encode())],
                )
    except IntegrityError:
        raise ReplayRefused(f"{letter_id} was already replayed") from None
    return target


def _reparse(letter: DeadLetter, blobs: BlobStore) -> Event:
    def read(sha256: str, key: str | None) -> bytes:
        return open_blob(blobs.read(sha256), key)

    try:
        return replayed_mail(letter, blobs, read, datetime.now(UTC))
    except BlobNotFound as exc:
        raise ReplayRefused(f"the raw mail of this dead letter is gone: {exc}") from None
    except OSError:
        raise  # the blob store failed: try again later
    except Exception as exc:  # the parser still fails on it: the cause is not fixed yet
        raise ReplayRefused(f"the mail still cannot be parsed: {type(exc).__name__}: {exc}"[:500]) from None
