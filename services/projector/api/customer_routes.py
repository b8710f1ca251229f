"""Agent API: customer search, screen-pop lookup, a customer's profile, and the identity
actions (link, unlink, merge, unmerge). Each route authenticates, parses, calls the customer
service layer with its ports and answers; the timeline is in `customers.py`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ConfigDict, Field

from events.customer import IdentifierKind
from events.envelope import Event
from events.text import CleanLine
from services.projector.api import queries as rows
from services.projector.api.auth import Principal
from services.projector.api.bodies import ApiBody
from services.projector.audit.access import Read
from services.projector.audit.requests import audit_read, reader_of
from services.projector.customers import commands, queries
from services.projector.customers.commands import Actor, Rejected
from shared.db.engine import reading
from shared.web import ApiError

router = APIRouter(prefix="/api")


def role(*roles: str):  # type: ignore[no-untyped-def]
    """The authorizer's dependency, looked up per request (the app holds the configured one)."""
    def dependency(request: Request) -> Principal:
        return request.app.state.authorizer.require(*roles)(request)
    return Depends(dependency)


READER, ACTOR = role(), role("agent", "lead")


class IdentifierIn(ApiBody):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"kind": "email", "value": "erika@example.org", "reason": "confirmed on the phone"}]})

    kind: IdentifierKind
    value: CleanLine = Field(min_length=1, max_length=320)
    reason: CleanLine | None = Field(default=None, max_length=500)


class MergeIn(ApiBody):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"customer_id": "0f5c2a5e-8c1e-5d0e-9a55-2f1f3f0c7a11", "reason": "same person, second address"}]})

    customer_id: CleanLine = Field(min_length=1, max_length=64, description="the record merged into this one")
    reason: CleanLine | None = Field(default=None, max_length=500)


class UnmergeIn(ApiBody):
    reason: CleanLine | None = Field(default=None, max_length=500)


@router.get("/customers")
async def search(request: Request, q: Annotated[CleanLine, Query(min_length=1, max_length=200)],
                 limit: Annotated[int, Query(ge=1, le=100)] = 20, _: Principal = READER) -> dict[str, Any]:
    async with reading(request.app.state.engine).connect() as conn:
        found = await queries.search(conn, q, request.app.state.settings.default_region, limit)
    return {"customers": [rows.customer_json(c) for c in found]}


@router.get("/lookup")
async def lookup(request: Request, phone: CleanLine | None = None, email: CleanLine | None = None,
                 _: Principal = READER) -> dict[str, Any]:
    if (phone is None) == (email is None):
        raise ApiError(422, "invalid_request", "give exactly one of ?phone= or ?email=")
    kind = "phone" if phone is not None else "email"
    value = answered(commands.normalised, kind, phone or email or "", request.app.state.settings.default_region)
    async with reading(request.app.state.engine).connect() as conn:
        found = await queries.lookup(conn, kind, value)
    if found.match == "none":
        raise ApiError(404, "not_found", f"no customer or contact has the {kind} {value}")
    return {"match": found.match, "identifier": {"kind": kind, "value": value},
            "customer": rows.customer_json(found.customer) if found.customer else None,
            "candidates": [rows.customer_json(c) for c in found.candidates]}


@router.get("/customers/{customer_id}")
async def show(request: Request, customer_id: CleanLine, principal: Principal = READER) -> dict[str, Any]:
    async with reading(request.app.state.engine).connect() as conn:
        found = await rows.customer(conn, customer_id)
        if found is None:
            raise ApiError(404, "not_found", f"no customer or contact with id {customer_id}")
        audit_read(request, reader_of(request, principal, "api"), Read("customer", found.id))
        return await queries.profile(conn, found)


@router.post("/customers/{customer_id}/link", status_code=202)
async def link(request: Request, customer_id: CleanLine, body: IdentifierIn, principal: Principal = ACTOR) -> dict[str, Any]:
    return await identity_action(request, customer_id, body, principal, unlink=False)


@router.post("/customers/{customer_id}/unlink", status_code=202)
async def unlink(request: Request, customer_id: CleanLine, body: IdentifierIn, principal: Principal = ACTOR) -> dict[str, Any]:
    return await identity_action(request, customer_id, body, principal, unlink=True)


@router.post("/customers/{customer_id}/merge", status_code=202)
async def merge(request: Request, customer_id: CleanLine, body: MergeIn, principal: Principal = ACTOR) -> dict[str, Any]:
    async with reading(request.app.state.engine).connect() as conn:
        event = await carried_out(commands.merge(conn, request.app.state.publisher, commands.system_clock,
                                                 Actor(principal.user, "api"), customer_id, body.customer_id, body.reason))
    return accepted(event)


@router.post("/customers/{customer_id}/unmerge", status_code=202)
async def unmerge(request: Request, customer_id: CleanLine, body: UnmergeIn | None = None,
                  principal: Principal = ACTOR) -> dict[str, Any]:
    async with reading(request.app.state.engine).connect() as conn:
        event = await carried_out(commands.unmerge(conn, request.app.state.publisher, commands.system_clock,
                                                   Actor(principal.user, "api"), customer_id, body.reason if body else None))
    return accepted(event)


async def identity_action(request: Request, customer_id: str, body: IdentifierIn, principal: Principal,
                          unlink: bool) -> dict[str, Any]:
    value = answered(commands.normalised, body.kind, body.value, request.app.state.settings.default_region)
    async with reading(request.app.state.engine).connect() as conn:
        event = await carried_out(commands.link(conn, request.app.state.publisher, commands.system_clock,
                                                Actor(principal.user, "api"), customer_id, body.kind, value, body.reason, unlink))
    return accepted(event)


def answered(check, *args):  # type: ignore[no-untyped-def]
    """Calls a check; a refusal becomes the API's JSON error."""
    try:
        return check(*args)
    except Rejected as refused:
        raise api_error(refused) from None


async def carried_out(awaitable):  # type: ignore[no-untyped-def]
    """Awaits a command; a refusal becomes the API's JSON error."""
    try:
        return await awaitable
    except Rejected as refused:
        raise api_error(refused) from None


def api_error(refused: Rejected) -> ApiError:
    headers = {"Retry-After": "5"} if refused.status == 503 else None
    return ApiError(refused.status, refused.code, refused.detail, headers=headers)


def accepted(event: Event) -> dict[str, Any]:
    return {"status": "accepted", "event_id": str(event.event_id), "type": event.type}
