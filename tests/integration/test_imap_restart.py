"""`touchpoint imap` killed in the middle of a backlog and started again: every mail reaches
Kafka, none is lost, and nothing becomes two events. A record acknowledged just before the
kill may be written again (its checkpoint was not committed yet), always with the same event
id, which is how consumers deduplicate; at most one batch is affected."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from services.ingest.imap.checkpoints import SqlCheckpointStore
from services.ingest.imap.sync import BATCH_MAILS
from shared.db.engine import make_engine
from shared.privacy.master import load_or_create_master_key
from shared.privacy.runtime import install

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
BACKLOG = 2000


def backlog_mail(n: int) -> bytes:
    paragraph = f"Zeile {n}: Bitte um Rückruf wegen Bestellung {4000 + n}. " * 40
    return (
        f"Message-ID: <backlog-{n}@example.org>\r\nFrom: Kunde {n} <kunde{n % 50}@example.org>\r\n"
        f"To: support@shop.example\r\nSubject: Anfrage {n}\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{paragraph}\r\n"
    ).encode()


def opening(settings, database_url: str):  # type: ignore[no-untyped-def]
    """Settings that open in this process what pollers started by `start_poller` sealed."""
    load_or_create_master_key(settings.master_key_path, create=True)
    return settings.model_copy(update={"database_url": database_url})


def start_poller(config: Path, settings, database_url: str, data_dir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TOUCHPOINT_CONFIG": str(config),
        "TOUCHPOINT_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
        "TOUCHPOINT_TOPIC_PREFIX": settings.topic_prefix,
        "TOUCHPOINT_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "TOUCHPOINT_DATABASE_URL": database_url,
        "TOUCHPOINT_DATA_DIR": str(data_dir),
        # instances of a service share one master key (each data folder would make its own)
        "TOUCHPOINT_PRIVACY_MASTER_KEY_FILE": str(settings.master_key_path),
    }
    # the poller logs a line per captured mail: a file, not an unread pipe that would fill and block it
    log = (data_dir.parent / f"imap-{time.monotonic_ns()}.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "shared.cli", "imap"], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=log)
    process.log_path = Path(log.name)  # type: ignore[attr-defined]
    log.close()
    return process


async def highest_uid(store: SqlCheckpointStore, mailbox: str) -> int:
    try:
        checkpoint = await store.load(mailbox, "INBOX")
    except DBAPIError:  # not migrated yet
        return 0
    return checkpoint.highest_uid if checkpoint else 0


async def test_a_poller_killed_mid_backlog_resumes_without_misses_or_duplicate_events(
    kafka_settings, imap_account, email_topic, postgres_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("TOUCHPOINT_IMAP_LEASE_SECONDS", "3")  # the killed poller's lease expires soon
    raws = [backlog_mail(n) for n in range(1, BACKLOG + 1)]
    with imap_account.client() as client:
        for start in range(0, BACKLOG, 100):
            client.multiappend("INBOX", raws[start : start + 100])
    mailbox = f"mb{imap_account.username}"
    config = tmp_path / "touchpoint.toml"
    config.write_text(
        f'[[mailboxes]]\nname = "{mailbox}"\nhost = "{imap_account.host}"\nport = {imap_account.port}\n'
        f'security = "plain"\nusername = "{imap_account.username}"\npassword = "{imap_account.password}"\n'
        f'folders = {{ INBOX = "incoming" }}\npoll_interval = 300\n'
    )
    engine = make_engine(postgres_url)
    store = SqlCheckpointStore(engine)
    try:
        first = start_poller(config, kafka_settings, postgres_url, tmp_path / "var")
        deadline = time.monotonic() + 180  # a cold start on two busy cores: the process, its imports, the sign-in
        while await highest_uid(store, mailbox) < BATCH_MAILS:  # a batch committed, the next in flight
            assert first.poll() is None and time.monotonic() < deadline, "the first poller committed no batch"
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = await highest_uid(store, mailbox)
        if killed_at >= BACKLOG:
            pytest.fail("the backlog was finished before the kill; make it larger so the kill lands mid-backlog")

        second = start_poller(config, kafka_settings, postgres_url, tmp_path / "var")
        try:
            deadline = time.monotonic() + 240
            while await highest_uid(store, mailbox) < BACKLOG:
                if second.poll() is not None:
                    pytest.fail(f"the restarted poller exited: {second.log_path.read_text()[-2000:]}")
                assert time.monotonic() < deadline, "the restarted poller did not finish the backlog"
                await asyncio.sleep(0.1)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
    finally:
        await engine.dispose()

    install(opening(kafka_settings, postgres_url))  # what the pollers sealed opens here
    events = await email_topic.drain()
    copies: dict[str, list] = defaultdict(list)
    for event in events:
        copies[str(event.event_id)].append(event)
    # no misses: every mail of the backlog is there
    assert {hashlib.sha256(raw).hexdigest() for raw in raws} == {e.payload.content_hash for e in events}
    # no duplicates: one event id per mail, and a re-sent record is the same event again
    assert len(copies) == BACKLOG
    for same in copies.values():
        assert all(e.model_copy(update={"recorded_at": same[0].recorded_at}) == same[0] for e in same)
    resent = len(events) - BACKLOG
    assert resent <= BATCH_MAILS
    assert killed_at < BACKLOG
