"""SLA timers against real Kafka and PostgreSQL: tiny targets on a 24/7 calendar, so warnings
and breaches come due within seconds; each is published exactly once per complaint, clock kind
and point, across several workers, restarts and rebuilds."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.projector.api.auth import Authorizer
from services.projector.api.complaints import complaints_router
from services.projector.complaints.rebuild import rebuild_async
from services.projector.complaints.tables import complaints, sla_outcomes
from services.projector.complaints.timers import fire_due
from shared.db.engine import session_factory
from shared.web import install_error_handlers
from tests.complaint_builders import form
from tests.integration.complaint_harness import Running, complaint_log, configure, eventually

pytestmark = pytest.mark.integration


def tiny(version: int = 1, first_response: str = "3s", resolution: str = "6s") -> dict:
    return {
        "auth": {"tokens": [{"token": "lead-token-1", "user": "lena", "role": "lead"}]},
        "sla": {"policies": [{"name": "tiny", "calendar": "24/7", "first_response": first_response, "resolution": resolution,
                              "warn_at": ["50%", "1s"], "version": version}]},
    }


ALL_POINTS = {(kind, point) for kind in ("first_response", "resolution") for point in ("50%", "1s", "breach")}


def timer_points(events) -> Counter:
    return Counter((e.payload.kind, getattr(e.payload, "warn_point", "breach")) for e in events if e.type.startswith("sla."))


async def sla_events(settings):
    return [e for e in await complaint_log(settings) if e.type.startswith("sla.")]


async def all_fired(settings):
    return set(timer_points(await sla_events(settings))) == ALL_POINTS


@pytest.fixture
async def hub(kafka_settings, postgres_url):
    running = await Running(configure(kafka_settings, postgres_url, tiny())).start()
    yield running
    await running.close()


async def test_warnings_and_breaches_fire_once_also_after_a_restart_and_rebuilds(hub):
    opened_at = datetime.now(UTC)
    await hub.publisher.publish([form(opened_at, n="t1")])
    await eventually(lambda: all_fired(hub.settings), "every warning and breach")
    await eventually(hub.caught_up, "the processor to catch up")
    first = await sla_events(hub.settings)
    assert timer_points(first) == Counter({point: 1 for point in ALL_POINTS})
    by_point = {(e.payload.kind, getattr(e.payload, "warn_point", "breach")): e for e in first}
    assert by_point[("first_response", "50%")].occurred_at == opened_at + timedelta(seconds=1.5)
    assert by_point[("resolution", "1s")].occurred_at == opened_at + timedelta(seconds=5)
    assert by_point[("resolution", "breach")].payload.due_at == opened_at + timedelta(seconds=6)
    assert {e.payload.policy_version for e in first} == {1}

    await hub.stop()
    await hub.start()
    await eventually(hub.caught_up, "the restarted processor to catch up")
    assert await fire_due(hub.engine, hub.publisher, hub.rules) == []

    await hub.stop()
    assert await rebuild_async(hub.settings, show_progress=False) == 1 + 6
    await hub.start()
    await eventually(hub.caught_up, "the processor to catch up after the rebuild")
    assert await fire_due(hub.engine, hub.publisher, hub.rules) == []
    async with hub.engine.connect() as conn:
        row = (await conn.execute(select(complaints))).mappings().one()
    assert (row["state"], row["next_timer_at"]) == ("breached", None)
    assert [e.event_id for e in await sla_events(hub.settings)] == [e.event_id for e in first]


async def test_several_workers_publish_each_timer_once(hub):
    second = await Running(hub.settings).start()
    try:
        await hub.publisher.publish([form(datetime.now(UTC), n="w1"), form(datetime.now(UTC), n="w2")])
        async def both_complaints_fired():
            points = Counter((e.payload.complaint_id, e.payload.kind, getattr(e.payload, "warn_point", "breach"))
                             for e in await sla_events(hub.settings))
            return len(points) == 2 * len(ALL_POINTS) and points
        points = await eventually(both_complaints_fired, "every timer of both complaints")
        await eventually(hub.caught_up, "the processors to catch up")
        assert set(points.values()) == {1}
        assert set(Counter(e.event_id for e in await sla_events(hub.settings)).values()) == {1}
    finally:
        await second.close()


LEAD = {"Authorization": "Bearer lead-token-1"}


def api(running: Running) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(complaints_router(running.settings, session_factory(running.engine), running.publisher,
                                         Authorizer(running.settings)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def stats(running: Running) -> dict:
    async with api(running) as client:
        answer = await client.get("/api/complaints/stats", headers=LEAD)
        assert answer.status_code == 200, answer.text
        return answer.json()


async def test_historic_breaches_keep_their_policy_version_unless_recomputed(hub, kafka_settings, postgres_url):
    await hub.publisher.publish([form(datetime.now(UTC), n="v1")])

    async def first_response_breached():
        return ("first_response", "breach") in timer_points(await sla_events(hub.settings))
    await eventually(first_response_breached, "the first-response breach")
    [complaint_id] = {e.payload.complaint_id for e in await sla_events(hub.settings)}
    async with api(hub) as client:
        late = await client.post(f"/api/complaints/{complaint_id}/respond", headers=LEAD)
        assert late.status_code == 200, late.text
    await eventually(hub.caught_up, "the processor to catch up")
    await hub.stop()
    live = (await stats(hub))["by_policy_version"]["tiny@v1"]["first_response"]
    assert (live["count"], live["breached"]) == (1, 1)

    generous = Running(configure(kafka_settings, postgres_url, tiny(version=2, first_response="1h", resolution="1d")))
    try:
        await rebuild_async(generous.settings, recompute=False, show_progress=False)
        kept = (await stats(generous))["by_policy_version"]
        assert kept["tiny@v1"]["first_response"]["breached"] == 1

        await rebuild_async(generous.settings, recompute=True, show_progress=False)
        async with generous.engine.connect() as conn:
            outcomes = (await conn.execute(select(sla_outcomes))).mappings().all()
            row = (await conn.execute(select(complaints))).mappings().one()
        assert [(o["kind"], o["outcome"], o["policy_version"]) for o in outcomes] == [("first_response", "met", 2)]
        assert (row["state"], row["policy_version"]) == ("ok", 2)
        recomputed = (await stats(generous))["by_policy_version"]
        assert list(recomputed) == ["tiny@v2"] and recomputed["tiny@v2"]["first_response"]["breached"] == 0
    finally:
        await generous.close()
