"""Demo mail goes the way a polled mailbox's would: the IMAP adapter's parser, then Kafka."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from services.demo.data import demo_customers
from services.demo.mail import MailPublisher
from services.demo.traffic import MailStep, mail_thread
from shared.blobs import BlobStore
from shared.config import Settings
from shared.privacy.blobs import open_blob
from shared.kafka.publisher import InMemoryPublisher


async def test_a_demo_mail_becomes_one_email_event_with_its_body_and_attachment_stored(tmp_path):
    published = InMemoryPublisher()
    sender = MailPublisher(Settings(data_dir=tmp_path), publisher=published)
    customer = demo_customers()[0]
    scenario = next(s for s in (mail_thread(random.Random(seed), customer, datetime.now(UTC)) for seed in range(50))
                    if b"signature-logo" in s.steps[0].raw)
    first = scenario.steps[0]
    assert isinstance(first, MailStep)
    event_id = await sender(first.raw, first.direction)
    [event] = published.events
    assert str(event.event_id) == event_id and event.type == "email.received"
    assert event.contact.email == customer.emails[0] and "signature-logo" in (event.payload.html or "")
    [attachment] = event.payload.attachments
    stored = BlobStore(tmp_path / "attachments").read(attachment.sha256)
    assert open_blob(stored, attachment.key).startswith(b"%PDF")  # sealed when privacy is on
    await sender.stop()


async def test_replies_are_published_as_sent_mail(tmp_path):
    published = InMemoryPublisher()
    sender = MailPublisher(Settings(data_dir=tmp_path), publisher=published)
    scenario = next(s for s in (mail_thread(random.Random(seed), demo_customers()[1], datetime.now(UTC))
                                for seed in range(50)) if len(s.steps) == 2)
    for step in scenario.steps:
        await sender(step.raw, step.direction)
    assert [e.type for e in published.events] == ["email.received", "email.sent"]
    assert published.events[0].payload.thread_key == published.events[1].payload.thread_key
