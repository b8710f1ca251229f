"""One pass over one folder: fetch what is new since the checkpoint, parse, publish, and only
after Kafka acknowledged, advance the checkpoint. Everything it touches is a port, so the
logic is tested with fakes; the watcher runs it against a real IMAP connection.

A backlog goes in batches. Batches are published and checkpointed one at a time, in UID
order, while the next ones are already being fetched and parsed: the IMAP connection has its
own thread and parsing happens off the event loop (see parsing.py), so fetching, parsing and
waiting for Kafka's acknowledgements overlap. A batch's events are published together and
acknowledged together, and only then is its checkpoint written; a batch whose publish fails
leaves the checkpoint where it was, and the batches prepared after it are dropped.

UIDVALIDITY changed: the folder is read again from UID 1; mails whose event id was already
published are recognised in the checkpoint store and not published again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Literal, Protocol

from events.email import EmailReceived, EmailSent
from services.ingest.imap import metrics
from services.ingest.imap.checkpoints import Checkpoint, CheckpointStore, PublishedMail
from services.ingest.imap.deadletters import MailPlace, blob_pointer, sealed
from services.ingest.imap.parsing import FetchedMail, MailParser, ParseFailure, ParseJob, ThreadParser
from shared.blobs import BlobSink
from shared.kafka.deadletter import DeadLetter, RawProducer, send_to_deadletter
from shared.kafka.publisher import Publisher
from shared.logging import correlation_scope

log = logging.getLogger(__name__)

BATCH_MAILS = 500
PREPARED_AHEAD = 2  # batches fetched and parsed while one is published
BATCH_BYTES = 16 * 1024 * 1024
DEADLETTER_MAX_BYTES = 900_000


@dataclass(frozen=True)
class FolderStatus:
    uidvalidity: int
    exists: int


class FolderSource(Protocol):
    """The IMAP side of a sync, for the currently selected folder. Read-only by contract."""

    async def select(self, folder: str) -> FolderStatus: ...

    async def uids_after(self, uid: int, since: date | None) -> list[int]:
        """UIDs greater than `uid` (arrived on or after `since`, when given), ascending."""

    async def sizes(self, uids: Sequence[int]) -> dict[int, int]: ...

    async def fetch(self, uids: Sequence[int]) -> list[FetchedMail]:
        """Whole messages with BODY.PEEK (nothing is marked read); expunged ones are missing."""


class EventSink(Publisher, RawProducer, Protocol):
    """Kafka: events and dead letters, both returning after the acknowledgement."""


Progress = Callable[[str, int, int], None]  # (folder, done, total)
Prepared = tuple[int, EmailReceived | EmailSent | DeadLetter]  # (uid, what to publish)
PreparedBatch = tuple[list[Prepared], set[str]]  # and the event ids published before the lookup


@dataclass
class FolderSync:
    mailbox: str
    folder: str
    direction: Literal["incoming", "outgoing"]
    sink: EventSink
    store: CheckpointStore
    blobs: BlobSink
    topic_prefix: str
    clock: Callable[[], datetime]
    import_since: date | None = None
    historic_before: datetime | None = None
    progress: Progress | None = None
    parser: MailParser | None = field(default=None, repr=False)  # default: a thread with `blobs`

    def __post_init__(self) -> None:
        if self.parser is None:
            self.parser = ThreadParser(self.blobs)

    async def run(self, source: FolderSource, stop: asyncio.Event | None = None) -> int:
        """Syncs the folder up to now (or until `stop`, between batches); returns how many new
        events were published."""
        status = await source.select(self.folder)
        checkpoint = await self._checkpoint_for(status)
        uids = [uid for uid in await source.uids_after(checkpoint.highest_uid, self.import_since) if uid > checkpoint.highest_uid]
        published = 0
        done = 0
        batches = await self._batches(source, uids)
        # batches ahead of the one being published are already fetched and parsed
        ahead: deque[asyncio.Future[PreparedBatch]] = deque()
        published_here: set[str] = set()  # event ids this run published: newer than a prepared batch's lookup
        try:
            for index, batch in enumerate(batches):
                if stop is not None and stop.is_set():
                    return published
                while len(ahead) <= PREPARED_AHEAD and index + len(ahead) < len(batches):
                    ahead.append(asyncio.ensure_future(self._prepare(source, batches[index + len(ahead)], checkpoint)))
                prepared = await ahead.popleft()
                checkpoint, count = await self._publish(checkpoint, batch, prepared, published_here)
                published += count
                done += len(batch)
                if self.progress is not None:
                    self.progress(self.folder, done, len(uids))
        finally:
            for pending in ahead:
                pending.cancel()
            for pending in ahead:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending
        metrics.LAST_SYNC.labels(self.mailbox, self.folder).set(self.clock().timestamp())
        return published

    async def _checkpoint_for(self, status: FolderStatus) -> Checkpoint:
        stored = await self.store.load(self.mailbox, self.folder)
        if stored is not None and stored.uidvalidity == status.uidvalidity:
            return stored
        now = self.clock()
        if stored is None:
            fresh = Checkpoint(status.uidvalidity, 0, now)
        else:
            log.warning(
                "UIDVALIDITY of %s/%s changed from %s to %s: reading the folder again, skipping mails already published",
                self.mailbox, self.folder, stored.uidvalidity, status.uidvalidity,
            )
            fresh = Checkpoint(status.uidvalidity, 0, stored.first_synced_at)
        # stored at once: the moment of the first sync is the default historic boundary
        await self.store.advance(self.mailbox, self.folder, fresh, [], now)
        return fresh

    async def _batches(self, source: FolderSource, uids: list[int]) -> list[list[int]]:
        batches: list[list[int]] = []
        for start in range(0, len(uids), 2000):
            chunk = uids[start : start + 2000]
            sizes = await source.sizes(chunk)
            current: list[int] = []
            current_bytes = 0
            for uid in chunk:
                size = sizes.get(uid, 0)
                if current and (len(current) >= BATCH_MAILS or current_bytes + size > BATCH_BYTES):
                    batches.append(current)
                    current, current_bytes = [], 0
                current.append(uid)
                current_bytes += size
            if current:
                batches.append(current)
        return batches

    async def _prepare(self, source: FolderSource, batch: list[int], checkpoint: Checkpoint) -> PreparedBatch:
        """Fetches and parses a batch, and looks up which of its events were published before."""
        mails = await source.fetch(batch)
        metrics.MAILS_FETCHED.labels(self.mailbox, self.folder).inc(len(mails))
        metrics.BYTES_FETCHED.labels(self.mailbox, self.folder).inc(sum(len(m.raw) for m in mails))
        parsed = await self._parse(mails, checkpoint)
        ids = [str(event.event_id) for _, event in parsed if not isinstance(event, DeadLetter)]
        return parsed, await self.store.already_published(ids)

    async def _publish(
        self, checkpoint: Checkpoint, batch: list[int], prepared: PreparedBatch, published_here: set[str]
    ) -> tuple[Checkpoint, int]:
        """Publishes a batch, all events at once, and after their acknowledgement stores the
        checkpoint; mails an earlier sync or an earlier batch of this one published are skipped."""
        parsed, seen_before = prepared
        events = [(uid, event) for uid, event in parsed if not isinstance(event, DeadLetter)]
        letters = [letter for _, letter in parsed if isinstance(letter, DeadLetter)]
        seen = seen_before | ({str(event.event_id) for _, event in events} & published_here)
        fresh = []
        for uid, event in events:
            if str(event.event_id) not in seen:  # also drops a second copy within the batch
                seen.add(str(event.event_id))
                fresh.append((uid, event))
        if fresh:
            await self.sink.publish([event for _, event in fresh])
        for uid, event in fresh:
            # one line per live mail; a backlog import of thousands only at debug level
            level = logging.DEBUG if event.historic else logging.INFO
            fields = {"event_id": str(event.event_id), "mailbox": self.mailbox, "folder": self.folder, "uid": uid}
            with correlation_scope(event.correlation_id):
                log.log(level, "captured %s", event.type, extra={"fields": fields})
        for letter in letters:
            await send_to_deadletter(self.sink, self.topic_prefix, letter)
        advanced = replace(checkpoint, highest_uid=max(batch))
        await self.store.advance(
            self.mailbox, self.folder, advanced, [PublishedMail(str(e.event_id), uid) for uid, e in fresh], self.clock()
        )
        published_here.update(str(event.event_id) for _, event in fresh)
        metrics.MAILS_PUBLISHED.labels(self.mailbox, self.folder).inc(len(fresh))
        metrics.MAILS_SKIPPED.labels(self.mailbox, self.folder).inc(len(events) - len(fresh))
        return advanced, len(fresh)

    async def _parse(self, mails: list[FetchedMail], checkpoint: Checkpoint) -> list[Prepared]:
        # INTERNALDATE has whole seconds: mail from the second of the first sync counts as live
        historic_before = self.historic_before or checkpoint.first_synced_at.replace(microsecond=0)
        job = ParseJob(self.mailbox, self.folder, self.direction, checkpoint.uidvalidity, historic_before, self.clock())
        assert self.parser is not None
        by_uid = {mail.uid: mail for mail in mails}
        results: list[Prepared] = []
        for uid, outcome in await self.parser.parse(mails, job):
            if isinstance(outcome, ParseFailure):
                log.error("mail %s/%s uid %s cannot become an event: %s\n%s", self.mailbox, self.folder, uid,
                          outcome.reason, outcome.trace)
                metrics.PARSE_ERRORS.labels(self.mailbox, "dead_letter").inc()
                results.append((uid, await self._dead_letter(by_uid[uid], job, outcome.reason)))
                continue
            if outcome.payload.parse_error:
                metrics.PARSE_ERRORS.labels(self.mailbox, "parse_error").inc()
            results.append((uid, outcome))
        return results

    async def _dead_letter(self, mail: FetchedMail, job: ParseJob, reason: str) -> DeadLetter:
        place = MailPlace(self.mailbox, self.folder, job.uidvalidity, mail.uid, self.direction, mail.internaldate,
                          mail.internaldate < job.historic_before)
        original = mail.raw
        if len(original) > DEADLETTER_MAX_BYTES:
            blob = self.blobs.put(original, "message/rfc822")
            original = blob_pointer(blob.sha256, blob.key)  # a sealed blob's key: sealed with the letter
            reason += f" (raw message in blob {blob.sha256})"
        letter = DeadLetter(service="imap", reason=reason, original=original, source=place.source(),
                            first_seen=self.clock())
        # under the key of the mail's customer when privacy is on; the key store may be asked
        return await asyncio.to_thread(sealed, letter, mail.raw, place)
