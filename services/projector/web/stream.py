"""The live feed of the agent pages (server-sent events): new and changed entries of the
customer on screen, and screen pops for the agent's extension."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from services.projector.api import queries
from services.projector.audit.access import Read
from services.projector.audit.requests import audit_read, page_reader
from services.projector.web.guards import session_of
from services.projector.web.live import pops_for

if TYPE_CHECKING:
    from services.projector.web.ui import WebUi

HEARTBEAT_SECONDS = 15
STREAM_SECONDS = 600  # the browser reconnects; keeps shutdowns and proxies simple


def stream_router(ui: WebUi) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    pages = ui.pages

    @router.get("/live")
    async def live(request: Request, customer: str = "") -> Response:
        session = session_of(request)
        extension = session.principal.extension
        labels = pages.labels_for(request, session)
        reader = page_reader(request)

        # subscribed before the response starts: once the page sees the stream open, nothing
        # committed afterwards is missed
        queue = await ui.live.subscribe()

        async def stream():  # type: ignore[no-untyped-def]
            loop = asyncio.get_running_loop()
            ends = loop.time() + STREAM_SECONDS
            try:
                yield "retry: 1000\n\n"
                while loop.time() < ends:
                    try:
                        item = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                    except TimeoutError:
                        yield ": still here\n\n"
                        continue
                    # what reaches the open page is a read like any other: recorded per entry and pop
                    if customer and item.owner_id == customer:
                        html = pages.fragment(request, "entries.html", entries=[item.entry], labels=labels, fresh=True)
                        yield sse("entry", {"id": item.entry["id"], "channel": item.entry["channel"], "html": html})
                        audit_read(request, reader, Read("entry", customer, entry_id=item.entry["id"]))
                    if pops_for(item, extension):
                        yield sse("pop", await pop_payload(item.owner_id, item.entry, labels))
                        audit_read(request, reader, Read("customer", item.owner_id))
            finally:
                ui.live.unsubscribe(queue)

        # also when the client leaves before the stream starts
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
                                 background=BackgroundTask(ui.live.unsubscribe, queue))

    async def pop_payload(owner_id: str, entry: dict[str, Any], labels) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        async with ui.reads.connect() as conn:
            owner = await queries.customer(conn, owner_id)
        known = owner is not None and owner.kind == "customer"
        caller = entry["details"].get("from") or ""
        return {"url": f"/customers/{owner_id}?pop=1", "known": known, "caller": caller,
                "name": (owner.name if owner and known else None) or labels("new_caller")}

    return router


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"
