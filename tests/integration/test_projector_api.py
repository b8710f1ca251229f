"""The agent API over a real read model (SQLite and PostgreSQL): auth, search, lookup,
timeline pages and channel filter; link/unlink through real Kafka and the projector."""

from __future__ import annotations

import httpx
import pytest

from services.projector.api.app import create_app
from services.projector.catchup import catch_up
from services.projector.consume import BatchProjector
from services.projector.timeline.rows import contact_id_for, customer_id_for
from services.projector.timeline.writer import TimelineWriter
from shared.config import AuthToken, Auth, FileConfig
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import InMemoryPublisher, KafkaPublisher
from tests import timeline_factories as f

pytestmark = pytest.mark.integration
ERIKA, MAX = customer_id_for("K-1"), customer_id_for("K-2")
PHONE, STRANGER = "+4915112345678", "+4930999888"
AGENT, OPS = {"Authorization": "Bearer agent-token-1"}, {"Authorization": "Bearer ops-token-1"}


def auth_config() -> FileConfig:
    return FileConfig(auth=Auth(tokens=[
        AuthToken(token="agent-token-1", user="anna", role="agent"),
        AuthToken(token="ops-token-1", user="otto", role="ops"),
    ]))


def history():
    events = [
        f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=(PHONE,)),
        f.registered("K-2", "Max Mustermann", emails=("max@example.org",), phones=("+4930111222",)),
        f.registered("K-3", "Maxi Zweit", phones=("+4930111222",)),
        f.call("started", "s1", STRANGER, 0), f.call("ended", "s1", STRANGER, 1, disposition="missed"),
    ]
    for n in range(30):
        events.append(f.mail(n, "erika@example.org", 10 + n))
        events.append(f.call("started", f"c{n}", PHONE, 10 + n + 0.5))
    events.append(f.parcel("TN1", "delivered", 100, email="erika@example.org"))
    return events


@pytest.fixture
async def api(db_url, settings_factory):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    await TimelineWriter(engine).write(history())
    publisher = InMemoryPublisher()
    app = create_app(settings_factory(file=auth_config()), engine=engine, publisher=publisher)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        client.published = publisher  # type: ignore[attr-defined]
        yield client
    await engine.dispose()


async def test_requests_without_a_known_bearer_token_are_unauthenticated(api):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic agent-token-1"}):
        response = await api.get("/api/customers", params={"q": "Erika"}, headers=headers)
        assert response.status_code == 401 and response.json()["error"] == "unauthenticated"
    assert (await api.get(f"/api/customers/{ERIKA}/timeline")).status_code == 401


async def test_search_finds_customers_by_name_email_phone_and_ref(api):
    async def ids(q):
        response = await api.get("/api/customers", params={"q": q}, headers=AGENT)
        assert response.status_code == 200
        return [c["id"] for c in response.json()["customers"]]

    assert await ids("erika") == [ERIKA]
    assert await ids("Erika@Example.org") == [ERIKA]
    assert await ids("+49 151 12345678") == [ERIKA]
    assert await ids("K-2") == [MAX]
    assert await ids(STRANGER) == [contact_id_for(("phone", STRANGER))]
    assert await ids("nobody-here") == []


async def test_lookup_pops_the_customer_the_contact_or_the_ambiguous_candidates(api):
    found = (await api.get("/api/lookup", params={"phone": "0049 151 12345678"}, headers=AGENT)).json()
    assert (found["match"], found["customer"]["customer_ref"]) == ("customer", "K-1")
    contact = (await api.get("/api/lookup", params={"phone": STRANGER}, headers=AGENT)).json()
    assert (contact["match"], contact["customer"]["kind"]) == ("contact", "contact")
    shared = (await api.get("/api/lookup", params={"phone": "+4930111222"}, headers=AGENT)).json()
    assert shared["match"] == "ambiguous"
    assert sorted(c["customer_ref"] for c in shared["candidates"]) == ["K-2", "K-3"]
    unknown = await api.get("/api/lookup", params={"email": "ghost@example.org"}, headers=AGENT)
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    bad = await api.get("/api/lookup", params={"phone": "abc"}, headers=AGENT)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_identifier"
    both = await api.get("/api/lookup", params={"phone": PHONE, "email": "erika@example.org"}, headers=AGENT)
    assert both.status_code == 422


async def test_timeline_pages_newest_first_with_a_cursor_until_the_end(api):
    seen, cursor = [], None
    while True:
        params = {"limit": 7, **({"before": cursor} if cursor else {})}
        page = (await api.get(f"/api/customers/{ERIKA}/timeline", params=params, headers=AGENT)).json()
        seen += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 61 and len({e["id"] for e in seen}) == 61
    stamps = [e["occurred_at"] for e in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert set(seen[0]) >= {"event_id", "type", "channel", "direction", "occurred_at", "summary", "details"}
    assert seen[0]["summary"] == "Parcel TN1 (DHL): delivered"


async def test_timeline_channel_filter_keeps_only_that_channel(api):
    page = (await api.get(f"/api/customers/{ERIKA}/timeline", params={"channel": "phone", "limit": 50},
                          headers=AGENT)).json()
    assert len(page["entries"]) == 30 and {e["channel"] for e in page["entries"]} == {"phone"}
    bad = await api.get(f"/api/customers/{ERIKA}/timeline", params={"channel": "fax"}, headers=AGENT)
    assert bad.status_code == 422 and "channel" in bad.json()["detail"]
    cursor = await api.get(f"/api/customers/{ERIKA}/timeline", params={"before": "%%%"}, headers=AGENT)
    assert cursor.status_code == 422 and cursor.json()["error"] == "invalid_request"
    missing = await api.get("/api/customers/nope/timeline", headers=AGENT)
    assert missing.status_code == 404


async def test_link_publishes_contact_linked_recorded_with_the_acting_user(api):
    response = await api.post(f"/api/customers/{ERIKA}/link", json={"kind": "phone", "value": STRANGER}, headers=AGENT)
    assert response.status_code == 202
    (event,) = api.published.events
    assert (event.type, event.payload.customer_ref, event.payload.identifier.value, event.payload.actor.name) == (
        "contact.linked", "K-1", STRANGER, "anna")
    again = await api.post(f"/api/customers/{ERIKA}/unlink", json={"kind": "phone", "value": STRANGER}, headers=AGENT)
    assert again.status_code == 409 and again.json()["error"] == "not_linked"
    forbidden = await api.post(f"/api/customers/{ERIKA}/link", json={"kind": "phone", "value": STRANGER}, headers=OPS)
    assert forbidden.status_code == 403
    invalid = await api.post(f"/api/customers/{ERIKA}/link", json={"kind": "fax", "value": "1"}, headers=AGENT)
    assert invalid.status_code == 422 and invalid.json()["error"] == "invalid_request"


async def test_health_readiness_and_metrics_answer(api):
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    assert (await api.get("/readyz")).json()["checks"] == {"database": "ok"}
    assert "touchpoint_projector_events_applied_total" in (await api.get("/metrics")).text


async def test_linking_and_unlinking_through_kafka_move_history_between_timelines(kafka_settings, postgres_url):
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    projector = BatchProjector(TimelineWriter(engine), publisher, kafka_settings.topic_prefix)
    app = create_app(kafka_settings.model_copy(update={"file": auth_config()}), engine=engine, publisher=publisher)
    contact = contact_id_for(("phone", STRANGER))
    try:
        await publisher.publish(history())
        positions = await catch_up(kafka_settings, projector, {})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            async def summaries(owner):
                page = (await client.get(f"/api/customers/{owner}/timeline?limit=200", headers=AGENT)).json()
                return [e["summary"] for e in page["entries"]]

            assert await summaries(contact) == [f"Missed call from {STRANGER}"]
            body = {"kind": "phone", "value": STRANGER, "reason": "caller confirmed"}
            assert (await client.post(f"/api/customers/{ERIKA}/link", json=body, headers=AGENT)).status_code == 202
            positions = await catch_up(kafka_settings, projector, positions)
            assert await summaries(contact) == []
            assert f"Missed call from {STRANGER}" in await summaries(ERIKA)

            assert (await client.post(f"/api/customers/{ERIKA}/unlink", json=body, headers=AGENT)).status_code == 202
            await catch_up(kafka_settings, projector, positions)
            assert await summaries(contact) == [f"Missed call from {STRANGER}"]
            assert f"Missed call from {STRANGER}" not in await summaries(ERIKA)
    finally:
        await publisher.stop()
        await engine.dispose()


async def test_a_customer_shows_which_of_their_addresses_hard_bounced(api):
    bounce = f.mail(99, "erika@example.org", 200, subject="Undelivered Mail Returned to Sender", classification="bounce")
    bounce = bounce.model_copy(update={"payload": bounce.payload.model_copy(
        update={"bounced_message_id": "<m3@example.org>", "bounced_recipients": ("erika@example.org",)})})
    await TimelineWriter(api._transport.app.state.engine).write([bounce])
    response = await api.get(f"/api/customers/{ERIKA}", headers=AGENT)
    assert response.status_code == 200
    assert list(response.json()["hard_bounced_emails"]) == ["erika@example.org"]
    assert (await api.get(f"/api/customers/{MAX}", headers=AGENT)).json()["hard_bounced_emails"] == {}
    page = await api.get(f"/api/customers/{ERIKA}/timeline", headers=AGENT, params={"limit": 1})
    (entry,) = page.json()["entries"]
    assert entry["details"]["bounced_entry_id"] is not None  # the mail <m3@example.org> it bounced
