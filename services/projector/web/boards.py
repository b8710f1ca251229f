"""The SLA board (`/complaints`, agents and leads) and the ops page (`/ops`) with dead-letter replay."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from services.ingest.imap.signin_status import mailbox_statuses
from services.projector.api import queries
from services.projector.complaints import store, views
from services.projector.complaints.explain import clock_details
from services.projector.complaints.tables import complaints as complaints_table
from services.projector.ops.deadletters import ReplayRefused, read_dead_letters, replay, with_replays
from services.projector.timeline.rows import contact_id_for, customer_id_for
from services.projector.web.guards import check_csrf, session_of
from services.projector.web.retention import retention_context
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.security import client_options
from shared.privacy.blobs import blob_store

if TYPE_CHECKING:
    from services.projector.web.ui import WebUi

PRIORITIES = ("urgent", "high", "normal", "low")
THROUGHPUT_MINUTES = 10
FRESH_SECONDS = 1  # the page shows the broker as it is now; the background samples feed the per-minute history
LAST_WEBHOOK_METRIC = "touchpoint_webhook_last_accepted_timestamp_seconds"


def boards_router(ui: WebUi) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    pages = ui.pages
    rules = ui.complaint_rules

    @router.get("/complaints")
    async def complaints_board(request: Request, team: str = "", priority: str = "") -> Response:
        session_of(request, "agent", "lead")
        priority = priority if priority in PRIORITIES else ""
        async with ui.reads.connect() as conn:
            ids = await store.list_complaint_ids(conn, ("open", "paused"), team or None, priority or None, 500)
            events = await store.events_of_many(conn, ids)
            teams = [t for (t,) in await conn.execute(select(complaints_table.c.team).distinct()) if t]
            now = datetime.now(UTC)
            responds = "agent" in ui.settings.file.sla.first_response_counts
            rows = views.sort_by_urgency(views.board_entry(events[i], rules, now) for i in ids if events[i])
            for row in rows:
                row["timeline_link"] = await timeline_link(conn, row["customer"])
                row.update(clock_details(events[row["complaint_id"]], rules, now, responds))
        return pages.render(request, "complaints.html", rows=rows, teams=sorted(teams), team=team, priority=priority,
                            priorities=PRIORITIES, now=now, page="complaints")

    @router.get("/ops")
    async def ops_page(request: Request, done: str = "", error: str = "") -> Response:
        session_of(request, "ops")
        problems: list[str] = []
        samples = ui.monitor.history.samples
        if not samples or time.time() - samples[-1].at > FRESH_SECONDS:
            try:
                await ui.monitor.sample_once()
            except Exception as exc:  # the page still shows what it has, and says why the rest is missing
                problems.append(f"Kafka: {exc!r}")
        snapshot = ui.monitor.snapshot(THROUGHPUT_MINUTES)
        try:
            letters = await with_replays(ui.engine, await read_dead_letters(
                ui.settings.bootstrap_servers, ui.settings.topic_prefix, 100, client_options(ui.settings)))
        except KafkaUnavailable as exc:
            letters, problems = [], [*problems, str(exc)]
        webhooks, ingest_ok = await last_webhooks(ui)
        mailboxes = await last_imap_syncs(ui)
        peak = max([v for series in snapshot.throughput.values() for v in series] or [0]) or 1
        return pages.render(request, "ops.html", snapshot=snapshot, peak=peak, minutes=THROUGHPUT_MINUTES,
                            prefix=ui.settings.topic_prefix, letters=letters, webhooks=webhooks, ingest_ok=ingest_ok,
                            ingest_url=ingest_url(ui), mailboxes=mailboxes, problems=problems, done=done, error=error,
                            now=time.time(), page="ops", **await retention_context(ui.engine, ui.settings))

    @router.post("/ops/replay")
    async def replay_letter(request: Request, letter_id: str = Form(""), csrf_token: str = Form("")) -> Response:
        session = session_of(request, "ops")
        check_csrf(session, csrf_token)
        try:
            topic = await replay(ui.engine, ui.publisher, ui.settings.bootstrap_servers, letter_id, session.principal.user,
                                 ui.settings.topic_prefix, client_options(ui.settings),
                                 blob_store(ui.settings.attachments_path, ui.settings.encrypts_personal_data))
        except (ReplayRefused, ValueError, KafkaUnavailable) as exc:
            return RedirectResponse(f"/ops?error={quote(str(exc))}#dead-letters", status_code=303)
        return RedirectResponse(f"/ops?done={quote(letter_id + ' → ' + topic)}#dead-letters", status_code=303)

    return router


async def timeline_link(conn, customer: dict[str, Any]) -> str | None:  # type: ignore[no-untyped-def]
    """The customer's timeline; a complaint opened before its sender was known to be a customer
    names only an address, which leads to the customer (or the unmatched contact) now."""
    if customer.get("customer_id"):
        return f"/customers/{customer['customer_id']}"
    if customer.get("customer_ref"):
        return f"/customers/{customer_id_for(customer['customer_ref'])}"
    for kind in ("email", "phone"):
        value = customer.get(kind)
        if value:
            found = await queries.identity(conn, kind, value)
            return f"/customers/{found.customer_id if found and found.customer_id else contact_id_for((kind, value))}"
    return None


def ingest_url(ui: WebUi) -> str:
    settings = ui.settings
    if settings.ingest_admin_port:  # metrics may be off the public port
        return f"http://{settings.admin_host}:{settings.ingest_admin_port}/metrics"
    return f"http://{settings.ingest_host}:{settings.ingest_port}/metrics"


async def last_webhooks(ui: WebUi) -> tuple[dict[str, float], bool]:
    """Last accepted webhook per source, from the ingest service's own gauge."""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            response = await client.get(ingest_url(ui))
            response.raise_for_status()
    except httpx.HTTPError:
        return {}, False
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == LAST_WEBHOOK_METRIC:
                found[sample.labels.get("source", "?")] = sample.value
    return dict(sorted(found.items())), True


async def last_imap_syncs(ui: WebUi) -> list[dict[str, Any]]:
    """Last full sync per mailbox and folder, and each mailbox's last sign-in, as the IMAP pollers report them."""
    try:
        return await mailbox_statuses(ui.engine)
    except Exception:  # no IMAP tables in this database: no mailboxes to show
        return []
