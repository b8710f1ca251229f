"""The access audit's pure parts and its writer on SQLite: what a read becomes, where it goes,
that it carries nothing personal of the customer, the rows it projects (once each), the
admin's pages of them, and what the recorder does when Kafka does not acknowledge."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network

import pytest
from starlette.requests import Request

from events.audit import CustomerAccessed
from events.codec import decode, encode
from events.pii import pii_paths
from events.topics import Topic, topic_for, topic_name
from services.projector.api.auth import Principal
from services.projector.audit.access import Read, Reader, access_event
from services.projector.audit.follow import audit_step
from services.projector.audit.projection import AuditRow, apply
from services.projector.audit.queries import BadCursor, page_of
from services.projector.audit.recorder import AUDIT_FAILURES, AccessRecorder, AuditUnavailable
from services.projector.audit.requests import reader_of
from services.projector.audit.writer import AuditWriter
from services.projector.catchup import interaction_topics
from services.projector.timeline.rows import customer_id_for
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import load_offsets
from shared.kafka.consumer import Consumed, decode_record
from shared.kafka.follower import as_batch
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import InMemoryPublisher
from shared.kafka.topics import all_topic_names
from tests import timeline_factories as f

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ERIKA = customer_id_for("K-1")
ADA = Reader(user="ada", role="admin", client_address="203.0.113.9", via="page")
AUDIT = topic_name("touchpoint.", Topic.AUDIT)


def read_by(reader: Reader, read: Read, at: datetime = T0) -> CustomerAccessed:
    return access_event(reader, read, at)


def test_a_read_becomes_a_customer_accessed_event_naming_who_what_when_and_from_where():
    event = read_by(ADA, Read("attachment", ERIKA, entry_id="e-1", blob_sha256="a" * 64))
    p = event.payload
    assert (event.type, event.occurred_at, event.source) == ("customer.accessed", T0, "web")
    assert (p.customer_id, p.resource, p.entry_id, p.blob_sha256) == (ERIKA, "attachment", "e-1", "a" * 64)
    assert (p.user, p.role, p.client_address, p.via) == ("ada", "admin", "203.0.113.9", "page")
    assert decode(encode(event)) == event


def test_every_read_is_a_fact_of_its_own():
    assert read_by(ADA, Read("customer", ERIKA)).event_id != read_by(ADA, Read("customer", ERIKA)).event_id


def test_an_access_record_holds_no_personal_data_of_the_customer():
    event = read_by(ADA, Read("customer", ERIKA))
    # the envelope's contact fields are the only marked ones, and an access record leaves them empty
    assert all(path.startswith("contact.") for path in pii_paths(CustomerAccessed))
    assert event.contact.key() is None and event.customer_id is None


def test_access_records_go_to_the_audit_topic_keyed_by_customer_and_not_to_the_timeline():
    event = read_by(ADA, Read("customer", ERIKA))
    assert topic_for("touchpoint.", event.type) == AUDIT
    assert event.partition_key() == f"customer_id:{ERIKA}"
    assert AUDIT in all_topic_names("touchpoint.")
    assert AUDIT not in interaction_topics(Settings(topic_prefix="touchpoint."))


def test_the_projection_adds_one_row_per_read_and_nothing_for_other_events():
    event = read_by(ADA, Read("mail_body", ERIKA, entry_id="e-7"), T0 + timedelta(hours=1))
    assert apply(event) == [AuditRow(event_id=str(event.event_id), customer_id=ERIKA, accessed_at=T0 + timedelta(hours=1),
                                     user_name="ada", role="admin", resource="mail_body", entry_id="e-7",
                                     blob_sha256=None, client_address="203.0.113.9", via="page")]
    assert apply(f.registered("K-1", "Erika Muster", emails=("erika@example.org",))) == []


def request_from(peer: str, forwarded: str | None = None, trusted: str = "") -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    settings = Settings(trusted_proxies=trusted) if trusted else Settings()

    class App:
        class state:  # noqa: N801 - what FastAPI's app.state looks like to the helper
            pass

    App.state.settings = settings
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 5555),
                    "app": App})


def test_the_readers_address_is_the_forwarded_one_only_behind_a_trusted_proxy():
    anna = Principal(user="anna", role="agent")
    assert reader_of(request_from("10.0.0.2", "198.51.100.4", trusted="10.0.0.0/8"), anna, "page").client_address \
        == "198.51.100.4"
    assert reader_of(request_from("192.0.2.1", "198.51.100.4"), anna, "api").client_address == "192.0.2.1"
    assert ip_network("10.0.0.0/8") in Settings(trusted_proxies="10.0.0.0/8").proxy_networks


@pytest.fixture
async def engine(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    yield engine
    await engine.dispose()


def consumed(events, first_offset: int = 0) -> list[Consumed]:  # type: ignore[no-untyped-def]
    return [Consumed(event=e, topic=AUDIT, partition=0, offset=first_offset + i) for i, e in enumerate(events)]


async def test_the_writer_stores_rows_with_the_positions_and_a_batch_read_again_adds_nothing(engine):
    reads = [read_by(ADA, Read("customer", ERIKA), T0 + timedelta(minutes=n)) for n in range(3)]
    writer = AuditWriter(engine)
    assert await writer.write(consumed(reads), {(AUDIT, 0): 3}) == 3
    assert await writer.write(consumed(reads), {(AUDIT, 0): 3}) == 0
    async with engine.connect() as conn:
        assert await load_offsets(conn, "access-audit") == {(AUDIT, 0): 3}
        page = await page_of(conn, ERIKA)
    assert [r["event_id"] for r in page.records] == [str(e.event_id) for e in reversed(reads)]


async def test_an_admin_pages_through_a_customers_records_latest_first(engine):
    reads = [read_by(ADA, Read("timeline", ERIKA), T0 + timedelta(minutes=n)) for n in range(25)]
    other = read_by(ADA, Read("customer", customer_id_for("K-2")))
    await AuditWriter(engine).write(consumed([*reads, other]), {(AUDIT, 0): 26})
    async with engine.connect() as conn:
        first = await page_of(conn, ERIKA, limit=20)
        second = await page_of(conn, ERIKA, limit=20, before=first.next_cursor)
        with pytest.raises(BadCursor):
            await page_of(conn, ERIKA, before="not a cursor")
    newest_first = [str(e.event_id) for e in reversed(reads)]
    assert [r["event_id"] for r in first.records] == newest_first[:20] and first.next_cursor
    assert [r["event_id"] for r in second.records] == newest_first[20:] and second.next_cursor is None


async def test_a_record_returns_only_after_kafka_acknowledged_it():
    publisher = InMemoryPublisher()
    [event] = await AccessRecorder(publisher, now=lambda: T0).record(ADA, [Read("export", ERIKA)])
    assert publisher.events == [event] and event.payload.resource == "export"


async def test_a_record_kafka_does_not_acknowledge_is_refused_and_counted():
    failures = AUDIT_FAILURES.labels("export")
    before = failures._value.get()
    recorder = AccessRecorder(InMemoryPublisher(fail_with=KafkaUnavailable("broker down")))
    with pytest.raises(AuditUnavailable, match="broker down"):
        await recorder.record(ADA, [Read("export", ERIKA)])
    assert failures._value.get() == before + 1


async def test_a_page_read_whose_record_fails_is_logged_and_counted_without_failing_the_page(caplog):
    failures = AUDIT_FAILURES.labels("customer")
    before = failures._value.get()
    recorder = AccessRecorder(InMemoryPublisher(fail_with=KafkaUnavailable("broker down")))

    async def reads():  # type: ignore[no-untyped-def]
        return [Read("customer", ERIKA)]

    with caplog.at_level(logging.ERROR, logger="touchpoint.audit"):
        recorder.record_soon(ADA, reads)  # returns at once: the page is answered meanwhile
        await recorder.drain()
    assert failures._value.get() == before + 1
    assert any("not written" in r.getMessage() and "ada" in r.getMessage() for r in caplog.records)


async def test_page_reads_are_published_in_the_background_and_drained():
    publisher = InMemoryPublisher()
    recorder = AccessRecorder(publisher)

    async def reads():  # type: ignore[no-untyped-def]
        return [Read("entry", ERIKA, entry_id="e-1")]

    recorder.record_soon(ADA, reads)
    assert publisher.events == []
    await recorder.drain()
    assert [e.payload.entry_id for e in publisher.events] == ["e-1"]


async def test_a_record_that_is_not_an_event_is_dead_lettered_and_the_rest_of_the_batch_is_stored(engine):
    publisher = InMemoryPublisher()
    good = read_by(ADA, Read("customer", ERIKA))
    batch = as_batch([decode_record(AUDIT, 0, 0, None, b"not json"), decode_record(AUDIT, 0, 1, None, encode(good))])
    await audit_step(engine, publisher, "touchpoint.").handle(batch)
    [(topic, _, _, _)] = publisher.raw
    assert topic == "touchpoint.deadletter.projector"
    async with engine.connect() as conn:
        assert [r["event_id"] for r in (await page_of(conn, ERIKA)).records] == [str(good.event_id)]
        assert await load_offsets(conn, "access-audit") == {(AUDIT, 0): 2}
