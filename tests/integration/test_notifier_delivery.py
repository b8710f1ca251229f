"""The notifier's handler and dispatcher against the real things: an aiosmtpd SMTP server, an
HTTP receiver, PostgreSQL and Kafka (for the `escalation.*` reports and dead letters)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest

from events import decode
from events.topics import Topic, deadletter_topic, topic_name
from services.notifier.delivery import HttpWebhookPoster, PermanentDeliveryError, SmtpMailer
from services.notifier.dispatcher import Dispatcher
from services.notifier.handler import EventHandler
from shared.config import Notifier, RoutingRule, Smtp
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.deadletter import DeadLetter
from shared.kafka.publisher import KafkaPublisher
from tests.integration.notifier_peers import HttpReceiver, SmtpPeer, wait_until
from tests.integration.test_kafka_publisher import consume_all
from tests.notifier_events import T0, breached, customer, opened, warning

pytestmark = pytest.mark.integration

# the events happened on a fixed day in the past: no age limit here
FAST_RETRIES = Notifier(
    max_attempts=30, retry_initial=0.2, retry_max=0.5, poll_interval=0.1, webhook_timeout=3, max_trigger_age=None
)


@asynccontextmanager
async def notifier(kafka_settings, postgres_url, smtp_port, rules, config=FAST_RETRIES):
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    http = httpx.AsyncClient(timeout=config.webhook_timeout)
    smtp = Smtp(host="127.0.0.1", port=smtp_port, security="plain", sender="touchpoint@shop.example", timeout=3)
    dispatcher = Dispatcher(
        engine,
        SmtpMailer(smtp),
        HttpWebhookPoster(http),
        publisher,
        smtp.sender,
        "https://hub.shop.example",
        config,
        topic_prefix=kafka_settings.topic_prefix,
        lease=timedelta(seconds=30),
    )
    handler = EventHandler(engine, config, rules, {})
    try:
        yield handler, dispatcher
    finally:
        await http.aclose()
        await publisher.stop()
        await engine.dispose()


async def dispatch_until(dispatcher, condition, what) -> None:
    """Runs delivery rounds until `condition()` holds."""

    async def round_then_check() -> bool:
        await dispatcher.run_once()
        return bool(condition())

    await wait_until(round_then_check, what)


async def reports(settings, expected: int) -> list:
    records = await consume_all(
        settings.bootstrap_servers, topic_name(settings.topic_prefix, Topic.ESCALATIONS), expected
    )
    return [decode(record.value) for record in records]


async def test_routing_rules_select_the_right_targets(kafka_settings, postgres_url):
    receiver = await HttpReceiver().start()
    smtp = SmtpPeer().start()
    rules = [
        RoutingRule(name="warn-team", match={"type": "sla.warning"}, email=["team@shop.example"], level=1),
        RoutingRule(
            name="breach-lead",
            match={"type": "sla.breached"},
            email=["lead@shop.example"],
            webhook=[receiver.url("/slack/leads")],
            level=2,
        ),
        RoutingRule(name="billing", match={"type": "sla.breached", "team": "billing"}, email=["billing@shop.example"]),
        RoutingRule(
            name="key-accounts",
            match={"type": "complaint.opened", "segment": "key_account"},
            email=["kam@shop.example"],
            language="de",
        ),
    ]
    try:
        async with notifier(kafka_settings, postgres_url, smtp.port, rules) as (handler, dispatcher):
            for event in (customer(segment="key_account"), opened(), warning(), breached()):
                await handler.handle(event)
            await dispatch_until(dispatcher, lambda: len(smtp.messages) >= 3, "three mails")
            await dispatcher.run_once()
            assert smtp.recipients() == ["kam@shop.example", "lead@shop.example", "team@shop.example"]
            assert [r.path for r in receiver.requests] == ["/slack/leads"]
            assert receiver.requests[0].body["complaint_id"] == "cmp-1"
            kam = next(m for m in smtp.messages if m["To"] == "kam@shop.example")
            assert kam["Subject"].startswith("[Touchpoint] Neue Reklamation: cmp-1, Erika Muster")
            lead = next(m for m in smtp.messages if m["To"] == "lead@shop.example")
            assert "https://hub.shop.example/customers/" in lead.get_body(("plain",)).get_content()

            notified = [e for e in await reports(kafka_settings, 4) if e.type == "escalation.notified"]
            assert sorted((e.payload.rule, e.payload.target) for e in notified) == sorted(
                [
                    ("breach-lead", "lead@shop.example"),
                    ("breach-lead", receiver.url("/slack/leads")),
                    ("key-accounts", "kam@shop.example"),
                    ("warn-team", "team@shop.example"),
                ]
            )
            assert {e.contact.customer_ref for e in notified} == {"K-1"}
    finally:
        smtp.stop()
        await receiver.stop()


async def test_smtp_down_for_a_while_then_up_delivers_every_escalation_exactly_once(kafka_settings, postgres_url):
    smtp = SmtpPeer()  # its port is reserved but nothing listens yet
    rules = [RoutingRule(name="breach-lead", match={"type": "sla.breached"}, email=["lead@shop.example"])]
    async with notifier(kafka_settings, postgres_url, smtp.port, rules) as (handler, dispatcher):
        complaints = [f"cmp-{n}" for n in range(5)]
        for complaint_id in complaints:
            await handler.handle(opened(complaint_id=complaint_id))
            await handler.handle(breached(complaint_id=complaint_id))

        async def everyone_failed_twice() -> bool:
            await dispatcher.run_once()
            async with dispatcher.engine.connect() as conn:
                from sqlalchemy import func, select

                from services.notifier.tables import notifications

                fewest = await conn.scalar(select(func.min(notifications.c.attempts)))
            return (fewest or 0) >= 2

        await wait_until(everyone_failed_twice, "every notification failing twice while SMTP is down")
        assert smtp.messages == []
        smtp.start()
        try:
            await dispatch_until(dispatcher, lambda: len(smtp.messages) >= 5, "five mails")
            for _ in range(5):  # later rounds must not send anything again
                await dispatcher.run_once()
            assert len(smtp.messages) == 5
            assert len(set(smtp.message_ids())) == 5
            subjects = sorted(str(m["Subject"]).split(": ")[1] for m in smtp.messages)
            assert subjects == sorted(complaints)
            notified = await reports(kafka_settings, 5)
            assert sorted(e.payload.complaint_id for e in notified) == complaints
            assert all(e.payload.attempts >= 3 for e in notified)
        finally:
            smtp.stop()


async def test_a_webhook_answering_500_then_200_is_delivered_once(kafka_settings, postgres_url):
    receiver = await HttpReceiver(script={"/teams": [500]}).start()
    rules = [RoutingRule(name="teams", match={"type": "sla.breached"}, webhook=[receiver.url("/teams")])]
    try:
        async with notifier(kafka_settings, postgres_url, 9, rules) as (handler, dispatcher):
            await handler.handle(opened())
            await handler.handle(breached())
            await dispatch_until(dispatcher, lambda: receiver.accepted("/teams"), "a 200 from the receiver")
            for _ in range(5):
                await dispatcher.run_once()
            assert [r.status for r in receiver.requests] == [500, 200]
            keys = {r.headers["Idempotency-Key"] for r in receiver.requests}
            assert len(keys) == 1  # the retry is recognisably the same notification
            assert receiver.requests[1].body["text"].startswith("*SLA breached (first response)*")
            (report,) = await reports(kafka_settings, 1)
            assert (report.type, report.payload.attempts, report.payload.notification_id) == (
                "escalation.notified",
                2,
                keys.pop(),
            )
    finally:
        await receiver.stop()


async def test_a_permanently_failing_target_is_dead_lettered_and_reported_failed(kafka_settings, postgres_url):
    receiver = await HttpReceiver(script={"/gone": [410]}).start()
    smtp = SmtpPeer().start()
    rules = [
        RoutingRule(
            name="both", match={"type": "sla.breached"}, email=["lead@shop.example"], webhook=[receiver.url("/gone")]
        )
    ]
    try:
        async with notifier(kafka_settings, postgres_url, smtp.port, rules) as (handler, dispatcher):
            await handler.handle(opened())
            await handler.handle(breached())
            await dispatch_until(dispatcher, lambda: receiver.requests and smtp.messages, "both attempts")
            await dispatcher.run_once()
            by_type = {e.type: e for e in await reports(kafka_settings, 2)}
            failed = by_type["escalation.failed"]
            assert (failed.payload.target_kind, failed.payload.attempts) == ("webhook", 1)
            assert "410" in failed.payload.error
            assert by_type["escalation.notified"].payload.target_kind == "email"
            letters = await consume_all(
                kafka_settings.bootstrap_servers, deadletter_topic(kafka_settings.topic_prefix, "notifier"), 1
            )
            (letter,) = [DeadLetter.from_record(r.value, r.key, list(r.headers)) for r in letters]
            assert letter.service == "notifier" and "410" in letter.reason
            assert failed.payload.notification_id.encode() in letter.original
            assert len(receiver.requests) == 1  # not retried
    finally:
        smtp.stop()
        await receiver.stop()


# aiosmtpd counts only STARTTLS as TLS and warns about AUTH on its implicit-TLS socket
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_mail_goes_over_tls_or_starttls_with_authentication(security, tmp_path):
    from email.message import EmailMessage

    from tests.integration.notifier_peers import SecureSmtpPeer, self_signed_certificate

    cert_file, key_file = self_signed_certificate(tmp_path)
    smtp = SecureSmtpPeer(security, cert_file, key_file, "touchpoint", "s3cret-pass").start()
    config = Smtp(
        host="127.0.0.1",
        port=smtp.port,
        security=security,
        username="touchpoint",
        password="s3cret-pass",
        sender="touchpoint@shop.example",
        timeout=5,
        ca_file=cert_file,
    )
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = config.sender, "lead@shop.example", "over TLS"
    message.set_content("hello")
    handed_over = []

    async def before_handover() -> None:
        handed_over.append(True)

    try:
        await SmtpMailer(config).send(message, before_handover)
        wrong = Smtp(**{**config.model_dump(), "password": "wrong-password"})
        with pytest.raises(PermanentDeliveryError, match="535"):
            await SmtpMailer(wrong).send(message, before_handover)
    finally:
        smtp.stop()
    assert smtp.logins == ["touchpoint"]
    assert [m["Subject"] for m in smtp.messages] == ["over TLS"]
    assert handed_over == [True]  # the failed login never reached the handover


async def test_shipment_exception_missed_call_and_unanswered_contacts_reach_their_targets(kafka_settings, postgres_url):
    from tests.notifier_events import mail_in, mail_out, missed_call, resolved, shipment

    receiver = await HttpReceiver().start()
    smtp = SmtpPeer().start()
    rules = [
        RoutingRule(name="parcel", match={"type": "shipment.exception"}, email=["returns@shop.example"]),
        RoutingRule(name="callback", match={"type": "call.missed"}, webhook=[receiver.url("/hotline")]),
        RoutingRule(name="waiting", match={"type": "contacts.unanswered"}, email=["lead@shop.example"]),
    ]
    config = Notifier(**{**FAST_RETRIES.model_dump(), "unanswered_contacts": 3, "unanswered_within": "24h"})
    try:
        async with notifier(kafka_settings, postgres_url, smtp.port, rules, config) as (handler, dispatcher):
            await handler.handle(customer(phone="+4930123456", order_ref="A-1001"))
            await handler.handle(opened())
            await handler.handle(shipment(order_ref="A-1001"))  # known only by its order number
            await handler.handle(missed_call(phone="+4930123456"))  # known only by the caller's number
            # another customer writes three times; a reply in between restarts the count
            for n, event in enumerate(
                [
                    mail_in(1, "max@example.org"),
                    mail_in(2, "max@example.org"),
                    mail_out(3, "max@example.org"),
                    mail_in(4, "max@example.org"),
                    mail_in(5, "max@example.org"),
                ]
            ):
                await handler.handle(event.model_copy(update={"occurred_at": T0 + timedelta(hours=n)}))
            assert await handler.handle(mail_in(6, "max@example.org", at=T0 + timedelta(hours=6))) != []
            await handler.handle(resolved(at=T0 + timedelta(hours=8)))
            # after the complaint was resolved, parcel news is nobody's emergency
            assert (
                await handler.handle(shipment(order_ref="A-1001", status="returned", at=T0 + timedelta(hours=9))) == []
            )

            await dispatch_until(
                dispatcher,
                lambda: len(smtp.messages) >= 2 and receiver.requests,
                lambda: f"three deliveries, got {smtp.recipients()} {receiver.requests}",
            )
            await dispatcher.run_once()
            assert smtp.recipients() == ["lead@shop.example", "returns@shop.example"]
            parcel = next(m for m in smtp.messages if m["To"] == "returns@shop.example")
            assert (
                "Shipment problem on an open complaint: exception / Parcel damaged"
                in parcel.get_body(("plain",)).get_content()
            )
            assert "Erika Muster" in parcel["Subject"]
            waiting = next(m for m in smtp.messages if m["To"] == "lead@shop.example")
            assert "max@example.org" in waiting.get_body(("plain",)).get_content()
            assert [r.body["trigger_type"] for r in receiver.requests] == ["call.missed"]
            assert receiver.requests[0].body["complaint_id"] == "cmp-1"
    finally:
        smtp.stop()
        await receiver.stop()
