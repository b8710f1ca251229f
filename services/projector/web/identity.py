"""The customer page's identity work: link and unlink an address or number, merge another
record into this one (find it, confirm), unmerge; and the "link to customer" form of an
unmatched contact. Each route checks the session and CSRF token, calls the customer service
layer, waits briefly until the projection shows the result, and redirects to the page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.text import CleanLine
from services.projector.api import queries as rows
from services.projector.customers import commands, queries
from services.projector.customers.commands import Actor, Rejected
from services.projector.timeline.rows import CustomerRow
from services.projector.web.guards import check_csrf, session_of

router = APIRouter(include_in_schema=False)
SETTLE_SECONDS = 5.0
ACTORS = ("agent", "lead")


async def page_context(conn: AsyncConnection, request: Request, owner: CustomerRow) -> dict[str, Any]:
    """What the identity part of the customer page shows (see customer_identity.html)."""
    if owner.kind != "customer":
        return {"identity": None}
    region = request.app.state.settings.default_region
    params = request.query_params
    merge_q = (params.get("merge_q") or "").strip()[:200]
    confirm = await rows.customer(conn, params["merge_with"]) if params.get("merge_with") else None
    return {"identity": {
        "profile": await queries.profile(conn, owner),
        "open_complaints": await queries.open_complaints_of(conn, await queries.members(conn, owner.id)),
        "merge_q": merge_q,
        "candidates": await queries.merge_candidates(conn, owner, merge_q, region),
        "confirm": confirm if confirm is not None and confirm.kind == "customer" and confirm.id != owner.id else None,
        "merged_from": await rows.customer(conn, params["merged_from"]) if params.get("merged_from") else None,
        "note": params.get("identity_note", ""), "error": params.get("identity_error", ""),
    }}


@router.post("/customers/{customer_id}/identifiers")
async def link(request: Request, customer_id: CleanLine, csrf_token: str = Form(""), kind: CleanLine = Form(""),
               value: CleanLine = Form(""), unlink: str = Form("")) -> Response:
    actor = acting(request, csrf_token)
    removing = unlink == "1"

    async def claimed() -> bool:
        async with engine(request).connect() as conn:
            identity = await rows.identity(conn, kind, normalised)
        return (identity is not None and customer_id in identity.claimants) != removing

    try:
        normalised = commands.normalised(kind, value, request.app.state.settings.default_region)
        async with engine(request).connect() as conn:
            await commands.link(conn, publisher(request), commands.system_clock, actor, customer_id, kind, normalised,
                                "unlinked in the agent UI" if removing else "linked in the agent UI", unlink=removing)
    except Rejected as refused:
        return back(customer_id, identity_error=refused.detail)
    await settled(claimed)
    return back(customer_id, identity_note="unlinked" if removing else "linked")


@router.post("/customers/{customer_id}/merge")
async def merge(request: Request, customer_id: CleanLine, csrf_token: str = Form(""), other_id: CleanLine = Form("")) -> Response:
    actor = acting(request, csrf_token)
    try:
        async with engine(request).connect() as conn:
            await commands.merge(conn, publisher(request), commands.system_clock, actor, customer_id, other_id,
                                 "merged in the agent UI")
    except Rejected as refused:
        return back(customer_id, identity_error=refused.detail)
    await settled(lambda: merged_into(request, other_id, customer_id))
    return back(customer_id, identity_note="merged")


@router.post("/customers/{customer_id}/unmerge")
async def unmerge(request: Request, customer_id: CleanLine, csrf_token: str = Form("")) -> Response:
    """`customer_id` is the record merged away; the page of the record it was merged into reloads."""
    actor = acting(request, csrf_token)
    try:
        async with engine(request).connect() as conn:
            merged = await rows.customer(conn, customer_id)
            await commands.unmerge(conn, publisher(request), commands.system_clock, actor, customer_id, "unmerged in the agent UI")
    except Rejected as refused:
        return back(merged.merged_into if merged and merged.merged_into else customer_id, identity_error=refused.detail)
    await settled(lambda: merged_into(request, customer_id, None))
    return RedirectResponse(f"/customers/{merged.merged_into}?identity_note=unmerged", status_code=303)  # type: ignore[union-attr]


@router.post("/customers/{contact_id}/link")
async def link_contact(request: Request, contact_id: CleanLine, csrf_token: str = Form(""), identifier: CleanLine = Form(""),
                       customer_ref: str = Form("")) -> Response:
    """An unmatched contact's identifier given to the customer with this customer number."""
    actor = acting(request, csrf_token)
    kind, _, value = identifier.partition(":")
    try:
        async with engine(request).connect() as conn:
            contact = await rows.customer(conn, contact_id)
            target = await queries.by_ref(conn, customer_ref)
            if contact is None or contact.kind != "contact" or (kind, value) not in contact.identifiers():
                raise Rejected(404, "not_found", "unknown contact or identifier")
            if target is None:
                raise Rejected(404, "not_found", f"no customer with the number {customer_ref.strip()!r}")
            await commands.link(conn, publisher(request), commands.system_clock, actor, target.id, kind, value,
                                "linked in the agent UI")
    except Rejected as refused:
        return RedirectResponse(f"/customers/{contact_id}?link_error={quote(refused.detail)}", status_code=303)
    return RedirectResponse(f"/customers/{target.id}?linked=1", status_code=303)


def acting(request: Request, csrf_token: str) -> Actor:
    session = session_of(request, *ACTORS)
    check_csrf(session, csrf_token)
    return Actor(session.principal.user, "web")


def engine(request: Request) -> AsyncEngine:
    # identity changes read here and publish: the projector writes them, so a read snapshot serves
    return request.app.state.web.reads


def publisher(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.web.publisher


def back(customer_id: str, **message: str) -> RedirectResponse:
    return RedirectResponse(f"/customers/{customer_id}?{urlencode(message)}", status_code=303)


async def merged_into(request: Request, customer_id: str, target: str | None) -> bool:
    async with engine(request).connect() as conn:
        row = await rows.customer(conn, customer_id)
    return row is not None and row.merged_into == target


async def settled(done: Callable[[], Awaitable[bool]]) -> None:
    """Waits (briefly) until the projector applied the action, so the page shows its result;
    after SETTLE_SECONDS the page loads anyway and the change shows on the next load."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while not await done() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
