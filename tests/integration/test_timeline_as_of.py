"""The timeline and complaint states "as of" an instant equal a rebuild from scratch of only
the events recorded up to that instant, at every instant of a history in which calls fold,
parcels move on, a contact is linked to the customer (its entries move), a mail is recorded
long after it occurred, and a complaint is opened, answered and breaches its SLA."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from services.projector.api import asof
from services.projector.api.queries import entry_json
from services.projector.complaints import store as complaints
from services.projector.complaints.policy import build_rules
from services.projector.timeline.rows import contact_id_for, customer_id_for, utc
from services.projector.timeline.tables import timeline_tables
from services.projector.timeline.writer import TimelineWriter
from shared.config import Sla
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from tests import timeline_factories as f

pytestmark = pytest.mark.integration
PHONE = "+4915112345678"
ERIKA = customer_id_for("K-1")
NEWCOMER = contact_id_for(("email", "new@example.org"))
RULES = build_rules(Sla.model_validate({"policies": [
    {"name": "standard", "calendar": "24/7", "first_response": "10m", "resolution": "1h", "warn_at": ["50%"]}]}))


def history():
    late = f.mail(2, "erika@example.org", 5, subject="Written on Monday")
    return [
        f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=(PHONE,)),
        f.mail(1, "new@example.org", 1, subject="Who am I?"),
        f.call("started", "c1", PHONE, 2),
        f.call("answered", "c1", PHONE, 2.5, answered_by="21"),
        f.call("ended", "c1", PHONE, 6, disposition="answered", duration_seconds=184, answered_by="21"),
        f.parcel("TN1", "in_transit", 10, email="erika@example.org"),
        f.complaint_opened("C-1", 12, email="erika@example.org"),
        f.parcel("TN1", "delivered", 20, email="erika@example.org"),
        f.complaint_responded("C-1", 24),  # first response was due at minute 22
        f.linked("email", "new@example.org", "K-1", 25),
        late.model_copy(update={"recorded_at": f.at(30)}),  # occurred at minute 5, recorded at 30
    ]


def instants(events):
    """Just before and at each event's recorded time, between them, and long after the last."""
    found = {f.at(-1), f.at(24), f.at(26), f.at(29), f.at(31), max(e.recorded_at for e in events) + timedelta(hours=2)}
    for event in events:
        found |= {utc(event.recorded_at) - timedelta(microseconds=1), utc(event.recorded_at)}
    return sorted(found)


async def rebuilt_timeline(engine, events, owner, n: int):
    """Only these events, projected from scratch into fresh tables through the writer."""
    tables = timeline_tables(f"__truncated{n}")
    async with engine.begin() as conn:
        await conn.run_sync(tables.metadata.create_all)
    await TimelineWriter(engine, tables, f"truncated-{n}").write(events)
    e = tables.entries
    async with engine.connect() as conn:
        rows = await conn.execute(select(e).where(e.c.owner_id == owner).order_by(e.c.occurred_at.desc(), e.c.id))
        return [entry_json(row._mapping) for row in rows]


def state_of(complaint):
    return {key: complaint[key] for key in ("complaint_id", "status", "state", "priority", "responded_at")}


async def test_the_timeline_as_of_any_instant_equals_a_rebuild_of_the_events_recorded_until_then(db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    events = history()
    try:
        await TimelineWriter(engine).write(events)
        async with engine.begin() as conn:
            await complaints.apply_events(conn, events, RULES, f.at(60))
        seen: dict = {}
        async with engine.connect() as conn:
            for at in instants(events):
                for owner in (ERIKA, NEWCOMER):
                    page = await asof.timeline_page(conn, owner, at, 1000, None, None)
                    states = await asof.complaint_states(conn, owner, at, RULES)
                    seen[(at, owner)] = page, [state_of(s) for s in states]

        for n, at in enumerate(instants(events)):
            recorded = [e for e in events if utc(e.recorded_at) <= at]
            for owner in (ERIKA, NEWCOMER):
                expected = await rebuilt_timeline(engine, recorded, owner, n)
                assert seen[(at, owner)][0] == expected, f"timeline of {owner} as of {at}"
            async with engine.begin() as conn:
                await complaints.drop_view(conn, outcomes=True)
                await complaints.apply_events(conn, recorded, RULES, at)
                row = await complaints.complaint_row(conn, "C-1")
            expected_states = [] if row is None else [{
                "complaint_id": "C-1", "status": row["status"], "state": row["state"], "priority": row["priority"],
                "responded_at": utc(row["responded_at"]).isoformat() if row["responded_at"] else None}]
            assert seen[(at, ERIKA)][1] == expected_states, f"complaints as of {at}"
    finally:
        await engine.dispose()

    # the history is rich enough for the comparison to mean something
    by_instant = {at: [e["summary"] for e in seen[(at, ERIKA)][0]] for at in instants(events)}
    assert by_instant[f.at(-1)] == []
    assert "Call from +4915112345678 (ringing)" in by_instant[utc(events[2].recorded_at)]
    assert "Mail from Erika Muster: Who am I?" in seen[(f.at(24), NEWCOMER)][0][0]["summary"]
    assert seen[(f.at(26), NEWCOMER)][0] == [] and any("Who am I?" in s for s in by_instant[f.at(26)])
    assert not any("Written on Monday" in s for s in by_instant[f.at(29)])
    assert any("Written on Monday" in s for s in by_instant[f.at(31)])
    clock = [seen[(at, ERIKA)][1][0]["state"] for at in instants(events) if seen[(at, ERIKA)][1]]
    assert clock[0] == "ok" and "warning" in clock and "breached" in clock
