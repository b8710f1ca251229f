"""The identity commands with their ports passed in: a SQLite read model, an in-memory
publisher and a fixed clock. What they refuse, and the one event each publishes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.projector.customers import commands
from services.projector.customers.commands import Actor, Rejected
from services.projector.timeline.rows import contact_id_for, customer_id_for
from services.projector.timeline.writer import TimelineWriter
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import InMemoryPublisher
from tests import timeline_factories as f

NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ANNA = Actor("anna", "api")
ERIKA, ERIKA_TOO, MAX = customer_id_for("K-1"), customer_id_for("K-2"), customer_id_for("K-3")


@pytest.fixture
async def conn(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'read.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    await TimelineWriter(engine).write([
        f.registered("K-1", "Erika", emails=("erika@example.org",)), f.registered("K-2", "Erika", emails=("e@mail.example",)),
        f.registered("K-3", "Max"), f.call("started", "c", "+4930999888", 1), f.merged("K-3", "K-1", minute=2),
    ])
    async with engine.connect() as connection:
        yield connection
    await engine.dispose()


def fixed() -> datetime:
    return NOON


async def test_merge_publishes_one_event_stamped_by_the_clock_naming_both_records_and_the_user(conn):
    publisher = InMemoryPublisher()
    event = await commands.merge(conn, publisher, fixed, ANNA, ERIKA, ERIKA_TOO, "same person")
    assert publisher.events == [event]
    assert (event.type, event.occurred_at, event.source) == ("customer.merged", NOON, "api")
    assert (event.payload.customer_ref, event.payload.into_customer_ref, event.payload.actor.name) == ("K-2", "K-1", "anna")
    assert event.partition_key() == "customer_ref:K-2"  # its merges and unmerges stay in order


@pytest.mark.parametrize(("into", "other", "code"), [
    (ERIKA, ERIKA, "same_customer"),
    (ERIKA_TOO, MAX, "already_merged"),  # K-3 is merged into K-1 already
    (MAX, ERIKA_TOO, "already_merged"),  # and cannot take in others meanwhile
    (ERIKA, contact_id_for(("phone", "+4930999888")), "not_found"),  # a contact is linked, not merged
    (ERIKA, "no-such-id", "not_found"),
])
async def test_merge_refuses_what_cannot_be_merged_and_publishes_nothing(conn, into, other, code):
    publisher = InMemoryPublisher()
    with pytest.raises(Rejected) as refused:
        await commands.merge(conn, publisher, fixed, ANNA, into, other)
    assert refused.value.code == code and publisher.events == []


async def test_unmerge_names_the_record_it_was_merged_into_and_refuses_one_not_merged(conn):
    publisher = InMemoryPublisher()
    event = await commands.unmerge(conn, publisher, fixed, ANNA, MAX)
    assert (event.type, event.payload.customer_ref, event.payload.into_customer_ref) == ("customer.unmerged", "K-3", "K-1")
    with pytest.raises(Rejected, match="not merged"):
        await commands.unmerge(conn, publisher, fixed, ANNA, ERIKA_TOO)


async def test_link_and_unlink_check_the_claim_first(conn):
    publisher = InMemoryPublisher()
    with pytest.raises(Rejected) as refused:
        await commands.link(conn, publisher, fixed, ANNA, ERIKA, "email", "erika@example.org")
    assert refused.value.code == "already_linked"
    with pytest.raises(Rejected) as refused:
        await commands.link(conn, publisher, fixed, ANNA, ERIKA, "email", "e@mail.example", unlink=True)
    assert refused.value.code == "not_linked"
    event = await commands.link(conn, publisher, fixed, ANNA, ERIKA, "phone", "+4930999888", "caller confirmed")
    assert (event.type, event.payload.identifier.value, event.payload.reason) == ("contact.linked", "+4930999888", "caller confirmed")


async def test_a_publisher_that_gets_no_acknowledgement_makes_a_503_refusal(conn):
    publisher = InMemoryPublisher(fail_with=KafkaUnavailable("broker down"))
    with pytest.raises(Rejected) as refused:
        await commands.merge(conn, publisher, fixed, ANNA, ERIKA, ERIKA_TOO)
    assert (refused.value.status, refused.value.code) == (503, "kafka_unavailable")


def test_identifiers_are_normalised_or_refused_by_name():
    assert commands.normalised("email", " Erika@Example.ORG ", None) == "erika@example.org"
    assert commands.normalised("phone", "030 999888", "DE") == "+4930999888"
    with pytest.raises(Rejected, match="phone 'abc' is not valid"):
        commands.normalised("phone", "abc", "DE")
    with pytest.raises(Rejected, match="kind: must be one of"):
        commands.normalised("fax", "0301234", "DE")
    with pytest.raises(Rejected, match="at most 320"):
        commands.normalised("order_ref", "A" * 321, "DE")
