"""Agent API: a customer's timeline. Search, lookup, the profile and the identity actions are
module-level routes in `customer_routes.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Query, Request

from events.envelope import Channel
from events.text import CleanLine
from services.projector.api import queries
from services.projector.api.auth import Authorizer, Principal
from services.projector.api.cursor import BadCursor, decode_cursor, encode_cursor
from shared.web import ApiError

CHANNELS = get_args(Channel)


def customers_router(authorizer: Authorizer) -> APIRouter:
    router = APIRouter(prefix="/api")
    reader = Depends(authorizer.require())

    @router.get("/customers/{customer_id}/timeline")
    async def timeline(request: Request, customer_id: CleanLine, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       before: CleanLine | None = None, channel: CleanLine | None = None, _: Principal = reader) -> dict[str, Any]:
        if channel is not None and channel not in CHANNELS:
            raise ApiError(422, "invalid_request", f"channel: must be one of {list(CHANNELS)}")
        try:
            cursor = decode_cursor(before) if before else None
        except BadCursor:
            raise ApiError(422, "invalid_request", "before: not a cursor; pass next_cursor of the previous page") from None
        async with request.app.state.engine.connect() as conn:
            owner = await queries.customer(conn, customer_id)
            if owner is None:
                raise ApiError(404, "not_found", f"no customer or contact with id {customer_id}")
            entries = await queries.timeline_page(conn, customer_id, limit + 1, channel, cursor)
        page, more = entries[:limit], len(entries) > limit
        last = page[-1] if page else None
        return {
            "customer": queries.customer_json(owner),
            "entries": page,
            "next_cursor": encode_cursor(datetime.fromisoformat(last["occurred_at"]), last["id"]) if more and last else None,
        }

    return router


