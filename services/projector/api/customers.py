"""Agent API: a customer's timeline. Search, lookup, the profile and the identity actions are
module-level routes in `customer_routes.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Query, Request

from events.envelope import Channel
from events.text import CleanLine
from services.projector.api import asof, queries
from services.projector.api.auth import Authorizer, Principal
from services.projector.api.cursor import BadCursor, decode_cursor, encode_cursor
from services.projector.audit.access import Read
from services.projector.audit.requests import audit_read, reader_of
from services.projector.complaints.policy import SlaRules, rules_from_settings
from shared.db.engine import reading
from shared.web import ApiError

CHANNELS = get_args(Channel)


def parse_as_of(text: str | None) -> datetime | None:
    try:
        return asof.parse_instant(text) if text else None
    except asof.BadInstant as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


def sla_rules(request: Request) -> SlaRules:
    """The SLA rules of the settings, built once per app (complaint states as of an instant)."""
    state = request.app.state
    if getattr(state, "sla_rules", None) is None:
        state.sla_rules = rules_from_settings(state.settings)
    return state.sla_rules


def customers_router(authorizer: Authorizer) -> APIRouter:
    router = APIRouter(prefix="/api")
    reader = Depends(authorizer.require())

    @router.get("/customers/{customer_id}/timeline")
    async def timeline(request: Request, customer_id: CleanLine, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       before: CleanLine | None = None, channel: CleanLine | None = None,
                       as_of: Annotated[CleanLine | None, Query(description="ISO-8601 instant: the timeline as recorded then")] = None,
                       principal: Principal = reader) -> dict[str, Any]:
        if channel is not None and channel not in CHANNELS:
            raise ApiError(422, "invalid_request", f"channel: must be one of {list(CHANNELS)}")
        try:
            cursor = decode_cursor(before) if before else None
        except BadCursor:
            raise ApiError(422, "invalid_request", "before: not a cursor; pass next_cursor of the previous page") from None
        instant = parse_as_of(as_of)
        async with reading(request.app.state.engine).connect() as conn:
            owner = await queries.customer(conn, customer_id)
            if owner is None:
                raise ApiError(404, "not_found", f"no customer or contact with id {customer_id}")
            if instant is None:
                entries = await queries.timeline_page(conn, customer_id, limit + 1, channel, cursor)
            else:
                entries = await asof.timeline_page(conn, customer_id, instant, limit + 1, channel, cursor)
                complaints = await asof.complaint_states(conn, customer_id, instant, sla_rules(request))
        audit_read(request, reader_of(request, principal, "api"), Read("timeline", owner.id))
        page, more = entries[:limit], len(entries) > limit
        last = page[-1] if page else None
        found = {
            "customer": queries.customer_json(owner),
            "entries": page,
            "next_cursor": encode_cursor(datetime.fromisoformat(last["occurred_at"]), last["id"]) if more and last else None,
        }
        return found if instant is None else {**found, "as_of": instant.isoformat(), "complaints": complaints}

    return router


