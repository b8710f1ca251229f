"""The customer page's erasure button: `POST /customers/{id}/erase` (admin, CSRF-checked, with
the confirmation box ticked), then back to the page. The erasure itself is the API's (services/projector/privacy/erasure.py)."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from events.envelope import ActorRef
from events.text import CleanLine
from services.projector.api import queries
from services.projector.api.privacy import target_of
from services.projector.privacy.erasure import NothingToErase, erase
from services.projector.web.guards import check_csrf, session_of
from shared.kafka.errors import KafkaUnavailable
from shared.privacy.runtime import active_sealer, master_key
from shared.web import ApiError

log = logging.getLogger("touchpoint.web")


def privacy_pages_router(ui) -> APIRouter:  # type: ignore[no-untyped-def]
    router = APIRouter()

    @router.post("/customers/{customer_id}/erase")
    async def erase_page(request: Request, customer_id: CleanLine, csrf_token: str = Form(""),
                         confirm: str = Form("")) -> Response:
        session = session_of(request, "admin")
        check_csrf(session, csrf_token)
        if confirm != "yes":
            return RedirectResponse(f"/customers/{customer_id}?link_error={quote('tick the box to confirm the erasure')}",
                                    status_code=303)
        async with ui.reads.connect() as conn:
            found = await queries.customer(conn, customer_id)
        if found is None:
            return RedirectResponse("/", status_code=303)
        sealer = active_sealer()
        try:
            await erase(ui.engine, sealer.master if sealer else master_key(ui.settings), ui.publisher,
                        target_of(found), ActorRef(kind="agent", name=session.principal.user))
        except (NothingToErase, ApiError, KafkaUnavailable) as exc:
            log.warning("erasure of %s did not complete: %s", customer_id, type(exc).__name__)
            return RedirectResponse(f"/customers/{customer_id}?link_error={quote(str(exc))}", status_code=303)
        return RedirectResponse(f"/customers/{customer_id}?erased=1", status_code=303)

    return router
