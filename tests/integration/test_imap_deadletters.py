"""IMAP dead letters with privacy on, against a real Dovecot, Kafka and PostgreSQL.

`parse_message` never raises on bad mail by design; a mail becomes a dead letter when the parser
itself fails (a bug), which the test makes happen at the sync's parser port. The letter's raw
bytes are sealed under the sender's key (no From: the `none` subject, under the retention class
of mail), so the dead-letter topic holds none of the sender's address or text. The ops view
opens it, a replay parses it again into the email topic once the parser works, and after the
sender's erasure the letter shows as erased and its replay is refused."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer

from events.envelope import ActorRef
from events.topics import deadletter_topic
from services.ingest.imap.checkpoints import SqlCheckpointStore
from services.ingest.imap.connection import ImapConnection
from services.ingest.imap.parsing import FetchedMail, ParseFailure, ParseJob
from services.ingest.imap.sync import FolderSync
from services.projector.ops.deadletters import ReplayRefused, read_dead_letters, replay
from services.projector.privacy.erasure import Target, erase
from shared.config import FileConfig, Mailbox, Privacy
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import KafkaPublisher
from shared.privacy.blobs import blob_store
from shared.privacy.runtime import active_sealer, install, uninstall
from shared.privacy.store import privacy_keys

pytestmark = pytest.mark.integration
ERIKA, MAX = "erika.geheim@example.org", "max.vertraulich@example.net"


def mail(sender: str | None, subject: str, text: str) -> bytes:
    sender_line = f"From: Someone <{sender}>\r\n" if sender else ""
    return (f"{sender_line}To: support@shop.example\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n"
            f"Date: Mon, 30 Nov 2026 09:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n").encode()


class FailingParser:
    """The sync's parser port failing on every mail, as a parser bug would."""

    async def parse(self, mails: Sequence[FetchedMail], job: ParseJob) -> list:
        return [(m.uid, ParseFailure("RecursionError: maximum recursion depth exceeded", "trace")) for m in mails]

    def close(self) -> None:
        return None


async def raw_records(settings, topic: str) -> list:  # type: ignore[no-untyped-def]
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        found: list = []
        while len(found) < 3:
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, "the dead letters did not arrive"
            found += [record for records in batch.values() for record in records]
        return found
    finally:
        await consumer.stop()


async def test_an_unparseable_mail_is_dead_lettered_sealed_opened_for_ops_replayed_and_erased_with_its_sender(
    kafka_settings, postgres_url, imap_account, email_topic, tmp_path
):
    settings = kafka_settings.model_copy(update={
        "database_url": postgres_url, "privacy_encrypt": True,
        "file": FileConfig(privacy=Privacy(encrypt=True, retention={"email.*": "6y"}))})
    await upgrade_async(postgres_url)
    install(settings)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="imap-deadletters-test")
    blobs = blob_store(tmp_path / "blobs", sealed=True)
    box = Mailbox(name="letters", host=imap_account.host, port=imap_account.port, security="plain",
                  username=imap_account.username, password=imap_account.password)
    connection = ImapConnection(box)
    for raw in (mail(ERIKA, "erika-1", "Mein geheimes Anliegen 4711"), mail(MAX, "max-1", "Max vertraut uns an"),
                mail(None, "nobody-1", "Ohne Absender")):
        imap_account.append("INBOX", raw)
    try:
        await publisher.start()
        await connection.open()
        sync = FolderSync("letters", "INBOX", "incoming", publisher, SqlCheckpointStore(engine), blobs,
                          settings.topic_prefix, lambda: datetime.now(UTC), parser=FailingParser())
        assert await sync.run(connection) == 0

        records = await raw_records(settings, deadletter_topic(settings.topic_prefix, "imap"))
        stored = b"".join([r.value or b"" for r in records] + [v or b"" for r in records for _, v in r.headers])
        for secret in (ERIKA, MAX, "erika.geheim", "Mein geheimes Anliegen", "Max vertraut", "Ohne Absender"):
            assert secret.encode() not in stored, secret
        async with engine.connect() as conn:
            periods = {(row.subject, row.period) for row in await conn.execute(sa.select(privacy_keys))}
        assert ("none", f"{datetime.now(UTC).year}|email.*") in periods, "a mail without sender: none, by retention"

        views = {v.letter.source.split(";uid=")[1].split(";")[0]: v
                 for v in await read_dead_letters(settings.bootstrap_servers, settings.topic_prefix)}
        assert len(views) == 3 and not any(v.erased for v in views.values())
        erika, max_ = views["1"], views["2"]
        assert "Mein geheimes Anliegen 4711" in erika.preview and erika.replayable, "ops read it with its key"

        topic = await replay(engine, publisher, settings.bootstrap_servers, erika.id, "olga", settings.topic_prefix,
                             blobs=blobs)
        assert topic == f"{settings.topic_prefix}email"
        [event] = await email_topic.wait_for(1)
        assert event.contact.email == ERIKA and "Mein geheimes Anliegen 4711" in event.payload.text
        assert event.payload.position.uid == 1 and event.payload.position.mailbox == "letters"

        after_the_hold = datetime(datetime.now(UTC).year + 7, 1, 2, tzinfo=UTC)  # mail kept 6 years: shredded at once
        erased = await erase(engine, active_sealer().master, publisher, Target(identifier=("email", MAX)),
                             ActorRef(kind="agent", name="ada"), now=after_the_hold)
        assert erased.payload.keys_destroyed == 1 and not erased.payload.restricted
        views = {v.id: v for v in await read_dead_letters(settings.bootstrap_servers, settings.topic_prefix)}
        assert views[max_.id].erased and views[max_.id].preview == "" and not views[max_.id].replayable
        assert not views[erika.id].erased
        with pytest.raises(ReplayRefused, match="erased"):
            await replay(engine, publisher, settings.bootstrap_servers, max_.id, "olga", settings.topic_prefix,
                         blobs=blobs)
    finally:
        await connection.close()
        await publisher.stop()
        await engine.dispose()
        uninstall()
