"""Folder sync and watchers against fakes of IMAP, Kafka and the checkpoint store: the
checkpoint moves only after Kafka acknowledged, resyncs publish nothing twice, and one broken
mailbox never stops another."""

from __future__ import annotations

import asyncio
import imaplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from imapclient.exceptions import LoginError

from services.ingest.imap.checkpoints import InMemoryCheckpointStore
from services.ingest.imap.sync import BATCH_MAILS, FetchedMail, FolderStatus, FolderSync
from services.ingest.imap.watcher import Backoff, FolderWatcher, advice_for
from shared.blobs import InMemoryBlobStore
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import InMemoryPublisher

FIXTURES = Path(__file__).parents[1] / "fixtures" / "mail"
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def mail(n: int, body: str = "") -> bytes:
    return (
        f"Message-ID: <m{n}@example.org>\r\nFrom: kunde{n % 7}@example.org\r\nTo: support@shop.example\r\n"
        f"Subject: Frage {n}\r\n\r\nText {n} {body}\r\n"
    ).encode()


@dataclass
class FakeFolder:
    uidvalidity: int = 100
    mails: dict[int, tuple[bytes, datetime]] = field(default_factory=dict)
    next_uid: int = 1

    def append(self, raw: bytes, when: datetime = NOW - timedelta(days=1)) -> int:
        uid = self.next_uid
        self.mails[uid] = (raw, when)
        self.next_uid += 1
        return uid

    def recreate(self) -> None:
        """Like deleting and creating the folder again: new UIDVALIDITY, UIDs from 1."""
        old = list(self.mails.values())
        self.uidvalidity += 1
        self.mails, self.next_uid = {}, 1
        for raw, when in old:
            self.append(raw, when)


@dataclass
class FakeImap:
    """A FolderSource (and watcher Connection) over in-memory folders."""

    folders: dict[str, FakeFolder]
    fail_open: Exception | None = None
    supports_idle: bool = True
    selected: str | None = None
    fetched: list[int] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def open(self) -> None:
        if self.fail_open is not None:
            raise self.fail_open

    async def close(self) -> None:
        return None

    async def noop(self) -> None:
        return None

    def interrupt(self) -> None:
        self.changed.set()

    async def wait_for_change(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.changed.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        self.changed.clear()
        return True

    async def select(self, folder: str) -> FolderStatus:
        self.selected = folder
        return FolderStatus(self.folders[folder].uidvalidity, len(self.folders[folder].mails))

    async def uids_after(self, uid: int, since: date | None) -> list[int]:
        mails = self.folders[self.selected].mails
        found = [u for u, (_, when) in sorted(mails.items()) if u > uid and (since is None or when.date() >= since)]
        # like a real server, "UID n:*" answers the last message even when n is beyond it
        return found or ([max(mails)] if mails else [])

    async def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        return {u: len(self.folders[self.selected].mails[u][0]) for u in uids}

    async def fetch(self, uids: Sequence[int]) -> list[FetchedMail]:
        self.fetched += list(uids)
        mails = self.folders[self.selected].mails
        return [FetchedMail(u, mails[u][0], mails[u][1]) for u in uids if u in mails]


def folder_sync(publisher, store, folder="INBOX", direction="incoming", **kwargs) -> FolderSync:
    return FolderSync(
        mailbox="support", folder=folder, direction=direction, sink=publisher, store=store,
        blobs=InMemoryBlobStore(), topic_prefix="touchpoint.", clock=lambda: NOW, **kwargs,
    )


def published_ids(publisher: InMemoryPublisher) -> list[str]:
    return [str(e.event_id) for e in publisher.events]


async def test_a_backlog_is_published_in_uid_order_and_the_checkpoint_moves_to_the_highest_uid():
    inbox = FakeFolder()
    for n in range(1, 451):
        inbox.append(mail(n))
    publisher, store = InMemoryPublisher(), InMemoryCheckpointStore()
    assert await folder_sync(publisher, store).run(FakeImap({"INBOX": inbox})) == 450
    assert [e.payload.position.uid for e in publisher.events] == list(range(1, 451))
    assert store.rows[("support", "INBOX")].highest_uid == 450
    assert len(store.published_ids) == 450


async def test_a_second_pass_fetches_and_publishes_only_new_mail():
    inbox = FakeFolder()
    inbox.append(mail(1))
    imap = FakeImap({"INBOX": inbox})
    publisher, store = InMemoryPublisher(), InMemoryCheckpointStore()
    sync = folder_sync(publisher, store)
    await sync.run(imap)
    assert await sync.run(imap) == 0  # the server's "UID 2:*" answer of UID 1 is ignored
    inbox.append(mail(2))
    assert await sync.run(imap) == 1
    assert imap.fetched == [1, 2]
    assert [e.payload.message_id for e in publisher.events] == ["<m1@example.org>", "<m2@example.org>"]


async def test_nothing_is_checkpointed_while_kafka_does_not_acknowledge():
    inbox = FakeFolder()
    for n in range(1, 4):
        inbox.append(mail(n))
    publisher, store = InMemoryPublisher(fail_with=KafkaUnavailable("broker down")), InMemoryCheckpointStore()
    sync = folder_sync(publisher, store)
    with pytest.raises(KafkaUnavailable):
        await sync.run(FakeImap({"INBOX": inbox}))
    assert store.rows[("support", "INBOX")].highest_uid == 0
    assert store.published_ids == {}
    publisher.fail_with = None
    await sync.run(FakeImap({"INBOX": inbox}))
    assert len(publisher.events) == 3


@dataclass
class FlakyPublisher(InMemoryPublisher):
    """Acknowledges the first `good_batches` publish calls, then fails like a broker outage."""

    good_batches: int = 1
    calls: int = 0

    async def publish(self, events):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls > self.good_batches:
            raise KafkaUnavailable("broker down")
        await super().publish(events)


async def test_a_batch_whose_publish_fails_leaves_the_checkpoint_after_the_last_acknowledged_batch():
    inbox = FakeFolder()
    total = 2 * BATCH_MAILS + 50  # three batches
    for n in range(1, total + 1):
        inbox.append(mail(n))
    publisher, store = FlakyPublisher(good_batches=1), InMemoryCheckpointStore()
    imap = FakeImap({"INBOX": inbox})
    with pytest.raises(KafkaUnavailable):
        await folder_sync(publisher, store).run(imap)
    assert store.rows[("support", "INBOX")].highest_uid == BATCH_MAILS
    assert len(store.published_ids) == BATCH_MAILS
    assert [e.payload.position.uid for e in publisher.events] == list(range(1, BATCH_MAILS + 1))

    publisher.good_batches = 99
    await folder_sync(publisher, store).run(imap)
    assert [e.payload.position.uid for e in publisher.events] == list(range(1, total + 1))  # no gap, no duplicate
    assert store.rows[("support", "INBOX")].highest_uid == total


async def test_a_mail_in_two_batches_of_one_backlog_is_published_once():
    inbox = FakeFolder()
    for n in range(1, BATCH_MAILS + 1):
        inbox.append(mail(n))
    inbox.append(mail(7))  # the same mail again, in the next batch (prepared before the first was published)
    inbox.append(mail(BATCH_MAILS + 1))
    publisher, store = InMemoryPublisher(), InMemoryCheckpointStore()
    assert await folder_sync(publisher, store).run(FakeImap({"INBOX": inbox})) == BATCH_MAILS + 1
    assert len(set(published_ids(publisher))) == len(publisher.events) == BATCH_MAILS + 1
    assert store.rows[("support", "INBOX")].highest_uid == BATCH_MAILS + 2


@dataclass
class RecordingImap(FakeImap):
    log: list[str] = field(default_factory=list)

    async def fetch(self, uids: Sequence[int]) -> list[FetchedMail]:
        self.log.append(f"fetch {min(uids)}-{max(uids)}")
        await asyncio.sleep(0)
        return await super().fetch(uids)


@dataclass
class RecordingPublisher(InMemoryPublisher):
    log: list[str] = field(default_factory=list)

    async def publish(self, events):  # type: ignore[no-untyped-def]
        uids = [e.payload.position.uid for e in events]
        self.log.append(f"publish {min(uids)}-{max(uids)}")
        await super().publish(events)


async def test_the_next_batches_are_fetched_and_parsed_while_one_is_published_in_uid_order():
    inbox = FakeFolder()
    b = BATCH_MAILS
    for n in range(1, 3 * b + 51):  # four batches
        inbox.append(mail(n))
    log: list[str] = []
    imap, publisher = RecordingImap({"INBOX": inbox}, log=log), RecordingPublisher(log=log)
    store = InMemoryCheckpointStore()
    assert await folder_sync(publisher, store).run(imap) == 3 * b + 50
    assert [line for line in log if line.startswith("publish")] == [
        f"publish 1-{b}", f"publish {b + 1}-{2 * b}", f"publish {2 * b + 1}-{3 * b}", f"publish {3 * b + 1}-{3 * b + 50}"]
    assert log.index(f"fetch {b + 1}-{2 * b}") < log.index(f"publish 1-{b}")
    assert log.index(f"fetch {2 * b + 1}-{3 * b}") < log.index(f"publish 1-{b}")
    assert log.index(f"fetch {3 * b + 1}-{3 * b + 50}") < log.index(f"publish {b + 1}-{2 * b}")
    assert store.rows[("support", "INBOX")].highest_uid == 3 * b + 50


@dataclass
class SlowImap(FakeImap):
    """Fetches take a while; counts the ones still running."""

    running: int = 0

    async def fetch(self, uids: Sequence[int]) -> list[FetchedMail]:
        self.running += 1
        try:
            await asyncio.sleep(0.01)
            return await super().fetch(uids)
        finally:
            self.running -= 1


async def test_a_stop_between_batches_leaves_no_fetch_running_and_the_checkpoint_at_the_last_batch():
    inbox = FakeFolder()
    for n in range(1, 2 * BATCH_MAILS + 51):
        inbox.append(mail(n))
    stop = asyncio.Event()
    publisher, store = InMemoryPublisher(), InMemoryCheckpointStore()
    sync = folder_sync(publisher, store, progress=lambda folder, done, total: stop.set())
    imap = SlowImap({"INBOX": inbox})
    assert await sync.run(imap, stop) == BATCH_MAILS
    assert store.rows[("support", "INBOX")].highest_uid == BATCH_MAILS
    assert imap.running == 0


async def test_a_crash_between_ack_and_checkpoint_resends_the_batch_with_the_same_ids():
    inbox = FakeFolder()
    for n in range(1, 4):
        inbox.append(mail(n))
    publisher, store = InMemoryPublisher(), InMemoryCheckpointStore()
    sync = folder_sync(publisher, store)
    await sync.run(FakeImap({"INBOX": FakeFolder()}))  # the first checkpoint exists
    store.fail_with = OSError("database gone")
    with pytest.raises(OSError):
        await sync.run(FakeImap({"INBOX": inbox}))
    store.fail_with = None
    await sync.run(FakeImap({"INBOX": inbox}))
    ids = published_ids(publisher)
    assert len(ids) == 6 and len(set(ids)) == 3  # redelivered, deduplicated downstream by event id


async def test_a_uidvalidity_change_reads_the_folder_again_without_publishing_duplicates():
    inbox = FakeFolder()
    for n in range(1, 6):
        inbox.append(mail(n))
    imap = FakeImap({"INBOX": inbox})
    publisher, store = InMemoryPublisher(), InMemoryCheckpointStore()
    sync = folder_sync(publisher, store)
    await sync.run(imap)
    inbox.recreate()
    inbox.append(mail(6))
    assert await sync.run(imap) == 1
    assert len(published_ids(publisher)) == len(set(published_ids(publisher))) == 6
    assert store.rows[("support", "INBOX")].uidvalidity == inbox.uidvalidity
    assert imap.fetched == [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6]


async def test_the_same_mail_in_two_folders_is_published_once():
    inbox, archive = FakeFolder(), FakeFolder(uidvalidity=5)
    inbox.append(mail(1))
    archive.append(mail(1))
    imap = FakeImap({"INBOX": inbox, "Archive": archive})
    publisher, store = InMemoryPublisher(), InMemoryCheckpointStore()
    await folder_sync(publisher, store).run(imap)
    await folder_sync(publisher, store, folder="Archive").run(imap)
    assert len(publisher.events) == 1
    assert store.rows[("support", "Archive")].highest_uid == 1


async def test_a_reused_message_id_with_other_content_is_not_mistaken_for_a_duplicate():
    inbox = FakeFolder()
    inbox.append((FIXTURES / "reused_message_id_a.eml").read_bytes())
    inbox.append((FIXTURES / "reused_message_id_b.eml").read_bytes())
    publisher = InMemoryPublisher()
    await folder_sync(publisher, InMemoryCheckpointStore()).run(FakeImap({"INBOX": inbox}))
    assert len(set(published_ids(publisher))) == 2


async def test_mail_older_than_the_import_cut_off_is_not_imported():
    inbox = FakeFolder()
    inbox.append(mail(1), datetime(2025, 6, 1, tzinfo=UTC))
    inbox.append(mail(2), datetime(2026, 2, 1, tzinfo=UTC))
    publisher = InMemoryPublisher()
    await folder_sync(publisher, InMemoryCheckpointStore(), import_since=date(2026, 1, 1)).run(FakeImap({"INBOX": inbox}))
    assert [e.payload.message_id for e in publisher.events] == ["<m2@example.org>"]


async def test_mail_present_at_the_first_sync_is_historic_and_later_mail_is_live():
    inbox = FakeFolder()
    inbox.append(mail(1), NOW - timedelta(days=30))
    publisher, store = InMemoryPublisher(), InMemoryCheckpointStore()
    sync = folder_sync(publisher, store)
    await sync.run(FakeImap({"INBOX": inbox}))
    inbox.append(mail(2), NOW + timedelta(minutes=5))
    await sync.run(FakeImap({"INBOX": inbox}))
    assert [e.historic for e in publisher.events] == [True, False]


async def test_a_configured_historic_boundary_wins_over_the_first_sync():
    inbox = FakeFolder()
    inbox.append(mail(1), datetime(2026, 3, 1, tzinfo=UTC))
    inbox.append(mail(2), datetime(2026, 3, 10, tzinfo=UTC))
    publisher = InMemoryPublisher()
    sync = folder_sync(publisher, InMemoryCheckpointStore(), historic_before=datetime(2026, 3, 5, tzinfo=UTC))
    await sync.run(FakeImap({"INBOX": inbox}))
    assert [e.historic for e in publisher.events] == [True, False]


async def test_a_mail_no_event_can_describe_goes_to_the_dead_letter_topic_and_the_sync_moves_on(monkeypatch):
    from services.ingest.imap import parsing as parsing_module

    real_parse = parsing_module.parse_message

    def parse_or_fail(raw, **kwargs):
        if b"<m2@" in raw:
            raise ValueError("payload.subject: invalid")
        return real_parse(raw, **kwargs)

    monkeypatch.setattr(parsing_module, "parse_message", parse_or_fail)
    inbox = FakeFolder()
    for n in range(1, 4):
        inbox.append(mail(n))
    publisher, store = InMemoryPublisher(), InMemoryCheckpointStore()
    await folder_sync(publisher, store).run(FakeImap({"INBOX": inbox}))
    assert [e.payload.position.uid for e in publisher.events] == [1, 3]
    [(topic, value, _, headers)] = publisher.raw
    assert topic == "touchpoint.deadletter.imap"
    assert value == mail(2)
    assert ("dlq.reason", b"ValueError: payload.subject: invalid") in headers
    source = dict(headers)["dlq.source"].decode()
    assert source.startswith("imap:support/INBOX;uidvalidity=100;uid=2;direction=incoming;received=")
    assert "dlq.sealed_key" not in dict(headers), "privacy off: the letter is plain"
    assert store.rows[("support", "INBOX")].highest_uid == 3


async def test_outgoing_folders_produce_email_sent():
    sent = FakeFolder()
    sent.append((FIXTURES / "thread_2.eml").read_bytes())
    publisher = InMemoryPublisher()
    await folder_sync(publisher, InMemoryCheckpointStore(), folder="Sent", direction="outgoing").run(FakeImap({"Sent": sent}))
    assert [e.type for e in publisher.events] == ["email.sent"]


async def wait_until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_one_broken_mailbox_never_stops_the_others():
    good_inbox = FakeFolder()
    good_inbox.append(mail(1))
    good = FakeImap({"INBOX": good_inbox})
    publisher, store = InMemoryPublisher(), InMemoryCheckpointStore()
    broken = FolderWatcher(folder_sync(publisher, store), lambda: FakeImap({}, fail_open=ConnectionRefusedError("refused")),
                           poll_interval=60, backoff=Backoff(initial=0.01, cap=0.05))
    working = FolderWatcher(folder_sync(publisher, store, folder="INBOX"), lambda: good, poll_interval=60)
    broken.sync.mailbox = "broken"
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in (broken, working)]
    await wait_until(lambda: working.idling.is_set() and broken.failures >= 3)
    good_inbox.append(mail(2))
    good.changed.set()
    await wait_until(lambda: len(publisher.events) == 2)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert [e.payload.message_id for e in publisher.events] == ["<m1@example.org>", "<m2@example.org>"]


async def test_a_watcher_reconnects_after_kafka_was_down_and_loses_nothing():
    inbox = FakeFolder()
    inbox.append(mail(1))
    publisher, store = InMemoryPublisher(fail_with=KafkaUnavailable("down")), InMemoryCheckpointStore()
    watcher = FolderWatcher(folder_sync(publisher, store), lambda: FakeImap({"INBOX": inbox}), poll_interval=60,
                            backoff=Backoff(initial=0.01, cap=0.02))
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    await wait_until(lambda: watcher.failures >= 2)
    publisher.fail_with = None
    await wait_until(lambda: len(publisher.events) == 1)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert store.rows[("support", "INBOX")].highest_uid == 1


async def test_without_idle_the_watcher_polls():
    inbox = FakeFolder()
    imap = FakeImap({"INBOX": inbox}, supports_idle=False)
    publisher = InMemoryPublisher()
    watcher = FolderWatcher(folder_sync(publisher, InMemoryCheckpointStore()), lambda: imap, poll_interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    await asyncio.sleep(0.1)
    inbox.append(mail(1))
    await wait_until(lambda: len(publisher.events) == 1)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert not watcher.idling.is_set()


def test_backoff_doubles_up_to_its_cap_and_resets():
    backoff = Backoff(initial=1, cap=8)
    delays = [backoff.next_delay() for _ in range(6)]
    for delay, nominal in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert nominal * 0.8 <= delay <= nominal * 1.2
    backoff.reset()
    assert backoff.next_delay() <= 1.2


@pytest.mark.parametrize(
    ("failure", "advice"),
    [
        (ssl.SSLCertVerificationError("certificate verify failed"), "tls_ca_file"),
        (LoginError("[AUTHENTICATIONFAILED] Authentication failed."), "check username and password"),
        (imaplib.IMAP4.error("select failed: Mailbox doesn't exist: Sent"), "check the names in the mailbox's folders"),
        (KafkaUnavailable("broker down"), "resumes from its checkpoint"),
        (ConnectionRefusedError(111, "Connection refused"), "check host, port"),
    ],
)
def test_a_failure_is_logged_with_what_to_do_about_it(failure, advice):
    assert advice in advice_for(failure)
