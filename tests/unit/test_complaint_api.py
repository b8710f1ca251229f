"""The complaints API on a small app: board, explanation, stats and agent actions recorded as
events (in-memory publisher, SQLite read model)."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.api.complaints import complaints_router
from services.projector.complaints.policy import rules_from_settings
from services.projector.complaints.processor import complaints_topic
from services.projector.complaints.store import apply_events
from shared.config import FileConfig, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.consumer import Consumed
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import InMemoryPublisher
from shared.web import install_error_handlers
from tests.complaint_builders import berlin, opened, paused, responded
from tests.complaint_projection import processed_publisher

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
CONFIG = FileConfig.model_validate({
    "auth": {"tokens": [{"token": "agent-token-1", "user": "anna", "role": "agent", "team": "care"},
                        {"token": "lead-token-1", "user": "lena", "role": "lead"},
                        {"token": "ops-token-1", "user": "otto", "role": "ops"}]},
    "sla": {"timezone": "Europe/Berlin",
            "calendars": [{"name": "office", "hours": {d: ["08:00-12:00", "13:00-17:00"] for d in WEEKDAYS}}],
            "policies": [{"name": "urgent", "calendar": "office", "first_response": "1h", "resolution": "1d",
                          "priorities": ["urgent"], "version": 2},
                         {"name": "standard", "calendar": "office", "first_response": "4h", "resolution": "2d"}]},
})
AGENT = {"Authorization": "Bearer agent-token-1"}
LEAD = {"Authorization": "Bearer lead-token-1"}


class FixedClock:
    def __init__(self, at):
        self.at = at

    def __call__(self):
        return self.at


@pytest.fixture
async def api(tmp_path):
    settings = Settings(data_dir=tmp_path, file=CONFIG)
    await upgrade_async(settings.db_url)
    engine = make_engine(settings.db_url)
    clock = FixedClock(berlin("2026-03-02 10:00"))
    rules = rules_from_settings(settings)
    publisher = processed_publisher(engine, settings, rules, clock)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(complaints_router(settings, engine, publisher, Authorizer(settings), now=clock))

    async def seed(*events):
        # as the complaints processor would read them from the log
        await publisher.processor.write([Consumed(e, complaints_topic(settings.topic_prefix), 0, n)
                                         for n, e in enumerate(events)], {})

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client, publisher, clock, seed
    await engine.dispose()


async def test_the_board_lists_open_complaints_most_urgent_first(api):
    client, _, _, seed = api
    await seed(opened(berlin("2026-03-02 09:30"), "calm"),
               opened(berlin("2026-03-02 08:00"), "late", priority="urgent"),
               opened(berlin("2026-03-02 08:30"), "waiting"), paused(berlin("2026-03-02 09:00"), "waiting"),
               opened(berlin("2026-03-02 08:10"), "soon"))
    answer = await client.get("/api/complaints", headers=AGENT)
    assert answer.status_code == 200
    rows = answer.json()["complaints"]
    assert [r["complaint_id"] for r in rows] == ["late", "soon", "calm", "waiting"]
    assert [r["state"] for r in rows] == ["breached", "ok", "ok", "paused"]
    late = rows[0]
    assert late["policy"] == "urgent" and late["policy_version"] == 2
    assert datetime.fromisoformat(late["first_response_due"]) == berlin("2026-03-02 09:00")
    assert late["remaining_business_seconds"] == -3600
    assert late["customer"]["link"] == "/customers/cust-1"
    assert late["customer"]["timeline"] == "/api/customers/cust-1/timeline"
    assert late["customer"]["lookup"] == "/api/lookup?email=erika.muster%40example.org"
    assert rows[1]["remaining_business_seconds"] == 2 * 3600 + 10 * 60


async def test_the_board_filters_by_status_team_and_priority(api):
    client, _, _, seed = api
    await seed(opened(berlin("2026-03-02 09:00"), "a", team="care"), opened(berlin("2026-03-02 09:00"), "b", team="billing",
                                                                           priority="urgent"))
    ids = lambda answer: [r["complaint_id"] for r in answer.json()["complaints"]]
    assert ids(await client.get("/api/complaints?team=care", headers=AGENT)) == ["a"]
    assert ids(await client.get("/api/complaints?priority=urgent", headers=AGENT)) == ["b"]
    assert ids(await client.get("/api/complaints?status=resolved", headers=AGENT)) == []
    bad = await client.get("/api/complaints?status=closed", headers=AGENT)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_status"


async def test_one_complaint_explains_its_clocks_with_segments(api):
    client, _, clock, seed = api
    clock.at = berlin("2026-03-02 13:30")
    await seed(opened(berlin("2026-03-02 11:30")))
    body = (await client.get("/api/complaints/cmp-1", headers=AGENT)).json()
    segments = body["clocks"]["first_response"]["segments"]
    assert [(s["kind"], s["seconds"]) for s in segments] == [("running", 1800), ("outside_hours", 3600), ("running", 1800)]
    assert body["clocks"]["first_response"]["elapsed_seconds"] == 3600


async def test_an_agent_response_is_published_and_shows_at_once(api):
    client, publisher, _, seed = api
    await seed(opened(berlin("2026-03-02 09:00")))
    answer = await client.post("/api/complaints/cmp-1/respond", json={"note": "called back"}, headers=AGENT)
    assert answer.status_code == 200
    [event] = publisher.events
    assert event.type == "complaint.responded" and event.payload.responded_by.name == "anna"
    assert answer.json()["complaint"]["responded_at"] is not None
    again = await client.post("/api/complaints/cmp-1/respond", headers=AGENT)
    assert again.status_code == 409 and again.json()["error"] == "already_responded"


async def test_an_agent_action_continues_the_chain_its_complaint_was_opened_in(api):
    client, publisher, _, seed = api
    opening = opened(berlin("2026-03-02 09:00")).model_copy(update={"correlation_id": "chain-of-the-form"})
    await seed(opening)
    assert (await client.post("/api/complaints/cmp-1/resolve", headers=AGENT)).status_code == 200
    [event] = publisher.events
    assert event.correlation_id == "chain-of-the-form"


async def test_resolve_reopen_pause_resume_and_priority_follow_the_lifecycle(api):
    client, publisher, _, seed = api
    await seed(opened(berlin("2026-03-02 09:00")))
    post = lambda path, **kw: client.post(f"/api/complaints/cmp-1/{path}", headers=AGENT, **kw)
    assert (await post("resume")).status_code == 409
    assert (await post("pause", json={"reason": "waiting_for_customer"})).json()["complaint"]["state"] == "paused"
    assert (await post("resume")).json()["complaint"]["status"] == "open"
    assert (await post("priority", json={"priority": "urgent"})).json()["complaint"]["policy"] == "urgent"
    assert (await post("reopen")).status_code == 409
    assert (await post("resolve")).json()["complaint"]["status"] == "resolved"
    assert (await post("resolve")).status_code == 409
    assert (await post("reopen")).json()["complaint"]["status"] == "open"
    assert [e.type for e in publisher.events] == ["complaint.paused", "complaint.resumed", "complaint.priority_changed",
                                                  "complaint.resolved", "complaint.reopened"]
    bad = await post("priority", json={"priority": "extreme"})
    assert bad.status_code == 422 and "priority" in bad.json()["detail"]


async def test_an_agent_opens_a_complaint_idempotently(api):
    client, publisher, _, _ = api
    body = {"subject": "Called about a broken lamp", "phone": "+49 30 123456", "priority": "high"}
    first = await client.post("/api/complaints", json=body, headers={**AGENT, "Idempotency-Key": "k1"})
    second = await client.post("/api/complaints", json=body, headers={**AGENT, "Idempotency-Key": "k1"})
    assert first.status_code == second.status_code == 201
    assert first.json()["event_id"] == second.json()["event_id"]
    assert {str(e.event_id) for e in publisher.events} == {first.json()["event_id"]}  # a retry republishes the same id
    complaint = first.json()["complaint"]
    assert (complaint["origin"], complaint["team"], complaint["customer"]["phone"]) == ("agent", "care", "+4930123456")
    nobody = await client.post("/api/complaints", json={"subject": "x"}, headers=AGENT)
    assert nobody.status_code == 422 and nobody.json()["error"] == "no_customer"


async def test_unknown_complaints_and_missing_tokens_are_refused(api):
    client, publisher, _, _ = api
    assert (await client.post("/api/complaints/nope/resolve", headers=AGENT)).status_code == 404
    assert (await client.get("/api/complaints")).status_code == 401
    assert (await client.get("/api/complaints/stats", headers=AGENT)).status_code == 403
    assert publisher.events == []


async def test_nothing_is_recorded_when_kafka_does_not_acknowledge(api):
    client, publisher, _, seed = api
    await seed(opened(berlin("2026-03-02 09:00")))
    publisher.fail_with = KafkaUnavailable("broker down at kafka-internal-7:9092")
    answer = await client.post("/api/complaints/cmp-1/resolve", headers=AGENT)
    assert answer.status_code == 503 and answer.json()["error"] == "kafka_unavailable"
    assert "kafka-internal-7" not in answer.text
    board = (await client.get("/api/complaints", headers=AGENT)).json()["complaints"]
    assert board[0]["status"] == "open"


async def test_stats_report_times_and_breach_rates_per_channel_and_team(api):
    client, _, clock, seed = api
    await seed(opened(berlin("2026-03-02 09:00"), "fast", team="care"), responded(berlin("2026-03-02 10:00"), "fast"),
               opened(berlin("2026-03-02 09:00"), "slow", team="care", channel="email", origin="email"),
               responded(berlin("2026-03-02 15:00"), "slow"))
    clock.at = berlin("2026-03-02 16:00")
    report = (await client.get("/api/complaints/stats", headers=LEAD)).json()
    overall = report["overall"]["first_response"]
    assert (overall["count"], overall["breached"], overall["breach_rate"]) == (2, 1, 0.5)
    assert overall["business_seconds"]["p50"] == 3600 and overall["business_seconds"]["max"] == 5 * 3600
    assert report["by_channel"]["email"]["first_response"]["breached"] == 1
    assert report["by_channel"]["webform"]["first_response"]["breached"] == 0
    assert report["by_team"]["care"]["first_response"]["count"] == 2
    assert report["by_policy_version"]["standard@v1"]["first_response"]["count"] == 2
    assert report["open_by_state"] == {"ok": 2}


async def test_agent_actions_count_as_first_response_only_when_configured(tmp_path):
    sla = CONFIG.sla.model_copy(update={"first_response_counts": ["email", "call"]})
    settings = Settings(data_dir=tmp_path, file=CONFIG.model_copy(update={"sla": sla}))
    await upgrade_async(settings.db_url)
    engine = make_engine(settings.db_url)
    publisher = InMemoryPublisher()
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(complaints_router(settings, engine, publisher, Authorizer(settings),
                                         now=FixedClock(berlin("2026-03-02 10:00"))))
    try:
        async with engine.begin() as conn:
            await apply_events(conn, [opened(berlin("2026-03-02 09:00"))], rules_from_settings(settings), berlin("2026-03-02 10:00"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            answer = await client.post("/api/complaints/cmp-1/respond", headers=AGENT)
        assert answer.status_code == 409 and answer.json()["error"] == "not_counted"
        assert publisher.events == []
    finally:
        await engine.dispose()


async def test_the_router_mounts_into_the_agent_api_and_uses_its_engine_and_publisher(tmp_path):
    settings = Settings(data_dir=tmp_path, file=CONFIG)
    await upgrade_async(settings.db_url)
    engine = make_engine(settings.db_url)
    publisher = processed_publisher(engine, settings, rules_from_settings(settings), FixedClock(berlin("2026-03-02 10:00")))
    app = create_app(settings, engine=engine, publisher=publisher, routers=[complaints_router(settings)])
    try:
        async with engine.begin() as conn:
            await apply_events(conn, [opened(berlin("2026-03-02 09:00"))], rules_from_settings(settings), berlin("2026-03-02 10:00"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            board = await client.get("/api/complaints", headers=AGENT)
            resolved = await client.post("/api/complaints/cmp-1/resolve", headers=AGENT)
        assert [c["complaint_id"] for c in board.json()["complaints"]] == ["cmp-1"]
        assert resolved.status_code == 200 and [e.type for e in publisher.events] == ["complaint.resolved"]
    finally:
        await engine.dispose()


async def test_control_characters_and_line_breaks_in_a_complaint_subject_are_cleaned_not_a_server_error(api):
    client, publisher, _, _ = api
    body = b'{"subject": "Kaputt\\u0000\\r\\nBcc: x", "customer_id": "c-1", "email": "erika@example.org"}'
    answer = await client.post("/api/complaints", content=body, headers={**AGENT, "Content-Type": "application/json"})
    assert answer.status_code == 201, answer.text
    (event,) = publisher.events
    assert (event.customer_id, event.payload.subject) == ("c-1", "Kaputt Bcc: x")


async def test_a_nul_in_a_complaint_id_is_a_plain_not_found(api):
    client, *_ = api
    answer = await client.get("/api/complaints/abc%00def", headers=AGENT)
    assert answer.status_code == 404 and answer.json()["error"] == "complaint_not_found"
