"""The IMAP poller (`touchpoint imap`'s `serve`) against a real Dovecot, real Kafka and a real
database: a corpus of real-world shaped mails arrives exactly once with the right fields,
IDLE delivers new mail within two seconds, and a UIDVALIDITY change publishes no duplicates."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import DBAPIError

from services.ingest.imap.checkpoints import SqlCheckpointStore
from services.ingest.imap.main import serve
from shared.blobs import BlobStore
from shared.privacy.blobs import open_blob
from shared.config import FileConfig, Mailbox, Settings
from shared.db.engine import make_engine
from tests.infra.ports import free_port

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "fixtures" / "mail"

INBOX_CORPUS = [
    "multipart_alternative.eml", "html_only.eml", "latin1.eml", "windows1252_as_latin1.eml", "broken_charset.eml",
    "attachments.eml", "auto_reply_out_of_office.eml", "auto_reply_vacation.eml", "newsletter.eml",
    "noreply_notification.eml", "dsn_bounce.eml", "thread_1.eml", "thread_3.eml", "no_message_id.eml",
    "reused_message_id_a.eml", "reused_message_id_b.eml",
]
SENT_CORPUS = ["thread_2.eml"]

# fixture: (type, contact, classification, thread key, attachments, a phrase of the text)
EXPECTED = {
    "multipart_alternative.eml": ("email.received", "erika.muster@example.org", "normal",
                                  "msgid:<8d3c1f0e-5a2b-4c1d-9e7f-1a2b3c4d5e6f@example.org>", 0, "kam beschädigt an"),
    "html_only.eml": ("email.received", "jonas.beispiel@example.net", "normal",
                      "msgid:<DB9PR01MB7834A1B2C3D4E5F6@DB9PR01MB7834.eurprd01.prod.outlook.example>", 0,
                      "warte ich auf Bestellung 5120"),
    "latin1.eml": ("email.received", "juergen.mueller@example.de", "normal",
                   "msgid:<20260304091500.1234@mail.example.de>", 0, "Erstattung für die Rücksendung"),
    "windows1252_as_latin1.eml": ("email.received", "anna.gruber@example.at", "normal",
                                  "msgid:<000a01dc8b2f$1a2b3c40$4e5f6a70$@example.at>", 0, "49,90 € nennt „Versand express“"),
    "broken_charset.eml": ("email.received", "kunde@legacy.example", "normal",
                           "msgid:<broken-charset-1@legacy.example>", 0, "Die Lieferung ist verspätet"),
    "attachments.eml": ("email.received", "petra.klein@example.com", "normal", "msgid:<CAF=attach+42@mail.example.com>",
                        2, "Anbei die Rechnung"),
    "auto_reply_out_of_office.eml": ("email.received", "erika.muster@example.org", "auto_reply",
                                     "msgid:<ticket-4711-reply@shop.example>", 0, "nicht im Büro"),
    "auto_reply_vacation.eml": ("email.received", "max@example.com", "auto_reply", None, 0, "on vacation"),
    "newsletter.eml": ("email.received", "newsletter@news.example", "list", "msgid:<nl-2026-03@news.example>", 0,
                       "Unsere Angebote"),
    "noreply_notification.eml": ("email.received", "no-reply@payments.example", "auto_reply",
                                 "msgid:<notify-9@payments.example>", 0, "Zahlung 99,00 EUR"),
    "dsn_bounce.eml": ("email.received", "old.customer@example.net", "bounce",
                       "msgid:<20260310081500.4Xk2Lm0yzQz9sT1@mx.shop.example>", 2, "could not\nbe delivered"),
    "thread_1.eml": ("email.received", "lena.schmidt@example.org", "normal", "msgid:<thread-root-1@example.org>", 0,
                     "Jacke in Größe M"),
    "thread_2.eml": ("email.sent", "lena.schmidt@example.org", "normal", "msgid:<thread-root-1@example.org>", 0,
                     "bitte senden Sie sie zurück"),
    "thread_3.eml": ("email.received", "lena.schmidt@example.org", "normal", "msgid:<thread-root-1@example.org>", 0,
                     "ist unterwegs"),
    "no_message_id.eml": ("email.received", "kunde@example.com", "normal", None, 0, "keine Message-ID"),
    "reused_message_id_a.eml": ("email.received", "info@broken-crm.example", "normal", "msgid:<12345@broken-crm.example>",
                                0, "Ticket 1 wurde"),
    "reused_message_id_b.eml": ("email.received", "info@broken-crm.example", "normal", "msgid:<12345@broken-crm.example>",
                                0, "Ticket 2 wurde"),
}


def settings_for(kafka_settings: Settings, account, tmp_path: Path, folders: dict[str, str], **mailbox) -> Settings:
    box = Mailbox(
        name=f"mb{account.username}", host=account.host, port=account.port, security="plain",
        username=account.username, password=account.password, folders=folders, poll_interval=300, **mailbox,
    )
    return kafka_settings.model_copy(update={
        "file": FileConfig(mailboxes=[box]),
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'imap.db'}",
        "data_dir": tmp_path / "var",
    })


async def wait_for_checkpoint(settings: Settings, folder: str, highest_uid: int, uidvalidity: int | None = None,
                              timeout: float = 60.0) -> None:
    """Waits until the poller committed `highest_uid` of `folder` (all of it is then in Kafka)."""
    engine = make_engine(settings.db_url)
    store = SqlCheckpointStore(engine)
    mailbox = settings.file.mailboxes[0].name
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                checkpoint = await store.load(mailbox, folder)
            except DBAPIError:  # the poller has not migrated the database yet
                checkpoint = None
            if checkpoint and checkpoint.highest_uid >= highest_uid and uidvalidity in (None, checkpoint.uidvalidity):
                return
            if time.monotonic() > deadline:
                pytest.fail(f"the poller did not reach UID {highest_uid} of {folder} (at {checkpoint})")
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def poller(settings: Settings):
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_a_corpus_of_real_world_mails_arrives_in_kafka_exactly_once_with_correct_fields(
    kafka_settings, imap_account, email_topic, tmp_path
):
    imap_account.create_folder("Sent")
    arrived = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
    uids = {name: imap_account.append("INBOX", (FIXTURES / name).read_bytes(), arrived) for name in INBOX_CORPUS}
    uids |= {name: imap_account.append("Sent", (FIXTURES / name).read_bytes(), arrived) for name in SENT_CORPUS}
    settings = settings_for(kafka_settings, imap_account, tmp_path, {"INBOX": "incoming", "Sent": "outgoing"})

    async with poller(settings):
        await wait_for_checkpoint(settings, "INBOX", len(INBOX_CORPUS))
        await wait_for_checkpoint(settings, "Sent", len(SENT_CORPUS))
    events = await email_topic.drain()

    by_hash = {hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest(): name for name in EXPECTED}
    assert Counter(by_hash[e.payload.content_hash] for e in events) == Counter({name: 1 for name in EXPECTED})
    assert len({e.event_id for e in events}) == len(EXPECTED)
    blobs = BlobStore(settings.attachments_path)
    for event in events:
        name = by_hash[event.payload.content_hash]
        kind, contact, classification, thread, attachments, phrase = EXPECTED[name]
        got = (event.type, event.contact.email, event.payload.classification, len(event.payload.attachments))
        assert got == (kind, contact, classification, attachments), name
        if thread is not None:
            assert event.payload.thread_key == thread, name
        assert phrase in event.payload.text, name
        assert event.payload.parse_error is None, name
        assert event.occurred_at == arrived, name
        assert event.historic, name  # it was in the mailbox before the first sync
        assert event.payload.position.uid == uids[name], name
        assert open_blob(blobs.read(event.payload.raw.sha256), event.payload.raw.key) == (FIXTURES / name).read_bytes(), name
        for attachment in event.payload.attachments:
            assert blobs.exists(attachment.sha256), name
    bounce = next(e for e in events if by_hash[e.payload.content_hash] == "dsn_bounce.eml")
    assert bounce.payload.bounced_message_id == "<reply-4711-1@shop.example>"
    # read-only: nothing was marked as seen
    assert imap_account.seen_flags("INBOX") == [False] * len(INBOX_CORPUS)


async def test_idle_delivers_a_new_mail_to_kafka_within_two_seconds(kafka_settings, imap_account, email_topic, tmp_path):
    imap_account.append("INBOX", (FIXTURES / "thread_1.eml").read_bytes())
    settings = settings_for(kafka_settings, imap_account, tmp_path, {"INBOX": "incoming"})
    mailbox = settings.file.mailboxes[0].name

    async with poller(settings):
        assert len(await email_topic.wait_for(1)) == 1
        deadline = time.monotonic() + 30
        while REGISTRY.get_sample_value("touchpoint_imap_idling", {"mailbox": mailbox, "folder": "INBOX"}) != 1:
            assert time.monotonic() < deadline, "the poller never entered IDLE"
            await asyncio.sleep(0.02)
        imap_account.append("INBOX", (FIXTURES / "thread_3.eml").read_bytes())
        events = await email_topic.wait_for(2, timeout=2.0)
        assert [e.payload.message_id for e in events] == ["<thread-root-1@example.org>", "<thread-followup-3@example.org>"]
        assert not events[1].historic  # arrived after the first sync: live mail, SLAs apply


async def test_a_uidvalidity_change_publishes_no_duplicates(kafka_settings, imap_account, email_topic, tmp_path):
    corpus = ["thread_1.eml", "thread_3.eml", "latin1.eml"]
    imap_account.create_folder("Support")
    imap_account.append_many("Support", [(FIXTURES / name).read_bytes() for name in corpus])
    settings = settings_for(kafka_settings, imap_account, tmp_path, {"Support": "incoming"})
    async with poller(settings):
        await wait_for_checkpoint(settings, "Support", 3)
    before = imap_account.uidvalidity("Support")

    imap_account.delete_folder("Support")
    imap_account.create_folder("Support")
    imap_account.append_many("Support", [(FIXTURES / name).read_bytes() for name in [*corpus, "html_only.eml"]])
    after = imap_account.uidvalidity("Support")
    assert after != before
    async with poller(settings):
        await wait_for_checkpoint(settings, "Support", 4, uidvalidity=after)

    events = await email_topic.drain()
    assert len(events) == len({e.event_id for e in events}) == 4
    assert events[-1].payload.position.uidvalidity == after


async def test_a_broken_mailbox_does_not_stop_a_working_one(kafka_settings, imap_account, email_topic, tmp_path):
    imap_account.append("INBOX", (FIXTURES / "thread_1.eml").read_bytes())
    settings = settings_for(kafka_settings, imap_account, tmp_path, {"INBOX": "incoming", "Missing": "incoming"})
    working = settings.file.mailboxes[0]
    # a failed login would make Dovecot slow down every login from this address; an
    # unreachable server breaks the mailbox just as well
    unreachable = working.model_copy(update={"name": "unreachable", "port": free_port()})
    both = settings.model_copy(update={"file": FileConfig(mailboxes=[unreachable, working])})
    async with poller(both):
        await wait_for_checkpoint(settings, "INBOX", 1)
    events = await email_topic.drain()
    assert [e.payload.message_id for e in events] == ["<thread-root-1@example.org>"]
    refused = {"mailbox": "unreachable", "reason": "ConnectionRefusedError"}
    assert REGISTRY.get_sample_value("touchpoint_imap_failures_total", refused) >= 1


async def test_a_mail_with_a_monstrous_message_id_is_captured_with_the_cut_recorded_and_the_poller_moves_on(
    kafka_settings, imap_account, email_topic, tmp_path
):
    # once too large for any Kafka record; every field now has a limit, so it is stored, cut
    hostile = (
        f"Message-ID: <{'x' * 600_000}@spam.example>\r\nFrom: spam@spam.example\r\nTo: support@shop.example\r\n"
        "Subject: hostile\r\n\r\nbody\r\n"
    ).encode()
    imap_account.append("INBOX", hostile)
    imap_account.append("INBOX", (FIXTURES / "thread_1.eml").read_bytes())
    settings = settings_for(kafka_settings, imap_account, tmp_path, {"INBOX": "incoming"})
    async with poller(settings):
        await wait_for_checkpoint(settings, "INBOX", 2)
    cut, ordinary = sorted(await email_topic.drain(), key=lambda e: e.payload.position.uid)
    assert ordinary.payload.message_id == "<thread-root-1@example.org>" and ordinary.truncated == ()
    assert cut.payload.message_id.startswith("<xxx") and len(cut.payload.message_id) == 998
    assert "payload.message_id" in cut.truncated


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_mail_is_fetched_over_tls_and_starttls(kafka_settings, imap_account, email_topic, tmp_path, security):
    imap_account.append("INBOX", (FIXTURES / "latin1.eml").read_bytes())
    port = imap_account.tls_port if security == "tls" else imap_account.port
    settings = settings_for(kafka_settings, imap_account, tmp_path, {"INBOX": "incoming"})
    box = settings.file.mailboxes[0].model_copy(update={"security": security, "port": port, "tls_ca_file": imap_account.ca_file})
    async with poller(settings.model_copy(update={"file": FileConfig(mailboxes=[box])})):
        await wait_for_checkpoint(settings, "INBOX", 1)
    assert [e.payload.subject for e in await email_topic.drain()] == ["Rückfrage zur Erstattung"]


async def test_a_server_certificate_nobody_vouches_for_is_refused(kafka_settings, imap_account, email_topic, tmp_path):
    imap_account.append("INBOX", (FIXTURES / "latin1.eml").read_bytes())
    settings = settings_for(kafka_settings, imap_account, tmp_path, {"INBOX": "incoming"})
    box = settings.file.mailboxes[0].model_copy(update={"security": "tls", "port": imap_account.tls_port})
    refused = {"mailbox": box.name, "reason": "SSLCertVerificationError"}
    async with poller(settings.model_copy(update={"file": FileConfig(mailboxes=[box])})):
        deadline = time.monotonic() + 30
        while not REGISTRY.get_sample_value("touchpoint_imap_failures_total", refused):
            assert time.monotonic() < deadline, "the poller never tried to connect"
            await asyncio.sleep(0.05)
    assert await email_topic.drain() == []
