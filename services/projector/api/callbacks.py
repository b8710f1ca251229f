"""Agent API for callbacks: the queue (`GET /api/callbacks`) and an agent's closing
(`POST /api/callbacks/{id}/close` with an outcome note). A closing answers 202 once Kafka
acknowledged its `callback.closed`; the callback processor applies it to the queue."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from events.text import CleanBody, CleanLine
from services.projector.api.auth import Authorizer, Principal
from services.projector.api.bodies import ApiBody
from services.projector.callbacks import queue
from services.projector.callbacks.decide import CallbackNotOpen
from services.projector.callbacks.rules import CallbackRules
from shared.contacts import normalise_phone
from shared.db.engine import reading
from shared.kafka.errors import KafkaUnavailable
from shared.web import ApiError

STATUSES = {"open": "open", "closed": "closed", "all": None}
log = logging.getLogger("touchpoint.api")


class CloseBody(ApiBody):
    note: CleanBody = Field(min_length=1, max_length=4000, description="the outcome: what was done, or why not")


def callbacks_router(authorizer: Authorizer, rules: CallbackRules, default_region: str | None) -> APIRouter:
    router = APIRouter(prefix="/api/callbacks", tags=["callbacks"])
    anyone = Depends(authorizer.require())
    agents = Depends(authorizer.require("agent", "lead"))

    @router.get("")
    async def board(request: Request, status: CleanLine = Query("open", description="open | closed | all"),
                    phone: CleanLine | None = None, limit: int = Query(200, ge=1, le=2000),
                    _: Principal = anyone) -> dict[str, Any]:
        if status not in STATUSES:
            raise ApiError(422, "invalid_status", f"status must be one of {sorted(STATUSES)}, not {status!r}")
        phones: tuple[str, ...] = ()
        if phone:
            number = normalise_phone(phone, default_region)
            if number is None:
                raise ApiError(422, "invalid_phone", f"phone {phone!r} is not a phone number; write it like +4930123456")
            phones = (number,)
        now = datetime.now(UTC)
        async with reading(request.app.state.engine).connect() as conn:
            entries = await queue.queue(conn, rules, now, STATUSES[status], phones, limit)
        return {"now": now.isoformat(), "callbacks": entries}

    @router.post("/{callback_id}/close", status_code=202)
    async def close(request: Request, callback_id: CleanLine, body: CloseBody,
                    principal: Principal = agents) -> dict[str, Any]:
        if not body.note.strip():
            raise ApiError(422, "invalid_note", "note: say what came of the callback (it must not be blank)")
        try:
            async with reading(request.app.state.engine).connect() as conn:
                event = await queue.close(conn, request.app.state.publisher, callback_id, principal.user,
                                          body.note.strip(), datetime.now(UTC))
        except queue.CallbackNotFound:
            raise ApiError(404, "unknown_callback", f"no callback {callback_id!r}") from None
        except CallbackNotOpen:
            raise ApiError(409, "callback_closed", f"callback {callback_id!r} is closed already") from None
        except KafkaUnavailable as exc:
            log.warning("closing a callback was not recorded: Kafka did not acknowledge: %s", exc)
            raise ApiError(503, "kafka_unavailable", "Kafka is unavailable; the closing was not recorded, try again",
                           headers={"Retry-After": "5"}) from None
        return {"callback_id": callback_id, "event_id": str(event.event_id), "status": "closing"}

    return router
