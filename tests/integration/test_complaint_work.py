"""Complaint work through the command path against real Kafka and PostgreSQL: a browser form
or a JSON call becomes one event on the log, the complaints processor (the only writer)
applies it, and the page and board read it back."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.api.complaints import complaints_router
from services.projector.complaints.tables import complaints
from services.projector.web.ui import WebUi
from tests.complaint_builders import form
from tests.integration.complaint_harness import Running, complaint_log, configure, eventually

pytestmark = pytest.mark.integration

FILE = {
    "auth": {"session_secret": "complaint-work-secret-0123456789",
             "tokens": [{"token": "agent-token-1", "user": "anna", "role": "agent"},
                        {"token": "lead-token-1", "user": "lena", "role": "lead"}]},
    "sla": {"timezone": "Europe/Berlin",
            "policies": [{"name": "standard", "calendar": "24/7", "first_response": "4h", "resolution": "3d"}]},
}


@pytest.fixture
async def hub(kafka_settings, postgres_url):
    running = await Running(configure(kafka_settings, postgres_url, FILE)).start()
    yield running
    await running.close()


@pytest.fixture
async def site(hub):
    web = WebUi(hub.settings, hub.engine, hub.publisher, Authorizer(hub.settings))
    app = create_app(hub.settings, engine=hub.engine, publisher=hub.publisher,
                     routers=[complaints_router(hub.settings, hub.engine, hub.publisher)])
    web.install(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://agent.test") as client:
        yield client


async def log_in(client: httpx.AsyncClient, token: str) -> str:
    page = (await client.get("/login")).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert (await client.post("/login", data={"token": token, "csrf_token": csrf, "next": "/"})).status_code == 303
    return re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/complaints")).text).group(1)


async def opened_complaint(hub: Running) -> str:
    await hub.publisher.publish([form(datetime.now(UTC), n=uuid.uuid4().hex)])

    async def row():
        async with hub.engine.connect() as conn:
            return (await conn.execute(select(complaints.c.complaint_id))).scalar()
    return await eventually(row, "the form complaint")


async def row_of(hub: Running, complaint_id: str) -> dict:
    async with hub.engine.connect() as conn:
        return dict((await conn.execute(select(complaints).where(complaints.c.complaint_id == complaint_id))).mappings().one())


async def test_a_form_action_is_one_event_that_the_processor_applies_before_the_page_comes_back(hub, site):
    complaint_id = await opened_complaint(hub)
    csrf = await log_in(site, "agent-token-1")

    answer = await site.post(f"/complaints/{complaint_id}/respond", data={"csrf_token": csrf, "next": "/complaints",
                                                                        "note": "called her back"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/complaints?complaint={complaint_id}&complaint_done=respond#complaint-{complaint_id}"
    assert (await row_of(hub, complaint_id))["responded_at"] is not None
    board = (await site.get(answer.headers["location"])).text
    assert "The response is recorded." in board

    resolved = await site.post(f"/complaints/{complaint_id}/resolve", data={"csrf_token": csrf, "next": "/complaints"})
    assert "complaint_done=resolve" in resolved.headers["location"]
    assert (await row_of(hub, complaint_id))["status"] == "resolved"

    again = await site.post(f"/complaints/{complaint_id}/resolve", data={"csrf_token": csrf, "next": "/complaints"})
    assert "complaint_error=the+complaint+is+resolved+already" in again.headers["location"]

    actions = [e for e in await complaint_log(hub.settings) if e.type in ("complaint.responded", "complaint.resolved")]
    assert [(e.type, e.payload.complaint_id) for e in actions] == [("complaint.responded", complaint_id),
                                                                   ("complaint.resolved", complaint_id)]
    assert actions[0].payload.note == "called her back" and actions[0].payload.responded_by.name == "anna"


async def test_forms_without_the_csrf_token_record_nothing_and_priority_is_for_leads(hub, site):
    complaint_id = await opened_complaint(hub)
    csrf = await log_in(site, "agent-token-1")
    assert (await site.post(f"/complaints/{complaint_id}/resolve", data={"next": "/complaints"})).status_code == 403
    assert (await site.post(f"/complaints/{complaint_id}/priority",
                            data={"csrf_token": csrf, "priority": "urgent"})).status_code == 403
    assert [e.type for e in await complaint_log(hub.settings)] == ["complaint.opened"]
    assert (await row_of(hub, complaint_id))["status"] == "open"


async def test_a_lead_pauses_changes_priority_and_the_json_api_resumes_through_the_same_path(hub, site):
    complaint_id = await opened_complaint(hub)
    csrf = await log_in(site, "lead-token-1")
    paused = await site.post(f"/complaints/{complaint_id}/pause", data={"csrf_token": csrf, "reason": "waiting_for_customer"})
    assert "complaint_done=pause" in paused.headers["location"]
    await site.post(f"/complaints/{complaint_id}/priority", data={"csrf_token": csrf, "priority": "urgent"})
    row = await row_of(hub, complaint_id)
    assert (row["status"], row["state"], row["priority"]) == ("paused", "paused", "urgent")

    resumed = await site.post(f"/api/complaints/{complaint_id}/resume", headers={"Authorization": "Bearer lead-token-1"})
    assert resumed.status_code == 200 and resumed.json()["applied"] is True
    assert (await row_of(hub, complaint_id))["status"] == "open"
