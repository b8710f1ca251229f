"""The notifier's parts, built from the settings at start-up (never at import): database,
Kafka publisher, SMTP and webhook clients, the event handler and the dispatcher."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import httpx

from services.notifier.delivery import (
    HttpWebhookPoster,
    PermanentDeliveryError,
    SmtpMailer,
)
from services.notifier.dispatcher import Dispatcher, no_pause
from services.notifier.durations import parse_duration
from services.notifier.handler import EventHandler, handle_record, step_for
from services.notifier.routing import check_rules
from shared.config import ConfigError, Settings
from shared.db.engine import make_engine
from shared.kafka.publisher import KafkaPublisher

# Test hook: a file path; after a message was handed over the notifier writes the notification
# id there and stops before recording the outcome (to test a crash in that window).
PAUSE_AFTER_SEND_ENV = "TOUCHPOINT_NOTIFIER_PAUSE_AFTER_SEND"


def check_settings(settings: Settings) -> None:
    """Raises ConfigError when the notifier cannot work with this configuration."""
    file = settings.file
    calendars = {calendar.name: calendar for calendar in file.sla.calendars}
    check_rules(file.routing.rules, calendars)
    for key in ("unanswered_within", "max_trigger_age"):
        value = getattr(file.notifier, key)
        try:
            if value is not None:
                parse_duration(value)
        except ValueError as exc:
            raise ConfigError(f"notifier.{key}: {exc}") from None
    if any(rule.email or rule.on_call_email for rule in file.routing.rules) and file.smtp is None:
        raise ConfigError("routing rules send mail, but there is no [smtp] section; add host, port and sender")


class NoSmtp:
    async def send(self, message, before_handover):  # type: ignore[no-untyped-def]
        raise PermanentDeliveryError("no [smtp] section is configured")


async def _pause_forever(marker: Path, notification_id: str) -> None:
    marker.write_text(notification_id)
    await asyncio.Event().wait()


class NotifierRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._started = False
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            if self._started:
                return
            s, file = self.settings, self.settings.file
            self.engine = make_engine(s.db_url)
            self.publisher = KafkaPublisher.for_settings(s, client_id="touchpoint-notifier")
            await self.publisher.start()
            self.http = httpx.AsyncClient(timeout=file.notifier.webhook_timeout, follow_redirects=False)
            smtp_timeout = file.smtp.timeout if file.smtp else 0.0
            pause = os.environ.get(PAUSE_AFTER_SEND_ENV)
            self.dispatcher = Dispatcher(
                engine=self.engine,
                mailer=SmtpMailer(file.smtp) if file.smtp else NoSmtp(),
                webhooks=HttpWebhookPoster(self.http),
                publisher=self.publisher,
                sender=file.smtp.sender if file.smtp else "touchpoint@localhost",
                public_url=s.public_url,
                config=file.notifier,
                topic_prefix=s.topic_prefix,
                contact_purpose=file.consent.notifier_purpose,
                # a claim outlives the slowest handover, so a live dispatcher never loses its row
                lease=timedelta(seconds=max(smtp_timeout, file.notifier.webhook_timeout) * 2 + 5),
                after_send=(lambda nid: _pause_forever(Path(pause), nid)) if pause else no_pause,
            )
            self.handler = EventHandler(
                engine=self.engine,
                config=file.notifier,
                rules=file.routing.rules,
                calendars={calendar.name: calendar for calendar in file.sla.calendars},
                default_timezone=file.sla.timezone,
                on_planned=self.dispatcher.wake.set,
            )
            self.step = step_for(self.handler, self.publisher, s.topic_prefix)
            self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.http.aclose()
        await self.publisher.stop()
        await self.engine.dispose()

    async def handle_record(
        self, value: bytes | None, key: bytes | None, topic: str, partition: int, offset: int
    ) -> None:
        await self.start()
        await handle_record(self.step, self.publisher, self.settings.topic_prefix, value, key, topic, partition, offset)
