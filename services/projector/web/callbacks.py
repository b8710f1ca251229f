"""The callback queue page (`/callbacks`, agents and leads), an agent's close form, and the
fragment the customer page loads to show the customer's open callback."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from events.text import CleanBody, CleanLine
from services.projector.api import queries
from services.projector.callbacks import queue
from services.projector.callbacks.decide import CallbackNotOpen
from services.projector.callbacks.rules import rules_from_settings
from services.projector.web.guards import check_csrf, session_of
from shared.kafka.errors import KafkaUnavailable

if TYPE_CHECKING:
    from services.projector.web.ui import WebUi

ROLES = ("agent", "lead")
log = logging.getLogger("touchpoint.web")


def callbacks_router(ui: WebUi) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    pages, rules = ui.pages, rules_from_settings(ui.settings)

    @router.get("/callbacks")
    async def callbacks_page(request: Request, closed: CleanLine = "", error: CleanLine = "") -> Response:
        session_of(request, *ROLES)
        now = datetime.now(UTC)
        async with ui.reads.connect() as conn:
            rows = await queue.queue(conn, rules, now)
        return pages.render(request, "callbacks.html", rows=rows, calendar=rules.calendar.name, closed=closed,
                            error=error, page="callbacks")

    @router.post("/callbacks/{callback_id}/close")
    async def close(request: Request, callback_id: CleanLine, note: CleanBody = Form(""),
                    csrf_token: str = Form(""), back: str = Form("")) -> Response:
        session = session_of(request, *ROLES)
        check_csrf(session, csrf_token)
        target = back if back.startswith("/customers/") else "/callbacks"
        problem = None
        if not note.strip():
            problem = "note_required"
        else:
            try:
                async with ui.reads.connect() as conn:
                    await queue.close(conn, ui.publisher, callback_id, session.principal.user, note.strip()[:4000],
                                      datetime.now(UTC))
            except (queue.CallbackNotFound, CallbackNotOpen):
                problem = "callback_gone"
            except KafkaUnavailable as exc:
                log.warning("closing a callback was not recorded: Kafka did not acknowledge: %s", exc)
                problem = "kafka_down"
        if problem:
            return RedirectResponse(f"{target}?error={quote(problem)}", status_code=303)
        return RedirectResponse(f"{target}?closed={quote(callback_id)}", status_code=303)

    @router.get("/customers/{customer_id}/callbacks")
    async def customer_callbacks(request: Request, customer_id: CleanLine) -> Response:
        """The open callbacks of the customer's numbers, as a fragment (empty when none)."""
        session_of(request)
        async with ui.reads.connect() as conn:
            owner = await queries.customer(conn, customer_id)
            rows = await queue.queue(conn, rules, datetime.now(UTC), phones=owner.phones) if owner and owner.phones else []
        body = pages.fragment(request, "callback_note.html", rows=rows, customer_id=customer_id) if rows else ""
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    return router
