"""Integration fixtures of the IMAP ingest: one private Dovecot per test session
(tests/infra/dovecot.py), and a fresh, empty IMAP account per test."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from imapclient import IMAPClient

from events.codec import decode
from events.envelope import Event
from events.topics import Topic, topic_name
from tests.infra.dovecot import Dovecot, start_dovecot


@pytest.fixture(scope="session")
def dovecot(session_dir: Path) -> Iterator[Dovecot]:
    server = start_dovecot(session_dir)
    yield server
    server.stop()


@dataclass
class ImapAccount:
    host: str
    port: int
    username: str
    password: str
    tls_port: int
    ca_file: Path

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(self.username, self.password)
        return client

    def append(self, folder: str, raw: bytes, when: datetime | None = None) -> int:
        """APPENDs like a delivering server would; returns the new UID."""
        with self.client() as client:
            answer = client.append(folder, raw, msg_time=when)
        return int(answer.split(b"APPENDUID ")[1].split(b"]")[0].split()[1])

    def append_many(self, folder: str, messages: list[bytes], when: datetime | None = None) -> None:
        with self.client() as client:
            for raw in messages:
                client.append(folder, raw, msg_time=when)

    def create_folder(self, folder: str) -> None:
        with self.client() as client:
            client.create_folder(folder)

    def delete_folder(self, folder: str) -> None:
        with self.client() as client:
            client.delete_folder(folder)

    def uidvalidity(self, folder: str) -> int:
        with self.client() as client:
            return int(client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])

    def seen_flags(self, folder: str) -> list[bool]:
        with self.client() as client:
            client.select_folder(folder, readonly=True)
            flags = client.get_flags(client.search("ALL"))
        return [b"\\Seen" in f for f in flags.values()]


@pytest.fixture
def imap_account(dovecot: Dovecot) -> ImapAccount:
    username, password = dovecot.add_user()
    return ImapAccount(dovecot.host, dovecot.port, username, password, dovecot.tls_port, dovecot.ca_file)


class EmailTopic:
    """Reads the email topic from the start; `wait_for` and `drain` collect decoded events."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
            fetch_max_wait_ms=50,
        )
        self.events: list[Event] = []

    async def start(self) -> None:
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()

    async def _poll(self) -> None:
        batch = await self.consumer.getmany(timeout_ms=100)
        for records in batch.values():
            self.events.extend(decode(record.value) for record in records)

    async def wait_for(self, count: int, timeout: float = 30.0) -> list[Event]:
        """Reads until at least `count` events arrived in total, or `timeout` passed."""
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            await self._poll()
        return self.events

    async def drain(self) -> list[Event]:
        """Reads up to the current end of every partition: everything acknowledged so far."""
        while not self.consumer.assignment():
            await self._poll()
        partitions = self.consumer.assignment()
        ends = await self.consumer.end_offsets(list(partitions))
        while True:
            positions = {tp: await self.consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= ends[tp] for tp in partitions):
                return self.events
            await self._poll()


@pytest.fixture
async def email_topic(kafka_settings) -> AsyncIterator[EmailTopic]:
    topic = EmailTopic(kafka_settings.bootstrap_servers, topic_name(kafka_settings.topic_prefix, Topic.EMAIL))
    await topic.start()
    yield topic
    await topic.stop()
