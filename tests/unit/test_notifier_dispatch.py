"""Handler and dispatcher with fake ports (mailer, webhooks, publisher, clock) on a SQLite file:
intents recorded once, delivered once, retried, given up, held, cancelled, or left in doubt;
mail to a customer who withdrew consent to contact is not sent."""

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from events.codec import decode, encode, use_protection
from events.consent import ConsentGiven, ConsentWithdrawn
from events.ids import event_id_for
from services.notifier import sent_log
from services.notifier.delivery import InMemoryMailer, InMemoryWebhooks, PermanentDeliveryError
from services.notifier.dispatcher import Dispatcher
from services.notifier.handler import EventHandler
from services.notifier.state import MarkUndeliverable, View, changes_for, is_inbound_contact
from shared.config import Calendar, Notifier, RoutingRule
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import InMemoryPublisher
from shared.privacy.master import MasterKey
from shared.privacy.retention import RetentionRules
from shared.privacy.sealing import FieldSealer
from shared.privacy.store import SyncKeyStore
from tests.notifier_events import T0, breached, customer, hard_bounce, mail_in, opened, resolved

RULES = [
    RoutingRule(
        name="breach-lead",
        match={"type": "sla.breached"},
        email=["lead@shop.example"],
        webhook=["https://hooks.example/lead"],
        level=2,
    ),
    RoutingRule(
        name="breach-manager", match={"type": "sla.breached"}, email=["manager@shop.example"], level=3, delay="2h"
    ),
]
BREACH_AT = T0 + timedelta(hours=4)
MASTER = MasterKey.from_bytes(bytes(range(32)))


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Notifier_:
    handler: EventHandler
    dispatcher: Dispatcher
    mailer: InMemoryMailer
    webhooks: InMemoryWebhooks
    publisher: InMemoryPublisher
    clock: Clock

    def escalation_events(self, kind):
        return [e for e in self.publisher.events if e.type == kind]


@pytest.fixture
async def notifier(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    clock = Clock(BREACH_AT)
    config = Notifier(max_attempts=3, retry_initial=60, retry_max=600)
    calendars = {"office": Calendar(name="office", timezone="UTC", hours={"mon": ["08:00-17:00"]})}
    mailer, webhooks, publisher = InMemoryMailer(), InMemoryWebhooks(), InMemoryPublisher()
    handler = EventHandler(engine, config, RULES, calendars, clock=clock)
    dispatcher = Dispatcher(
        engine, mailer, webhooks, publisher, "touchpoint@shop.example", None, config, clock=clock, rand=lambda: 1.0
    )
    yield Notifier_(handler, dispatcher, mailer, webhooks, publisher, clock)
    await engine.dispose()


async def feed(notifier, *events):
    for event in events:
        await notifier.handler.handle(event)


async def test_a_breach_is_delivered_once_by_mail_and_webhook_and_reported(notifier):
    await feed(notifier, customer(), opened(), breached(at=BREACH_AT))
    assert await notifier.dispatcher.run_once() == 2  # the manager's level waits 2h
    assert [m["To"] for m in notifier.mailer.sent] == ["lead@shop.example"]
    assert [url for url, _, _ in notifier.webhooks.posted] == ["https://hooks.example/lead"]
    reported = notifier.escalation_events("escalation.notified")
    assert sorted(e.payload.target_kind for e in reported) == ["email", "webhook"]
    assert {e.contact.customer_ref for e in reported} == {"K-1"}  # lands on the customer's timeline
    mail_report = next(e for e in reported if e.payload.target_kind == "email")
    assert mail_report.payload.message_id == notifier.mailer.sent[0]["Message-ID"]

    await feed(notifier, breached(at=BREACH_AT))  # redelivered by Kafka
    assert await notifier.dispatcher.run_once() == 0
    assert len(notifier.mailer.sent) == 1 and len(notifier.webhooks.posted) == 1


async def test_the_manager_hears_two_hours_after_the_breach(notifier):
    await feed(notifier, opened(), breached(at=BREACH_AT))
    await notifier.dispatcher.run_once()
    notifier.clock.now = BREACH_AT + timedelta(hours=2)
    assert await notifier.dispatcher.run_once() == 1
    assert [m["To"] for m in notifier.mailer.sent] == ["lead@shop.example", "manager@shop.example"]


async def test_resolving_the_complaint_cancels_the_pending_manager_level(notifier):
    await feed(notifier, opened(), breached(at=BREACH_AT))
    await notifier.dispatcher.run_once()
    await feed(notifier, resolved(at=BREACH_AT + timedelta(minutes=30)))
    notifier.clock.now = BREACH_AT + timedelta(hours=3)
    assert await notifier.dispatcher.run_once() == 0
    assert [m["To"] for m in notifier.mailer.sent] == ["lead@shop.example"]


async def test_a_transient_failure_is_retried_after_a_backoff_and_delivered_once(notifier):
    notifier.mailer.fail_times = 1
    await feed(notifier, opened(), breached(at=BREACH_AT))
    await notifier.dispatcher.run_once()
    assert notifier.mailer.sent == []
    notifier.clock.now = BREACH_AT + timedelta(seconds=59)
    await notifier.dispatcher.run_once()
    assert notifier.mailer.sent == []  # backoff: 60 s before the second attempt
    notifier.clock.now = BREACH_AT + timedelta(seconds=61)
    await notifier.dispatcher.run_once()
    assert len(notifier.mailer.sent) == 1
    (report,) = [e for e in notifier.escalation_events("escalation.notified") if e.payload.target_kind == "email"]
    assert report.payload.attempts == 2


async def test_a_permanent_failure_is_dead_lettered_and_reported_failed(notifier):
    notifier.webhooks.fail_times = 1
    notifier.webhooks.failure = PermanentDeliveryError("webhook answered 404")
    await feed(notifier, opened(), breached(at=BREACH_AT))
    await notifier.dispatcher.run_once()
    (failed,) = notifier.escalation_events("escalation.failed")
    assert (failed.payload.target_kind, failed.payload.error) == ("webhook", "webhook answered 404")
    (letter,) = notifier.publisher.raw
    assert letter[0] == "touchpoint.deadletter.notifier"
    assert failed.payload.notification_id.encode() in letter[1]
    assert ("dlq.reason", b"webhook answered 404") in letter[3]


async def test_transient_failures_give_up_after_max_attempts(notifier):
    notifier.mailer.fail_times = 10
    await feed(notifier, opened(), breached(at=BREACH_AT))
    for minutes in (0, 2, 5, 10):
        notifier.clock.now = BREACH_AT + timedelta(minutes=minutes)
        await notifier.dispatcher.run_once()
    (failed,) = notifier.escalation_events("escalation.failed")
    assert failed.payload.attempts == 3 and "gave up after 3 attempts" in failed.payload.error


async def test_a_handover_without_recorded_outcome_is_not_sent_again_but_reported_in_doubt(notifier):
    await feed(notifier, opened(), breached(at=BREACH_AT))
    dispatcher = notifier.dispatcher
    (mail, _hook) = sorted(
        await sent_log.claim_due(dispatcher.engine, BREACH_AT, dispatcher.lease),
        key=lambda c: c.notification.target_kind,
    )
    # the process handed the mail over and died before recording it
    await sent_log.mark_sending(dispatcher.engine, mail.notification.notification_id, "<m@shop.example>")
    notifier.clock.now = BREACH_AT + dispatcher.lease + timedelta(seconds=1)
    await dispatcher.run_once()
    assert notifier.mailer.sent == []  # in doubt: not sent a second time
    assert [url for url, _, _ in notifier.webhooks.posted] == ["https://hooks.example/lead"]  # claim only: resent
    (doubt,) = [e for e in notifier.escalation_events("escalation.notified") if e.payload.in_doubt]
    assert doubt.payload.notification_id == mail.notification.notification_id
    row = await sent_log.status_of(dispatcher.engine, mail.notification.notification_id)
    assert row["status"] == "in_doubt"


async def test_held_notifications_wait_for_the_calendar_to_open(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'held.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    saturday = datetime(2026, 3, 7, 22, 0, tzinfo=UTC)
    clock = Clock(saturday)
    rule = RoutingRule(
        match={"type": "sla.breached"}, email=["lead@shop.example"], calendar="office", outside_hours="hold"
    )
    calendars = {"office": Calendar(name="office", timezone="UTC", hours={"mon": ["08:00-17:00"]})}
    mailer = InMemoryMailer()
    handler = EventHandler(engine, Notifier(), [rule], calendars, clock=clock)
    dispatcher = Dispatcher(
        engine, mailer, InMemoryWebhooks(), InMemoryPublisher(), "t@shop.example", None, Notifier(), clock=clock
    )
    try:
        (held,) = await handler.handle(breached(at=saturday))
        assert held.held
        await dispatcher.run_once()
        assert mailer.sent == []
        clock.now = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
        await dispatcher.run_once()
        assert len(mailer.sent) == 1
    finally:
        await engine.dispose()


async def test_notifier_state_finds_the_open_complaint_by_order_number(notifier):
    from tests.notifier_events import shipment

    rule = RoutingRule(match={"type": "shipment.exception"}, email=["returns@shop.example"])
    notifier.handler.rules = [rule]
    await feed(notifier, customer(order_ref="A-1001"), opened())
    (routed,) = await notifier.handler.handle(shipment(order_ref="A-1001"))
    assert routed.trigger.complaint.complaint_id == "cmp-1"
    assert routed.trigger.customer_name == "Erika Muster"
    await feed(notifier, resolved())
    assert await notifier.handler.handle(shipment(order_ref="A-1001", at=T0 + timedelta(hours=5))) == []


async def test_a_kafka_outage_delays_the_reports_but_not_the_mail(notifier):
    from shared.kafka.errors import KafkaUnavailable

    notifier.publisher.fail_with = KafkaUnavailable("broker down")
    await feed(notifier, opened(), breached(at=BREACH_AT))
    await notifier.dispatcher.run_once()
    assert len(notifier.mailer.sent) == 1 and notifier.publisher.events == []
    notifier.publisher.fail_with = None
    await notifier.dispatcher.run_once()
    assert sorted(e.payload.target_kind for e in notifier.escalation_events("escalation.notified")) == [
        "email",
        "webhook",
    ]


@pytest.mark.parametrize(
    ("attempt", "rand", "seconds"),
    [(1, 1.0, 5.0), (2, 1.0, 10.0), (3, 1.0, 20.0), (3, 0.0, 10.0), (10, 1.0, 600.0), (10, 0.0, 300.0)],
)
def test_retry_delay_doubles_per_attempt_is_capped_and_jittered(attempt, rand, seconds):
    from services.notifier.delivery import retry_delay

    assert retry_delay(attempt, initial=5.0, maximum=600.0, rand=lambda: rand) == seconds


async def test_a_record_that_is_no_event_is_dead_lettered_and_skipped(notifier):
    from services.notifier.handler import handle_record

    publisher = InMemoryPublisher()
    await handle_record(notifier.handler, publisher, "touchpoint.", b"{not json", b"k", "touchpoint.complaints", 1, 7)
    (letter,) = publisher.raw
    topic, value, key, headers = letter
    assert (topic, value, key) == ("touchpoint.deadletter.notifier", b"{not json", b"k")
    assert ("dlq.source_offset", b"7") in headers
    await handle_record(
        notifier.handler,
        publisher,
        "touchpoint.",
        opened().model_dump_json().encode(),
        None,
        "touchpoint.complaints",
        1,
        8,
    )
    assert len(publisher.raw) == 1


def test_mail_rules_without_smtp_are_refused_at_start():
    from services.notifier.runtime import check_settings
    from shared.config import ConfigError, FileConfig, Routing, Settings

    settings = Settings(file=FileConfig(routing=Routing(rules=RULES)))
    with pytest.raises(ConfigError, match=r"no \[smtp\] section"):
        check_settings(settings)


async def test_a_breach_from_long_ago_updates_state_but_notifies_nobody(notifier):
    notifier.clock.now = BREACH_AT + timedelta(days=30)  # the log is read from its beginning
    await feed(notifier, customer(), opened())
    assert await notifier.handler.handle(breached(at=BREACH_AT)) == []
    from services.notifier.state_store import load_view

    async with notifier.dispatcher.engine.connect() as conn:
        view = await load_view(conn, breached(at=BREACH_AT))
    assert view.complaint is not None and view.complaint.customer_ref == "K-1"


def recorded_before_cleaning(event, **payload):
    """An event as an older release wrote it to the log: read back, it is not cleaned again."""
    raw = orjson.loads(encode(event))
    raw["payload"].update(payload)
    return decode(orjson.dumps(raw))


async def test_a_customer_name_with_a_line_break_reaches_the_subject_as_one_line(notifier):
    await feed(notifier, recorded_before_cleaning(customer(), name="Erika\r\nBcc: everyone@shop.example"),
               opened(), breached(at=BREACH_AT))
    await notifier.dispatcher.run_once()
    (mail,) = notifier.mailer.sent
    assert "Erika Bcc: everyone@shop.example" in mail["Subject"]
    head = mail.as_bytes().split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in mail.as_bytes() else mail.as_bytes().split(b"\n\n", 1)[0]
    assert not any(line.lower().startswith(b"bcc:") for line in head.splitlines())


async def test_a_notification_that_cannot_be_rendered_fails_for_good_and_the_dispatcher_goes_on(notifier, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("unrenderable")

    monkeypatch.setattr("services.notifier.dispatcher.render_escalation", broken)
    await feed(notifier, opened(), breached(at=BREACH_AT))
    assert await notifier.dispatcher.run_once() == 2
    (failed,) = notifier.escalation_events("escalation.failed")
    assert failed.payload.target_kind == "email" and "cannot render" in failed.payload.error
    assert len(notifier.webhooks.posted) == 1  # the other target of the same breach still heard of it
    assert await notifier.dispatcher.run_once() == 0  # not claimed again


async def test_an_address_that_hard_bounced_is_not_written_to_and_the_failure_is_reported(notifier):
    handler = replace(notifier.handler, rules=[
        RoutingRule(name="tell-customer", match={"type": "sla.breached"}, email=["customer", "lead@shop.example"]),
    ])
    for event in (customer(), opened(), hard_bounce(1, "erika@example.org", at=T0 + timedelta(hours=1)),
                  breached(at=BREACH_AT)):
        await handler.handle(event)
    assert await notifier.dispatcher.run_once() == 2
    assert [m["To"] for m in notifier.mailer.sent] == ["lead@shop.example"]
    (failed,) = notifier.escalation_events("escalation.failed")
    assert failed.payload.target == "erika@example.org" and "hard-bounced" in failed.payload.error


def test_only_a_hard_bounce_marks_its_addresses_undeliverable():
    delayed = hard_bounce(2, "erika@example.org")
    delayed = delayed.model_copy(update={"payload": delayed.payload.model_copy(
        update={"bounced_recipients": (), "delayed_recipients": ("erika@example.org",)})})
    assert not [c for c in changes_for(delayed, View()) if isinstance(c, MarkUndeliverable)]
    assert [c.address for c in changes_for(hard_bounce(3, "max@example.org"), View())
            if isinstance(c, MarkUndeliverable)] == ["max@example.org"]


def test_list_mail_is_no_inbound_contact_that_waits_for_an_answer():
    newsletter = mail_in(7, "news@shop-news.example")
    newsletter = newsletter.model_copy(update={"payload": newsletter.payload.model_copy(update={"classification": "list"})})
    assert not is_inbound_contact(newsletter) and is_inbound_contact(mail_in(8, "news@shop-news.example"))


def consent(given: bool, at: datetime, purpose: str = "contact", **contact):
    cls = ConsentGiven if given else ConsentWithdrawn
    return cls(event_id=event_id_for("consent", given, at.isoformat(), purpose), occurred_at=at, recorded_at=at,
               channel="agent", source="web", contact=contact or {"customer_ref": "K-1"},
               payload={"purpose": purpose, "source": {"kind": "agent", "actor": {"name": "anna"}}})


TELL_CUSTOMER = [RoutingRule(name="tell-customer", match={"type": "sla.breached"},
                             email=["customer", "lead@shop.example"])]


async def test_a_customer_who_withdrew_contact_is_not_written_to_and_the_reason_is_reported(notifier):
    handler = replace(notifier.handler, rules=TELL_CUSTOMER)
    for event in (customer(), opened(), consent(False, T0 + timedelta(hours=1)), breached(at=BREACH_AT)):
        await handler.handle(event)
    assert await notifier.dispatcher.run_once() == 2
    assert [m["To"] for m in notifier.mailer.sent] == ["lead@shop.example"]  # the team still hears
    (failed,) = notifier.escalation_events("escalation.failed")
    assert failed.payload.target == "erika@example.org"
    assert "withdrew consent to contact" in failed.payload.error and "customer_ref" in failed.payload.error


async def test_a_withdrawal_recorded_for_the_customers_address_counts_too(notifier):
    handler = replace(notifier.handler, rules=TELL_CUSTOMER)
    for event in (customer(), opened(), consent(False, T0 + timedelta(hours=1), email="erika@example.org"),
                  breached(at=BREACH_AT)):
        await handler.handle(event)
    await notifier.dispatcher.run_once()
    assert [m["To"] for m in notifier.mailer.sent] == ["lead@shop.example"]


async def test_consent_given_again_after_a_withdrawal_lets_the_mail_go_out_whatever_the_order_read(notifier):
    handler = replace(notifier.handler, rules=TELL_CUSTOMER)
    for event in (customer(), opened(), consent(True, T0 + timedelta(hours=2)), consent(False, T0 + timedelta(hours=1)),
                  breached(at=BREACH_AT)):
        await handler.handle(event)
    await notifier.dispatcher.run_once()
    assert sorted(m["To"] for m in notifier.mailer.sent) == ["erika@example.org", "lead@shop.example"]


async def test_withdrawing_marketing_does_not_stop_service_mail(notifier):
    handler = replace(notifier.handler, rules=TELL_CUSTOMER)
    for event in (customer(), opened(), consent(False, T0 + timedelta(hours=1), purpose="marketing"),
                  breached(at=BREACH_AT)):
        await handler.handle(event)
    await notifier.dispatcher.run_once()
    assert sorted(m["To"] for m in notifier.mailer.sent) == ["erika@example.org", "lead@shop.example"]


async def test_with_privacy_on_sqlite_an_escalation_under_a_new_key_is_recorded_without_waiting_for_itself(
        notifier, tmp_path):
    """The report of a delivery is sealed before its transaction: under a class of its own it needs a
    new data key, and making that key waited for the transaction's own SQLite write lock."""
    keys = SyncKeyStore(str(notifier.dispatcher.engine.url), MASTER)
    keys.query_timeout = 5.0
    previous = use_protection(FieldSealer(MASTER, keys, RetentionRules.from_config({"escalation.*": "6y"})))
    try:
        await feed(notifier, customer(), opened(), breached(at=BREACH_AT))
        assert await asyncio.wait_for(notifier.dispatcher.run_once(), 30) == 2
        reported = notifier.escalation_events("escalation.notified")
        assert sorted(e.payload.target_kind for e in reported) == ["email", "webhook"]
    finally:
        use_protection(previous)
        keys.close()
