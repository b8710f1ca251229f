"""Complaints across channels, end to end against real Kafka and PostgreSQL: interactions in,
complaint events out (published once) and the SLA board read model."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from services.projector.api.auth import Authorizer
from services.projector.api.complaints import complaints_router
from services.projector.complaints.main import serve
from services.projector.complaints.processor import DETECTOR
from services.projector.complaints.tables import complaints
from shared.db.engine import session_factory
from shared.db.migrate import upgrade_async
from shared.db.tracking import forget
from shared.web import install_error_handlers
from tests.complaint_builders import form, mail
from tests.integration.complaint_harness import Running, complaint_log, configure, eventually

pytestmark = pytest.mark.integration

FILE = {
    "auth": {"tokens": [{"token": "agent-token-1", "user": "anna", "role": "agent"}]},
    "sla": {
        "timezone": "Europe/Berlin",
        "complaint_mail_rules": [{"to": ["complaints@shop.example"], "team": "care"}],
        "policies": [{"name": "standard", "calendar": "24/7", "first_response": "4h", "resolution": "3d"}],
    },
}
AGENT = {"Authorization": "Bearer agent-token-1"}


@pytest.fixture
async def hub(kafka_settings, postgres_url):
    running = await Running(configure(kafka_settings, postgres_url, FILE)).start()
    yield running
    await running.close()


def api_client(hub: Running) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(complaints_router(hub.settings, session_factory(hub.engine), hub.publisher, Authorizer(hub.settings)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def rows(hub: Running) -> list[dict]:
    async with hub.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(complaints))).mappings()]


async def one_row(hub: Running, predicate) -> dict | None:
    found = [r for r in await rows(hub) if predicate(r)]
    return found[0] if len(found) == 1 else None


async def test_form_complaint_answered_by_reply_mail_then_resolved(hub):
    now = datetime.now(UTC)
    await hub.publisher.publish([form(now, n="s1")])
    opened = await eventually(lambda: one_row(hub, lambda r: r["origin"] == "webform"), "the form complaint")
    assert (opened["status"], opened["state"], opened["policy"]) == ("open", "ok", "standard")
    assert opened["first_response_due"] == now + timedelta(hours=4)

    await hub.publisher.publish([mail(now + timedelta(minutes=5), sent=True, thread="reply-s1", n="s1-reply")])
    answered = await eventually(lambda: one_row(hub, lambda r: r["responded_at"] is not None), "the reply mail")
    assert answered["complaint_id"] == opened["complaint_id"]

    async with api_client(hub) as client:
        done = await client.post(f"/api/complaints/{opened['complaint_id']}/resolve", headers=AGENT)
        assert done.status_code == 200, done.text
        assert done.json()["complaint"]["state"] == "met"
        board = (await client.get("/api/complaints?status=resolved", headers=AGENT)).json()["complaints"]
        assert [c["complaint_id"] for c in board] == [opened["complaint_id"]]

    await eventually(hub.caught_up, "the processor to catch up")
    logged = [(e.type, e.payload.complaint_id) for e in await complaint_log(hub.settings)]
    assert logged == [(t, opened["complaint_id"]) for t in ("complaint.opened", "complaint.responded", "complaint.resolved")]


async def test_complaint_paused_while_waiting_for_the_customer_resumes_on_their_mail(hub):
    now = datetime.now(UTC)
    await hub.publisher.publish([mail(now, to="complaints@shop.example", thread="t-pause", n="p1")])
    opened = await eventually(lambda: one_row(hub, lambda r: r["origin"] == "email"), "the mail complaint")
    assert opened["team"] == "care"
    async with api_client(hub) as client:
        paused = await client.post(f"/api/complaints/{opened['complaint_id']}/pause", json={"reason": "waiting_for_customer"},
                                   headers=AGENT)
        assert paused.json()["complaint"]["state"] == "paused"
        assert (await one_row(hub, lambda r: True))["resolution_due"] is None  # it moves with the pause

        await hub.publisher.publish([mail(datetime.now(UTC), thread="t-pause", n="p2")])
        await eventually(lambda: one_row(hub, lambda r: r["status"] == "open"), "the follow-up to resume it")
        detail = (await client.get(f"/api/complaints/{opened['complaint_id']}", headers=AGENT)).json()
    assert [s["kind"] for s in detail["clocks"]["resolution"]["segments"]] == ["running", "paused", "running"]
    assert detail["resolution_due"] is not None


async def test_a_follow_up_mail_joins_the_open_complaint(hub):
    now = datetime.now(UTC)
    await hub.publisher.publish([mail(now, to="complaints@shop.example", thread="t-join", n="j1")])
    await eventually(lambda: one_row(hub, lambda r: True), "the complaint")
    await hub.publisher.publish([mail(now + timedelta(minutes=1), to="complaints@shop.example", thread="t-join", n="j2")])
    await eventually(hub.caught_up, "the processor to catch up")
    assert len(await rows(hub)) == 1
    assert [e.type for e in await complaint_log(hub.settings)] == ["complaint.opened"]


async def test_an_auto_reply_opens_nothing(hub):
    now = datetime.now(UTC)
    await hub.publisher.publish([
        mail(now, to="complaints@shop.example", thread="t-auto", n="a1", classification="auto_reply"),
        mail(now, to="complaints@shop.example", thread="t-bounce", n="a2", classification="bounce"),
        form(now, topic="contact", n="a3"),
    ])
    await eventually(hub.caught_up, "the processor to catch up")
    async with hub.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(complaints)) == 0
    assert await complaint_log(hub.settings) == []


async def test_a_processor_replaying_the_log_after_a_restart_derives_the_same_ids(hub):
    now = datetime.now(UTC)
    await hub.publisher.publish([form(now, n="r1")])
    await eventually(lambda: one_row(hub, lambda r: True), "the complaint")
    await hub.stop()
    async with hub.engine.begin() as conn:  # as if no position had been committed: replay everything
        await forget(conn, DETECTOR)
    await hub.start()
    await eventually(hub.caught_up, "the processor to catch up")
    assert len(await rows(hub)) == 1
    opened_ids = {e.event_id for e in await complaint_log(hub.settings) if e.type == "complaint.opened"}
    assert len(opened_ids) == 1


async def test_the_service_entry_runs_until_told_to_stop(kafka_settings, postgres_url):
    settings = configure(kafka_settings, postgres_url, FILE)
    await upgrade_async(settings.db_url)  # so that the watcher can read before the service is up
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(settings, stop))
    watcher = Running(settings)
    try:
        await watcher.publisher.publish([form(datetime.now(UTC), n="m1")])
        await eventually(lambda: one_row(watcher, lambda r: r["origin"] == "webform"), "the complaint from the service")
    finally:
        stop.set()
        await serving
        await watcher.close()
    assert serving.exception() is None
