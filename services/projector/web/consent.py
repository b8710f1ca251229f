"""The customer page's consent card: a fragment with each purpose's current state (when, and
how: which form and consent text version, or which agent) and the history, loaded by
`/static/consent.js`; and the agent's form to record consent given or withdrawn
(`POST /customers/{id}/consents`, CSRF-checked), which waits briefly until the projection shows
it and returns to the page."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from events.text import CleanBody, CleanLine
from services.projector.api import queries as rows
from services.projector.consent import commands
from services.projector.consent.decide import RecordConsent
from services.projector.consent.queries import consents_of
from services.projector.customers.commands import Rejected
from services.projector.web.guards import check_csrf, session_of

if TYPE_CHECKING:
    from services.projector.web.ui import WebUi

ACTORS = ("agent", "lead")
log = logging.getLogger("touchpoint.web")


def consent_router(ui: WebUi) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    purposes = list(ui.settings.file.consent.purposes)

    @router.get("/customers/{customer_id}/consents")
    async def consent_card(request: Request, customer_id: CleanLine) -> Response:
        session_of(request)
        async with ui.reads.connect() as conn:
            owner = await rows.customer(conn, customer_id)
            if owner is None:
                return HTMLResponse("", status_code=404)
            found = await consents_of(conn, owner, purposes)
        body = ui.pages.fragment(request, "consent_card.html", consents=found, customer_id=customer_id)
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    @router.post("/customers/{customer_id}/consents")
    async def record(request: Request, customer_id: CleanLine, csrf_token: str = Form(""),
                     purpose: CleanLine = Form(""), state: CleanLine = Form(""), note: CleanBody = Form("")) -> Response:
        session = session_of(request, *ACTORS)
        check_csrf(session, csrf_token)
        if state not in ("given", "withdrawn"):
            return back(customer_id, consent_error="choose given or withdrawn")
        command = RecordConsent(customer_id, purpose.strip(), state == "given", session.principal.user, "web",
                                note.strip()[:2000] or None)
        try:
            async with ui.reads.connect() as conn:
                event = await commands.record(conn, ui.publisher, lambda: datetime.now(UTC), command, purposes)
        except Rejected as refused:
            log.info("consent not recorded: %s", refused.code)
            return back(customer_id, consent_error=refused.detail)
        await commands.applied(ui.reads, event, within=5.0)
        return back(customer_id, consent_note=f"{command.purpose}: consent {state}")

    return router


def back(customer_id: str, **params: str) -> RedirectResponse:
    query = "&".join(f"{key}={quote(value)}" for key, value in params.items())
    return RedirectResponse(f"/customers/{customer_id}?{query}#consent", status_code=303)
