"""The notifier after `customer.erased` (SQLite and PostgreSQL): it keeps nothing personal of
the erased customer (name, address, contact keys, inbound counters, complaint subject), while
its notifications keep their shape and the other customer's facts stay. After `privacy.expired`
the complaints opened in the expired class and year lose the same, and no others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from events.envelope import ActorRef
from events.privacy import CustomerErased, CustomerErasedPayload, PrivacyExpired, PrivacyExpiredPayload
from services.notifier import tables as t
from services.notifier.handler import EventHandler
from services.projector.timeline.rows import contact_id_for, customer_id_for
from shared.config import Notifier, RoutingRule
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from tests.notifier_events import T0, breached, customer, mail_in, opened

pytestmark = pytest.mark.integration
CONFIG = Notifier(max_trigger_age=None)
RULES = [RoutingRule.model_validate({"match": {"type": "sla.breached"}, "email": ["leads@shop.example"]})]


def erasure(ref: str, email: str) -> CustomerErased:
    at = datetime.now(UTC)
    return CustomerErased(
        event_id="00000000-0000-5000-8000-000000000001", occurred_at=at, recorded_at=at, source="tests",
        payload=CustomerErasedPayload(erasure_id="e1", customer_ref=ref, subjects=("customer:x",), keys_destroyed=1,
                                      timeline_ids=(customer_id_for(ref), contact_id_for(("email", email))),
                                      actor=ActorRef(name="ada")))


async def dump(engine) -> str:  # type: ignore[no-untyped-def]
    rows = []
    async with engine.connect() as conn:
        for table in (t.customers, t.contact_keys, t.complaints, t.complaint_keys, t.inbound, t.notifications):
            rows += [str(tuple(row)) for row in await conn.execute(sa.select(table))]
    return "\n".join(rows)


async def test_the_notifier_forgets_an_erased_customer_and_keeps_the_other(db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    handler = EventHandler(engine, CONFIG, RULES, {})
    try:
        for event in (customer("K-1", "Erika Muster", "erika@example.org"),
                      customer("K-2", "Max Mustermann", "max@example.org"),
                      mail_in(1, "erika@example.org"), mail_in(2, "max@example.org"),
                      opened("cmp-1", "erika@example.org", subject="Kaputter Toaster von Erika"),
                      opened("cmp-2", "max@example.org", subject="Falsche Farbe bei Max"),
                      breached("cmp-1"), breached("cmp-2")):
            await handler.handle(event)
        before = await dump(engine)
        assert "Erika Muster" in before and "erika@example.org" in before and "Kaputter Toaster" in before
        await handler.handle(erasure("K-1", "erika@example.org"))
        after = await dump(engine)
        assert "Erika" not in after and "erika@example.org" not in after and "Kaputter Toaster" not in after
        assert "Max Mustermann" in after and "max@example.org" in after and "Falsche Farbe bei Max" in after
        async with engine.connect() as conn:
            statuses = [row.status for row in await conn.execute(sa.select(t.notifications))]
        assert len(statuses) == 2  # both breaches still owe their notification
    finally:
        await engine.dispose()


def expiry(retention_class: str, types: tuple[str, ...], year: int) -> PrivacyExpired:
    at = datetime(year + 3, 1, 1, tzinfo=UTC)
    return PrivacyExpired(
        event_id="00000000-0000-5000-8000-000000000002", occurred_at=at, recorded_at=at, source="retention",
        payload=PrivacyExpiredPayload(retention_class=retention_class, year=year, types=types, expires_at=at,
                                      keys_destroyed=3))


async def test_an_expired_class_and_year_leaves_no_complaint_subject_or_address_of_that_year(db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    handler = EventHandler(engine, CONFIG, RULES, {})
    next_year = T0 + timedelta(days=366)
    try:
        for event in (opened("cmp-1", "erika@example.org", subject="Kaputter Toaster von Erika"),
                      opened("cmp-2", "max@example.org", at=next_year, subject="Falsche Farbe bei Max"),
                      breached("cmp-1")):
            await handler.handle(event)
        assert "Kaputter Toaster" in await dump(engine)
        await handler.handle(expiry("webform.*", ("webform.submitted",), T0.year))
        after = await dump(engine)
        assert "Kaputter Toaster" not in after and "erika@example.org" not in after
        assert "Falsche Farbe bei Max" in after and "max@example.org" in after  # the next year is kept
        async with engine.connect() as conn:
            kept = {row.complaint_id: row.status for row in await conn.execute(sa.select(t.complaints))}
        assert set(kept) == {"cmp-1", "cmp-2"}  # the SLA facts stay for reporting
    finally:
        await engine.dispose()
