"""Agent API for consent: `GET /api/customers/{id}/consents` (current state per purpose and the
history) and `POST /api/customers/{id}/consents` with `{"purpose": "marketing", "state":
"withdrawn", "note": "..."}` (agents, leads, admins): 202 once Kafka acknowledged the event,
with `applied` saying whether the projection showed it within 3 s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from events.text import CleanBody, CleanLine
from services.projector.api import queries as rows
from services.projector.api.auth import Authorizer, Principal
from services.projector.api.bodies import ApiBody
from services.projector.api.customer_routes import api_error
from services.projector.consent import commands
from services.projector.consent.decide import RecordConsent
from services.projector.consent.queries import consents_of
from services.projector.customers.commands import Rejected
from shared.db.engine import reading
from shared.web import ApiError


class ConsentBody(ApiBody):
    purpose: CleanLine = Field(min_length=1, max_length=40, description="one of [consent] purposes")
    state: Literal["given", "withdrawn"]
    note: CleanBody | None = Field(default=None, max_length=2000, description="how the customer said so")


def consents_router(authorizer: Authorizer) -> APIRouter:
    router = APIRouter(prefix="/api/customers", tags=["consent"])
    anyone = Depends(authorizer.require())
    agents = Depends(authorizer.require("agent", "lead"))

    @router.get("/{customer_id}/consents")
    async def consents(request: Request, customer_id: CleanLine, _: Principal = anyone) -> dict[str, Any]:
        async with reading(request.app.state.engine).connect() as conn:
            owner = await rows.customer(conn, customer_id)
            if owner is None:
                raise ApiError(404, "not_found", f"no customer or contact with id {customer_id}")
            return await consents_of(conn, owner, purposes(request))

    @router.post("/{customer_id}/consents", status_code=202)
    async def record(request: Request, customer_id: CleanLine, body: ConsentBody,
                     principal: Principal = agents) -> dict[str, Any]:
        command = RecordConsent(customer_id, body.purpose.strip(), body.state == "given", principal.user, "api",
                                (body.note or "").strip() or None)
        state = request.app.state
        try:
            async with reading(state.engine).connect() as conn:
                event = await commands.record(conn, state.publisher, lambda: datetime.now(UTC), command,
                                              purposes(request))
        except Rejected as refused:
            raise api_error(refused) from None
        return {"event_id": str(event.event_id), "type": event.type, "purpose": command.purpose,
                "applied": await commands.applied(reading(state.engine), event)}

    return router


def purposes(request: Request) -> list[str]:
    return list(request.app.state.settings.file.consent.purposes)
