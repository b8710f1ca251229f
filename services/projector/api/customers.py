"""Agent API: customer search, screen-pop lookup, timelines, and link/unlink actions."""

from __future__ import annotations

import logging

from datetime import UTC, datetime
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ConfigDict, Field

from events.customer import ContactLinked, ContactUnlinked, IdentifierKind
from events.envelope import ActorRef, Channel
from events.ids import event_id_for
from events.text import CleanLine
from services.projector.api import asof, queries
from services.projector.api.auth import Authorizer, Principal
from services.projector.api.bodies import ApiBody
from services.projector.api.cursor import BadCursor, decode_cursor, encode_cursor
from services.projector.complaints.policy import SlaRules, rules_from_settings
from services.projector.timeline.rows import contact_id_for
from shared.contacts import normalise_email, normalise_phone
from shared.kafka.errors import KafkaUnavailable
from shared.web import ApiError

CHANNELS = get_args(Channel)

log = logging.getLogger("touchpoint.api")


class IdentifierIn(ApiBody):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"kind": "email", "value": "erika@example.org", "reason": "confirmed on the phone"}]})

    kind: IdentifierKind
    value: CleanLine = Field(min_length=1, max_length=320)
    reason: CleanLine | None = Field(default=None, max_length=500)


def normalised(kind: str, value: str, region: str | None) -> str:
    if kind == "email":
        found = normalise_email(value)
    elif kind == "phone":
        found = normalise_phone(value, region)
    else:
        found = value.strip() or None
    if found is None:
        raise ApiError(422, "invalid_identifier", f"{kind} {value!r} is not valid; give an address like "
                       "erika@example.org or a phone number like +4930123456")
    return found


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
    actor = Depends(authorizer.require("agent", "lead"))

    @router.get("/customers")
    async def search(request: Request, q: Annotated[CleanLine, Query(min_length=1, max_length=200)],
                     limit: Annotated[int, Query(ge=1, le=100)] = 20, _: Principal = reader) -> dict[str, Any]:
        region = request.app.state.settings.default_region
        identifiers = [(k, v) for k, v in (("email", normalise_email(q)), ("phone", normalise_phone(q, region))) if v]
        identifiers += [("order_ref", q.strip()), ("tracking_number", q.strip())]
        async with request.app.state.engine.connect() as conn:
            found = await queries.search(conn, q.strip(), identifiers, limit)
        return {"customers": [queries.customer_json(c) for c in found]}

    @router.get("/lookup")
    async def lookup(request: Request, phone: CleanLine | None = None, email: CleanLine | None = None,
                     _: Principal = reader) -> dict[str, Any]:
        if (phone is None) == (email is None):
            raise ApiError(422, "invalid_request", "give exactly one of ?phone= or ?email=")
        kind = "phone" if phone is not None else "email"
        value = normalised(kind, phone or email or "", request.app.state.settings.default_region)
        async with request.app.state.engine.connect() as conn:
            identity = await queries.identity(conn, kind, value)
            if identity is not None and identity.customer_id:
                found = await queries.customer(conn, identity.customer_id)
                if found is not None:
                    return {"match": "customer", "identifier": {"kind": kind, "value": value},
                            "customer": queries.customer_json(found), "candidates": []}
            contact = await queries.customer(conn, contact_id_for((kind, value)))
            candidates = await queries.customers(conn, list(identity.claimants)) if identity and identity.ambiguous else []
        if contact is None and not candidates:
            raise ApiError(404, "not_found", f"no customer or contact has the {kind} {value}")
        return {"match": "ambiguous" if candidates else "contact", "identifier": {"kind": kind, "value": value},
                "customer": queries.customer_json(contact) if contact else None,
                "candidates": [queries.customer_json(c) for c in candidates]}

    @router.get("/customers/{customer_id}")
    async def show(request: Request, customer_id: CleanLine, _: Principal = reader) -> dict[str, Any]:
        async with request.app.state.engine.connect() as conn:
            found = await queries.customer(conn, customer_id)
            bounced = await queries.hard_bounces(conn, found) if found is not None else {}
        if found is None:
            raise ApiError(404, "not_found", f"no customer or contact with id {customer_id}")
        return queries.customer_json(found, bounced)

    @router.get("/customers/{customer_id}/timeline")
    async def timeline(request: Request, customer_id: CleanLine, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       before: CleanLine | None = None, channel: CleanLine | None = None,
                       as_of: Annotated[CleanLine | None, Query(description="ISO-8601 instant: the timeline as recorded then")] = None,
                       _: Principal = reader) -> dict[str, Any]:
        if channel is not None and channel not in CHANNELS:
            raise ApiError(422, "invalid_request", f"channel: must be one of {list(CHANNELS)}")
        try:
            cursor = decode_cursor(before) if before else None
        except BadCursor:
            raise ApiError(422, "invalid_request", "before: not a cursor; pass next_cursor of the previous page") from None
        instant = parse_as_of(as_of)
        async with request.app.state.engine.connect() as conn:
            owner = await queries.customer(conn, customer_id)
            if owner is None:
                raise ApiError(404, "not_found", f"no customer or contact with id {customer_id}")
            if instant is None:
                entries = await queries.timeline_page(conn, customer_id, limit + 1, channel, cursor)
            else:
                entries = await asof.timeline_page(conn, customer_id, instant, limit + 1, channel, cursor)
                complaints = await asof.complaint_states(conn, customer_id, instant, sla_rules(request))
        page, more = entries[:limit], len(entries) > limit
        last = page[-1] if page else None
        found = {
            "customer": queries.customer_json(owner),
            "entries": page,
            "next_cursor": encode_cursor(datetime.fromisoformat(last["occurred_at"]), last["id"]) if more and last else None,
        }
        return found if instant is None else {**found, "as_of": instant.isoformat(), "complaints": complaints}

    async def publish_link(request: Request, customer_id: str, body: IdentifierIn, principal: Principal,
                           unlink: bool) -> dict[str, Any]:
        value = normalised(body.kind, body.value, request.app.state.settings.default_region)
        async with request.app.state.engine.connect() as conn:
            owner = await queries.customer(conn, customer_id)
            identity = await queries.identity(conn, body.kind, value)
        if owner is None or owner.kind != "customer" or owner.customer_ref is None:
            raise ApiError(404, "not_found", f"no customer with id {customer_id} (contacts cannot be link targets)")
        claimed = identity is not None and customer_id in identity.claimants
        if unlink and not claimed:
            raise ApiError(409, "not_linked", f"{body.kind} {value} does not belong to this customer")
        if not unlink and claimed:
            raise ApiError(409, "already_linked", f"{body.kind} {value} already belongs to this customer")
        now = datetime.now(UTC)
        cls = ContactUnlinked if unlink else ContactLinked
        event = cls(
            event_id=event_id_for(cls.model_fields["type"].default, owner.customer_ref, body.kind, value,
                                  principal.user, now.isoformat()),
            occurred_at=now, recorded_at=now, channel="agent", source="api",
            payload={"identifier": {"kind": body.kind, "value": value}, "customer_ref": owner.customer_ref,
                     "actor": ActorRef(kind="agent", name=principal.user), "reason": body.reason},
        )
        try:
            await request.app.state.publisher.publish([event])
        except KafkaUnavailable as exc:
            log.warning("an agent action was not recorded: Kafka did not acknowledge: %s", exc)
            raise ApiError(503, "kafka_unavailable", "Kafka is unavailable; the action was not recorded, try again",
                           headers={"Retry-After": "5"}) from None
        return {"status": "accepted", "event_id": str(event.event_id), "type": event.type}

    @router.post("/customers/{customer_id}/link", status_code=202)
    async def link(request: Request, customer_id: CleanLine, body: IdentifierIn, principal: Principal = actor) -> dict[str, Any]:
        return await publish_link(request, customer_id, body, principal, unlink=False)

    @router.post("/customers/{customer_id}/unlink", status_code=202)
    async def unlink(request: Request, customer_id: CleanLine, body: IdentifierIn, principal: Principal = actor) -> dict[str, Any]:
        return await publish_link(request, customer_id, body, principal, unlink=True)

    return router


