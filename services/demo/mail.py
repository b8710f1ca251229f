"""Demo mail without a mail server: raw RFC 5322 bytes become `email.received` /
`email.sent` events through the IMAP adapter's own pure parser (bodies and attachments go to
the blob store, as when a mailbox is polled) and are published to Kafka."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from services.ingest.imap.parse import parse_message
from shared.privacy.blobs import blob_store
from shared.config import Settings
from shared.kafka.publisher import KafkaPublisher, Publisher

MAILBOX = "demo"
FOLDERS = {"incoming": "INBOX", "outgoing": "Sent"}


class MailPublisher:
    def __init__(self, settings: Settings, publisher: Publisher | None = None) -> None:
        self.settings = settings
        self.blobs = blob_store(settings.attachments_path, settings.encrypts_personal_data)
        self._publisher = publisher

    def _client(self) -> Publisher:
        if self._publisher is None:  # aiokafka wants the running loop: made on first use
            self._publisher = KafkaPublisher.for_settings(self.settings, client_id="touchpoint-demo-mail")
        return self._publisher

    async def __call__(self, raw: bytes, direction: Literal["incoming", "outgoing"] | str,
                       received_at: datetime | None = None) -> str:
        """Publishes the mail as one event (received now, unless `received_at` says when);
        returns its event id once Kafka acknowledged it."""
        if direction not in FOLDERS:
            raise ValueError(f"direction must be 'incoming' or 'outgoing', not {direction!r}")
        event = parse_message(raw, mailbox=MAILBOX, folder=FOLDERS[direction], uid=None, uidvalidity=None,
                              direction=direction, received_at=received_at or datetime.now(UTC), blobs=self.blobs)  # type: ignore[arg-type]
        await self._client().publish([event])
        return str(event.event_id)

    async def stop(self) -> None:
        if self._publisher is not None:
            await self._publisher.stop()
