"""Agent API: `POST /api/customers/{id}/erase` (admin): crypto-shredding erasure of a customer or
an unmatched contact; 202 once the keys are destroyed and `customer.erased` is acknowledged
(the read models redact when they apply it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from events.envelope import ActorRef
from events.text import CleanLine
from services.projector.api import queries
from services.projector.api.auth import Authorizer, Principal
from services.projector.privacy.erasure import NothingToErase, Target, erase
from shared.db.engine import reading
from shared.kafka.errors import KafkaUnavailable
from shared.privacy.runtime import active_sealer, master_key
from shared.web import ApiError


def target_of(customer: Any) -> Target:
    if customer.kind == "customer" and customer.customer_ref:
        return Target(customer_ref=customer.customer_ref)
    for kind, values in (("email", customer.emails), ("phone", customer.phones)):
        if values:
            return Target(identifier=(kind, values[0]))
    raise ApiError(409, "not_erasable", "this contact has no address or number left to erase")


def privacy_router(authorizer: Authorizer) -> APIRouter:
    router = APIRouter(prefix="/api")
    admin = Depends(authorizer.require("admin"))

    @router.post("/customers/{customer_id}/erase", status_code=202)
    async def erase_customer(request: Request, customer_id: CleanLine, principal: Principal = admin) -> JSONResponse:
        state = request.app.state
        async with reading(state.engine).connect() as conn:
            found = await queries.customer(conn, customer_id)
        if found is None:
            raise ApiError(404, "not_found", f"no customer or contact with id {customer_id}")
        sealer = active_sealer()
        master = sealer.master if sealer is not None else master_key(state.settings)
        try:
            event = await erase(state.engine, master, state.publisher, target_of(found),
                                ActorRef(kind="agent", name=principal.user))
        except NothingToErase as exc:
            raise ApiError(409, "not_erasable", str(exc)) from None
        except KafkaUnavailable:
            raise ApiError(503, "kafka_unavailable", "the keys are destroyed but customer.erased was not "
                           "published; erase again to publish it") from None
        p = event.payload
        restricted = [{"retention_class": r.retention_class, "year": r.year, "until": r.until.isoformat()}
                      for r in p.restricted]  # kept under a legal hold, shredded when it ends
        return JSONResponse({"erasure_id": p.erasure_id, "keys_destroyed": p.keys_destroyed,
                             "timelines": list(p.timeline_ids), "restricted": restricted}, status_code=202)

    return router
