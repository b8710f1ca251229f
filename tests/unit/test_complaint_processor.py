"""The processor and the timers with the in-memory publisher and a SQLite read model."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from events.codec import decode, encode, use_protection
from events.customer import CustomerRegistered, CustomerRegisteredPayload
from events.ids import event_id_for
from events.topics import Topic, topic_name
from services.projector.complaints import metrics
from services.projector.complaints.detector import DetectorConfig
from services.projector.complaints.policy import build_rules
from services.projector.complaints.processor import ComplaintProcessor
from services.projector.complaints.store import complaint_row, open_counts
from services.projector.complaints.tables import complaints, sla_fired_timers, sla_timer_claims
from services.projector.complaints.timers import fire_due
from shared.config import Sla, SlaPolicy
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.consumer import Batch, Consumed, Undecodable
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import InMemoryPublisher
from shared.privacy.master import MasterKey
from shared.privacy.retention import RetentionRules
from shared.privacy.sealing import FieldSealer
from shared.privacy.store import SyncKeyStore
from tests.complaint_builders import CUSTOMER, form, mail, utc

PREFIX = "touchpoint."
SLA = Sla.model_validate({
    "complaint_mail_rules": [{"to": ["complaints@shop.example"]}],
    "policies": [{"name": "tiny", "calendar": "24/7", "first_response": "10m", "resolution": "1h", "warn_at": ["50%"]}],
})
RULES = build_rules(SLA)
T0 = utc("2026-03-02 09:00")
MASTER = MasterKey.from_bytes(bytes(range(32)))


class Clock:
    def __init__(self, at):
        self.at = at

    def __call__(self):
        return self.at


@pytest.fixture
async def parts(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'touchpoint.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    publisher = InMemoryPublisher(topic_prefix=PREFIX)
    clock = Clock(T0)
    processor = ComplaintProcessor(engine, publisher, PREFIX, RULES, DetectorConfig(sla=SLA, rules=RULES), clock)
    yield engine, publisher, clock, processor
    await engine.dispose()


def batch(*events, topic=Topic.WEBFORMS, start=0) -> Batch:
    name = topic_name(PREFIX, topic)
    return Batch(events=[Consumed(e, name, 0, start + n) for n, e in enumerate(events)])


async def count(engine, table) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(table))


async def test_a_complaint_form_is_published_and_projected_in_one_step(parts):
    engine, publisher, _, processor = parts
    derived = await processor.handle(batch(form(T0)))
    assert [e.type for e in derived] == [e.type for e in publisher.events] == ["complaint.opened"]
    async with engine.connect() as conn:
        row = await complaint_row(conn, derived[0].payload.complaint_id)
    assert (row["status"], row["policy"]) == ("open", "tiny")


async def test_the_derived_event_coming_back_from_kafka_is_not_applied_twice(parts):
    engine, publisher, _, processor = parts
    [opened] = await processor.handle(batch(form(T0)))
    await processor.handle(batch(opened, topic=Topic.COMPLAINTS))
    await processor.handle(batch(form(T0)))  # the interaction redelivered
    assert len(publisher.events) == 1
    assert await count(engine, complaints) == 1


async def test_a_follow_up_in_the_same_batch_sees_the_complaint_it_joins(parts):
    _, publisher, _, processor = parts
    first = mail(T0, to="complaints@shop.example", thread="t1", n="1")
    follow_up = mail(T0 + timedelta(minutes=1), to="complaints@shop.example", thread="t1", n="2")
    await processor.handle(batch(first, follow_up, topic=Topic.EMAIL))
    assert [e.type for e in publisher.events] == ["complaint.opened"]


async def test_nothing_is_committed_when_kafka_does_not_acknowledge(parts):
    engine, publisher, _, processor = parts
    publisher.fail_with = KafkaUnavailable("broker down")
    with pytest.raises(KafkaUnavailable):
        await processor.handle(batch(form(T0)))
    assert await count(engine, complaints) == 0
    publisher.fail_with = None
    assert len(await processor.handle(batch(form(T0)))) == 1


async def test_undecodable_records_go_to_the_dead_letter_topic(parts):
    _, publisher, _, processor = parts
    bad = Batch(invalid=[Undecodable("not JSON", b"{oops", b"k", topic_name(PREFIX, Topic.EMAIL), 0, 7)])
    await processor.step.handle(bad)
    [(topic, value, _, headers)] = publisher.raw
    assert (topic, value) == ("touchpoint.deadletter.complaints", b"{oops")
    assert ("dlq.reason", b"not JSON") in headers


async def test_timers_fire_each_point_once_even_when_two_workers_race(parts):
    engine, publisher, clock, processor = parts
    await processor.handle(batch(form(T0)))
    publisher.published.clear()
    clock.at = T0 + timedelta(minutes=6)
    other = InMemoryPublisher(topic_prefix=PREFIX)
    mine, theirs = await asyncio.gather(fire_due(engine, publisher, RULES, clock), fire_due(engine, other, RULES, clock))
    fired = [(e.type, e.payload.kind, getattr(e.payload, "warn_point", None)) for e in [*mine, *theirs]]
    assert fired == [("sla.warning", "first_response", "50%")]
    assert [*mine, *theirs][0].occurred_at == T0 + timedelta(minutes=5)  # when it was due
    assert await fire_due(engine, publisher, RULES, clock) == []

    clock.at = T0 + timedelta(minutes=31)
    later = await fire_due(engine, publisher, RULES, clock)
    assert [(e.type, e.payload.kind) for e in later] == [("sla.breached", "first_response"), ("sla.warning", "resolution")]
    assert await count(engine, sla_timer_claims) == 3
    assert await count(engine, sla_fired_timers) == 0  # the read model learns of them from the log


async def test_the_board_moves_on_when_the_processor_reads_the_timers_events(parts):
    engine, publisher, clock, processor = parts
    await processor.handle(batch(form(T0)))
    clock.at = T0 + timedelta(minutes=31)
    fired = await fire_due(engine, publisher, RULES, clock)
    async with engine.connect() as conn:
        assert await open_counts(conn) == {"ok": 1}  # the timers write no read model
    await processor.handle(batch(*fired, topic=Topic.COMPLAINTS))
    assert await count(engine, sla_fired_timers) == 3
    async with engine.connect() as conn:
        assert await open_counts(conn) == {"breached": 1}
        [row] = (await conn.execute(select(complaints))).mappings().all()
    assert row["next_timer_at"].replace(tzinfo=None) == (T0 + timedelta(hours=1)).replace(tzinfo=None)  # resolution due
    assert await fire_due(engine, publisher, RULES, clock) == []


async def test_a_timer_not_acknowledged_by_kafka_is_tried_again(parts):
    engine, publisher, clock, processor = parts
    await processor.handle(batch(form(T0)))
    clock.at = T0 + timedelta(minutes=6)
    publisher.fail_with = KafkaUnavailable("broker down")
    with pytest.raises(KafkaUnavailable):
        await fire_due(engine, publisher, RULES, clock)
    assert await count(engine, sla_timer_claims) == 0
    publisher.fail_with = None
    assert len(await fire_due(engine, publisher, RULES, clock)) == 1


async def test_published_timers_are_counted_in_metrics(parts):
    engine, publisher, clock, processor = parts
    await processor.handle(batch(form(T0)))
    before = metrics.SLA_EVENTS.labels(type="sla.breached", kind="first_response")._value.get()
    clock.at = T0 + timedelta(minutes=11)
    await fire_due(engine, publisher, RULES, clock)
    assert metrics.SLA_EVENTS.labels(type="sla.breached", kind="first_response")._value.get() == before + 1



def registered(segment: str, n: str = "1") -> CustomerRegistered:
    return CustomerRegistered(
        event_id=event_id_for("test-customer", n, segment), occurred_at=T0, recorded_at=T0, source="import",
        payload=CustomerRegisteredPayload(customer_ref="K-1", name="Erika Muster", emails=(CUSTOMER,), segment=segment),
    )


async def test_the_customer_segment_from_master_data_selects_the_policy(tmp_path):
    sla = SLA.model_copy(update={"policies": [
        SlaPolicy(name="premium", first_response="5m", resolution="30m", segments=["premium"]), *SLA.policies]})
    rules = build_rules(sla)
    url = f"sqlite+aiosqlite:///{tmp_path / 'segments.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        processor = ComplaintProcessor(engine, InMemoryPublisher(), PREFIX, rules, DetectorConfig(sla=sla, rules=rules), Clock(T0))
        await processor.handle(batch(registered("premium"), topic=Topic.CUSTOMERS))
        [opened] = await processor.handle(batch(form(T0, n="p")))
        assert (opened.payload.segment, opened.payload.policy) == ("premium", "premium")
        await processor.handle(batch(registered("standard", n="2"), topic=Topic.CUSTOMERS, start=1))
        [later] = await processor.handle(batch(form(T0, n="q"), start=1))
        assert (later.payload.segment, later.payload.policy) == ("standard", "tiny")
    finally:
        await engine.dispose()


async def test_a_restarted_processor_brings_open_clocks_to_the_current_policies(parts):
    engine, publisher, clock, processor = parts
    await processor.handle(batch(form(T0)))
    generous = build_rules(Sla.model_validate({"policies": [
        {"name": "tiny", "calendar": "24/7", "first_response": "2h", "resolution": "1d", "warn_at": ["50%"], "version": 2}]}))
    restarted = ComplaintProcessor(engine, publisher, PREFIX, generous, DetectorConfig(sla=SLA, rules=generous), clock)
    await restarted.refresh_open()
    async with engine.connect() as conn:
        [row] = (await conn.execute(select(complaints))).mappings().all()
    assert (row["policy_version"], row["next_timer_at"].replace(tzinfo=None)) == (2, (T0 + timedelta(hours=1)).replace(tzinfo=None))


class SealingPublisher(InMemoryPublisher):
    """Encodes what it publishes, as the Kafka publisher does: with privacy on, that seals."""

    async def publish(self, events) -> None:
        for event in events:
            self.raw.append((event.type, encode(event), None, []))
        await super().publish(events)


@pytest.fixture
async def sealing(tmp_path):
    """Privacy on, SQLite, and a retention class for complaints: the complaint a form opens is sealed
    under a key the form was not."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'touchpoint.db'}"
    await upgrade_async(url)
    keys = SyncKeyStore(url, MASTER)
    keys.query_timeout = 5.0
    previous = use_protection(FieldSealer(MASTER, keys, RetentionRules.from_config({"webform.*": "2y", "complaint.*": "6y"})))
    engine = make_engine(url)
    publisher = SealingPublisher(topic_prefix=PREFIX)
    try:
        yield engine, keys, publisher, ComplaintProcessor(engine, publisher, PREFIX, RULES, DetectorConfig(sla=SLA, rules=RULES),
                                                          Clock(T0))
    finally:
        use_protection(previous)
        keys.close()
        await engine.dispose()


async def test_a_complaint_whose_key_is_new_is_published_without_waiting_for_its_own_sqlite_write(sealing):
    """Made inside the write transaction, the new key waited for the transaction's own SQLite write
    lock (the busy timeout), and the complaint never opened."""
    engine, _, publisher, processor = sealing
    submitted = form(T0)
    encode(submitted)  # ingest sealed the form: its key exists, the complaint's does not
    derived = await asyncio.wait_for(processor.handle(batch(submitted)), 20)
    assert [e.type for e in derived] == ["complaint.opened"]
    [(_, wire, _, _)] = publisher.raw
    assert b"Parcel arrived damaged" not in wire and decode(wire) == derived[0]
    assert await count(engine, complaints) == 1


async def test_the_missing_keys_of_a_whole_backlog_are_made_in_one_round(sealing, monkeypatch):
    engine, keys, _, processor = sealing
    rounds = []
    prepare = keys.prepare
    monkeypatch.setattr(keys, "prepare", lambda pairs: (rounds.append(len(pairs)), prepare(pairs)))
    forms = [form(T0, n=str(n), email=f"c{n}@example.org") for n in range(20)]
    derived = await asyncio.wait_for(processor.handle(batch(*forms)), 30)
    assert len(derived) == 20 and await count(engine, complaints) == 20
    assert rounds == [20], "one round trip for the whole batch, not one per complaint"
