"""Links between mails on the timeline: an entry opened on its owner's page, and the mail a
reply was threaded to (by References or In-Reply-To, found through the indexed address)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from events.text import CleanLine
from services.projector.timeline.tables import TIMELINE
from services.projector.timeline.view import MAIL_TYPES
from services.projector.web.guards import session_of

router = APIRouter(include_in_schema=False)
E = TIMELINE.entries


@router.get("/entries/{entry_id}/open")
async def open_entry(request: Request, entry_id: CleanLine) -> Response:
    session_of(request)
    async with request.app.state.web.reads.connect() as conn:
        owner = await conn.scalar(select(E.c.owner_id).where(E.c.id == entry_id))
    if not owner:
        return HTMLResponse("not found", status_code=404)
    return RedirectResponse(f"/customers/{owner}?open={entry_id}#entry-{entry_id}", status_code=303)


@router.get("/entries/{entry_id}/thread")
async def thread_mail(request: Request, entry_id: CleanLine) -> Response:
    """The mail whose Message-ID this one was threaded by, with the same customer address."""
    session_of(request)
    async with request.app.state.web.reads.connect() as conn:
        row = (await conn.execute(select(E.c.email, E.c.details).where(E.c.id == entry_id))).first()
        ref = row.details.get("thread_ref") if row else None
        found = None
        if row is not None and row.email and ref:
            found = await conn.scalar(select(E.c.id).where(
                E.c.email == row.email, E.c.type.in_(MAIL_TYPES), E.c.details["message_id"].as_string() == ref,
            ).order_by(E.c.occurred_at, E.c.id).limit(1))
    if found is None:
        return HTMLResponse("that mail is not on any timeline", status_code=404)
    return RedirectResponse(f"/entries/{found}/open", status_code=303)
