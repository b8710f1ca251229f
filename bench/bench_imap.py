"""IMAP backlog ingestion: mails per second from a private Dovecot into Kafka (fetched with
BODY.PEEK, parsed, blobs stored, published with acks=all, checkpoint committed), against a raw
imapclient fetch of the same mailbox in the same run. The sync runs as `touchpoint imap` runs
it: its parser processes are started with the service, before the clock starts, like the
IMAP login and the Kafka producer. A second measurement compares the raw
imapclient fetch with the standard library's imaplib, to show what the IMAP library costs."""

from __future__ import annotations

import imaplib
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from imapclient import IMAPClient

from bench.harness import BenchContext, Measurement, rate
from services.ingest.imap.checkpoints import SqlCheckpointStore
from services.ingest.imap.connection import ImapConnection
from services.ingest.imap.parsing import ProcessPoolParser
from services.ingest.imap.sync import FolderSync
from shared.blobs import BlobStore
from shared.config import Mailbox
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.topics import all_topic_names, ensure_topics
from tests.infra.dovecot import start_dovecot

MAILS = 3000
FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures" / "mail"


def corpus(count: int) -> list[bytes]:
    """Realistic shapes: the fixture mails, each made unique, plus plain customer mails."""
    shapes = [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml")) if p.name != "not_a_mail.eml"]
    mails = []
    for n in range(count):
        if n % 3 == 0:
            shape = shapes[n // 3 % len(shapes)]
            mails.append(shape + f"\r\nbench copy {n}\r\n".encode())  # a new body: a new event
        else:
            text = f"Guten Tag, zu Bestellung {n}: Die Lieferung ist noch nicht da. Grüße\r\n" * 30
            mails.append(
                f"Message-ID: <bench-{n}@example.org>\r\nFrom: Kunde <kunde{n % 97}@example.org>\r\n"
                f"To: support@shop.example\r\nSubject: Anfrage {n}\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n"
                f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}".encode()
            )
    return mails


def imapclient_fetch(host: str, port: int, user: str, password: str) -> int:
    with IMAPClient(host, port=port, ssl=False) as client:
        client.login(user, password)
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        fetched = 0
        for start in range(0, len(uids), 200):
            fetched += len(client.fetch(uids[start : start + 200], ["BODY.PEEK[]", "INTERNALDATE"]))
    return fetched


def imaplib_fetch(host: str, port: int, user: str, password: str) -> int:
    client = imaplib.IMAP4(host, port)
    client.login(user, password)
    client.select("INBOX", readonly=True)
    _, data = client.uid("SEARCH", "ALL")
    uids = data[0].split()
    fetched = 0
    for start in range(0, len(uids), 200):
        _, parts = client.uid("FETCH", b",".join(uids[start : start + 200]).decode(), "(BODY.PEEK[] INTERNALDATE)")
        fetched += sum(1 for part in parts if isinstance(part, tuple))
    client.logout()
    return fetched


def timed_rate(fn, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    count = fn(*args)
    return rate(count, time.perf_counter() - start)


async def run(ctx: BenchContext) -> list[Measurement]:
    server = start_dovecot(ctx.work_dir)
    ctx.add_cleanup(server.stop)
    user, password = server.add_user()
    mails = corpus(MAILS)
    with IMAPClient(server.host, port=server.port, ssl=False) as client:
        client.login(user, password)
        for start in range(0, MAILS, 250):
            client.multiappend("INBOX", mails[start : start + 250])

    # warm the server's caches once, then measure both raw fetches
    imapclient_fetch(server.host, server.port, user, password)
    raw_imapclient = timed_rate(imapclient_fetch, server.host, server.port, user, password)
    raw_imaplib = timed_rate(imaplib_fetch, server.host, server.port, user, password)

    bootstrap = ctx.kafka_bootstrap()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    await ensure_topics(bootstrap, all_topic_names(prefix), partitions=4)
    db_url = f"sqlite+aiosqlite:///{ctx.work_dir / f'imap-{uuid.uuid4().hex[:6]}.db'}"
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    publisher = KafkaPublisher(bootstrap, prefix, client_id="bench-imap")
    await publisher.start()
    mailbox = Mailbox(name="bench", host=server.host, port=server.port, security="plain", username=user, password=password)
    connection = ImapConnection(mailbox)
    blob_root = ctx.work_dir / f"blobs-{uuid.uuid4().hex[:6]}"
    parser = ProcessPoolParser(blob_root)
    sync = FolderSync(
        mailbox="bench", folder="INBOX", direction="incoming", sink=publisher, store=SqlCheckpointStore(engine),
        blobs=BlobStore(blob_root), topic_prefix=prefix, clock=lambda: datetime.now(UTC), parser=parser,
    )
    try:
        await parser.start()
        await connection.open()
        start = time.perf_counter()
        published = await sync.run(connection)
        ingest = rate(published, time.perf_counter() - start)
    finally:
        parser.close()
        await connection.close()
        await publisher.stop()
        await engine.dispose()
    if published != MAILS:
        raise RuntimeError(f"published {published} of {MAILS} mails")

    notes = {"mails": MAILS, "bytes": sum(len(m) for m in mails), "parser_processes": parser.workers}
    return [
        Measurement("IMAP backlog into Kafka (fetch, parse, blobs, acks, checkpoint)", "mails/s", ingest,
                    "raw imapclient UID FETCH BODY.PEEK[]", raw_imapclient, notes=notes),
        Measurement("raw imapclient UID FETCH BODY.PEEK[]", "mails/s", raw_imapclient,
                    "raw stdlib imaplib UID FETCH", raw_imaplib, notes=notes),
    ]
