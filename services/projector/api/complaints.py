"""Agent API for complaints: the SLA board (`GET /api/complaints`), one complaint with the
explanation of its clocks, the report (`/api/complaints/stats`), and agent actions recorded as
events (`POST /api/complaints/{id}/respond|resolve|reopen|pause|resume|priority`, and
`POST /api/complaints` to open one by hand).

An action answers only after Kafka acknowledged its event; the event is then applied to the
read model at once (the processor skips it later as already applied), so the next read shows
it. An `Idempotency-Key` header makes a retried action produce the same event id."""

from __future__ import annotations

import logging

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import complaint as c
from events.envelope import ActorRef, ContactIdentifiers, Event
from events.ids import event_id_for
from events.text import CleanBody, CleanLine
from services.projector.api.auth import Authorizer, Principal
from services.projector.api.bodies import ApiBody
from services.projector.complaints import store, views
from services.projector.complaints.policy import SlaRules, rules_from_settings
from services.projector.complaints.processor import PROJECTION
from shared.config import Settings
from shared.contacts import normalise_email, normalise_phone
from shared.db.tracking import mark_applied, unapplied
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import Publisher
from shared.web import ApiError

SOURCE = "api:complaints"
STATUS_FILTERS = {"open": ("open", "paused"), "paused": ("paused",), "resolved": ("resolved",), "all": None}
Priority = Literal["low", "normal", "high", "urgent"]

log = logging.getLogger("touchpoint.api")



class ActionBody(ApiBody):
    note: CleanBody | None = Field(default=None, max_length=4000)


class PauseBody(ActionBody):
    reason: CleanLine = Field(default="waiting_for_customer", min_length=1, max_length=64)


class PriorityBody(ActionBody):
    priority: Priority


class OpenBody(ApiBody):
    """Free text is cleaned; identifiers with a NUL or a lone surrogate are refused (ApiBody),
    since cleaning one could point the complaint at somebody else."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"subject": "Parcel arrived broken", "email": "erika@example.org", "priority": "high"},
        {"subject": "Invoice wrong", "customer_id": "c0a80101-0000-4000-8000-000000000001"},
    ]})

    subject: CleanLine = Field(min_length=1, max_length=500)
    email: str | None = None
    phone: str | None = None
    customer_id: str | None = None
    customer_ref: str | None = None
    priority: Priority = "normal"
    team: CleanLine | None = None
    segment: CleanLine | None = None


def complaints_router(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession] | None = None, publisher: Publisher | None = None,
    authorizer: Authorizer | None = None, now: Callable[[], datetime] = lambda: datetime.now(UTC), rules: SlaRules | None = None,
) -> APIRouter:
    """Without a session factory or publisher, the app's own are used at request time
    (`app.state.engine`, `app.state.publisher`, as created by the agent API's lifespan)."""
    rules = rules or rules_from_settings(settings)
    authorizer = authorizer or Authorizer(settings)

    def sessions(request: Request) -> async_sessionmaker[AsyncSession]:
        if session_factory is not None:
            return session_factory
        state = request.app.state
        if getattr(state, "complaint_sessions", None) is None or state.complaint_sessions.kw.get("bind") is not state.engine:
            state.complaint_sessions = async_sessionmaker(state.engine, expire_on_commit=False)
        return state.complaint_sessions

    def publisher_of(request: Request) -> Publisher:
        return publisher if publisher is not None else request.app.state.publisher
    router = APIRouter(prefix="/api/complaints", tags=["complaints"])
    anyone = Depends(authorizer.require())
    agents = Depends(authorizer.require("agent", "lead"))
    leads = Depends(authorizer.require("lead", "ops"))

    @router.get("")
    async def board(
        request: Request,
        status: CleanLine = Query("open", description="open (incl. paused) | paused | resolved | all"),
        team: CleanLine | None = None, priority: CleanLine | None = None, limit: int = Query(200, ge=1, le=2000),
        _: Principal = anyone,
    ) -> dict[str, Any]:
        if status not in STATUS_FILTERS:
            raise ApiError(422, "invalid_status", f"status must be one of {sorted(STATUS_FILTERS)}, not {status!r}")
        async with sessions(request)() as session:
            conn = await session.connection()
            ids = await store.list_complaint_ids(conn, STATUS_FILTERS[status], team, priority, limit)
            events = await store.events_of_many(conn, ids)
        at = now()
        entries = views.sort_by_urgency(views.board_entry(events[i], rules, at) for i in ids if events[i])
        return {"now": at.isoformat(), "complaints": entries}

    @router.get("/stats")
    async def stats(request: Request, _: Principal = leads) -> dict[str, Any]:
        async with sessions(request)() as session:
            conn = await session.connection()
            report = views.sla_report(await store.outcomes(conn), await store.open_counts(conn))
        return report

    @router.get("/{complaint_id}")
    async def one(request: Request, complaint_id: CleanLine, _: Principal = anyone) -> dict[str, Any]:
        events = await _events(request, complaint_id)
        entry = views.board_entry(events, rules, now(), explain=True)
        entry.pop("_urgency", None)
        return entry

    @router.post("", status_code=201)
    async def open_complaint(request: Request, body: OpenBody, principal: Principal = agents,
                             idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        contact = _contact(body)
        complaint_id = str(event_id_for("complaint", "agent", idempotency_key)) if idempotency_key else str(uuid.uuid4())
        policy = rules.select(body.priority, body.segment, "agent")
        payload = c.ComplaintOpenedPayload(
            complaint_id=complaint_id, origin="agent", subject=body.subject, priority=body.priority, segment=body.segment,
            team=body.team or principal.team, policy=policy.name if policy else None, opened_by=_actor(principal),
        )
        event = c.ComplaintOpened(**_envelope("complaint.opened", complaint_id, idempotency_key),
                                  contact=contact, customer_id=body.customer_id, payload=payload)
        return await _record(request, event)

    @router.post("/{complaint_id}/respond")
    async def respond(request: Request, complaint_id: CleanLine, body: ActionBody | None = None, principal: Principal = agents,
                      idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        row = await _row(request, complaint_id)
        if "agent" not in settings.file.sla.first_response_counts:
            raise ApiError(409, "not_counted", "agent actions do not count as a first response here "
                           "([sla] first_response_counts); reply by mail or call the customer")
        _require(row["responded_at"] is None, "already_responded", "the first response was already given")
        _require(row["status"] != "resolved", "resolved", "the complaint is resolved; reopen it first")
        payload = c.ComplaintRespondedPayload(complaint_id=complaint_id, via="agent", responded_by=_actor(principal),
                                              note=_note(body))
        return await _record(request, c.ComplaintResponded(
            **_envelope("complaint.responded", complaint_id, idempotency_key), payload=payload))

    @router.post("/{complaint_id}/resolve")
    async def resolve(request: Request, complaint_id: CleanLine, body: ActionBody | None = None, principal: Principal = agents,
                      idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        row = await _row(request, complaint_id)
        _require(row["status"] != "resolved", "already_resolved", "the complaint is resolved already")
        payload = c.ComplaintResolvedPayload(complaint_id=complaint_id, resolved_by=_actor(principal), note=_note(body))
        return await _record(request, c.ComplaintResolved(
            **_envelope("complaint.resolved", complaint_id, idempotency_key), payload=payload))

    @router.post("/{complaint_id}/reopen")
    async def reopen(request: Request, complaint_id: CleanLine, body: ActionBody | None = None, principal: Principal = agents,
                     idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        row = await _row(request, complaint_id)
        _require(row["status"] == "resolved", "not_resolved", "only a resolved complaint can be reopened")
        payload = c.ComplaintReopenedPayload(complaint_id=complaint_id, reason=_note(body) or "reopened_by_agent",
                                             reopened_by=_actor(principal))
        return await _record(request, c.ComplaintReopened(
            **_envelope("complaint.reopened", complaint_id, idempotency_key), payload=payload))

    @router.post("/{complaint_id}/pause")
    async def pause(request: Request, complaint_id: CleanLine, body: PauseBody | None = None, principal: Principal = agents,
                    idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        row = await _row(request, complaint_id)
        _require(row["status"] == "open", "not_open", f"only an open complaint can be paused; it is {row['status']}")
        reason = (body or PauseBody()).reason
        payload = c.ComplaintPausedPayload(complaint_id=complaint_id, reason=reason, paused_by=_actor(principal))
        return await _record(request, c.ComplaintPaused(
            **_envelope("complaint.paused", complaint_id, idempotency_key), payload=payload))

    @router.post("/{complaint_id}/resume")
    async def resume(request: Request, complaint_id: CleanLine, body: ActionBody | None = None, principal: Principal = agents,
                     idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        row = await _row(request, complaint_id)
        _require(row["status"] == "paused", "not_paused", "only a paused complaint can be resumed")
        payload = c.ComplaintResumedPayload(complaint_id=complaint_id, resumed_by=_actor(principal))
        return await _record(request, c.ComplaintResumed(
            **_envelope("complaint.resumed", complaint_id, idempotency_key), payload=payload))

    @router.post("/{complaint_id}/priority")
    async def change_priority(request: Request, complaint_id: CleanLine, body: PriorityBody, principal: Principal = agents,
                              idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        row = await _row(request, complaint_id)
        _require(row["priority"] != body.priority, "unchanged", f"the priority is {body.priority} already")
        payload = c.ComplaintPriorityChangedPayload(complaint_id=complaint_id, priority=body.priority,
                                                    changed_by=_actor(principal))
        return await _record(request, c.ComplaintPriorityChanged(
            **_envelope("complaint.priority_changed", complaint_id, idempotency_key), payload=payload))

    # ---- helpers ----------------------------------------------------------------------------

    def _envelope(event_type: str, complaint_id: str, idempotency_key: str | None) -> dict[str, Any]:
        at = now()
        event_id = event_id_for(event_type, complaint_id, "agent", idempotency_key) if idempotency_key else uuid.uuid4()
        return {"event_id": event_id, "occurred_at": at, "recorded_at": at, "channel": "agent", "source": SOURCE,
                "correlation_id": complaint_id}

    async def _row(request: Request, complaint_id: str) -> dict[str, Any]:
        async with sessions(request)() as session:
            row = await store.complaint_row(await session.connection(), complaint_id)
        if row is None:
            raise ApiError(404, "complaint_not_found", f"no complaint {complaint_id!r}; list them with GET /api/complaints")
        return row

    async def _events(request: Request, complaint_id: str) -> list[Event]:
        async with sessions(request)() as session:
            events = await store.events_of(await session.connection(), complaint_id)
        if not any(e.type == "complaint.opened" for e in events):
            raise ApiError(404, "complaint_not_found", f"no complaint {complaint_id!r}; list them with GET /api/complaints")
        return events

    async def _record(request: Request, event: Event) -> dict[str, Any]:
        if event.type != "complaint.opened":
            # an agent action continues the chain its complaint was opened in
            chain = await _chain(request, event.payload.complaint_id)
            event = event.model_copy(update={"correlation_id": chain})
        try:
            await publisher_of(request).publish([event])
        except KafkaUnavailable as exc:
            log.warning("an agent action was not recorded: Kafka did not acknowledge: %s", exc)
            raise ApiError(503, "kafka_unavailable", "Kafka is unavailable; the action was not recorded, try again",
                           headers={"Retry-After": "5"}) from None
        complaint_id = event.payload.complaint_id
        try:
            async with sessions(request)() as session, session.begin():
                conn = await session.connection()
                if await unapplied(conn, PROJECTION, [str(event.event_id)]):
                    await store.apply_events(conn, [event], rules, now())
                    await mark_applied(conn, PROJECTION, [str(event.event_id)])
        except IntegrityError:
            pass  # the processor applied it at the same moment
        entry = views.board_entry(await _events(request, complaint_id), rules, now())
        entry.pop("_urgency", None)
        return {"event_id": str(event.event_id), "type": event.type, "complaint": entry}

    async def _chain(request: Request, complaint_id: str) -> str:
        opened = [e for e in await _events(request, complaint_id) if e.type == "complaint.opened"]
        return opened[0].correlation_id or complaint_id

    def _contact(body: OpenBody) -> ContactIdentifiers:
        email = normalise_email(body.email) if body.email else None
        if body.email and email is None:
            raise ApiError(422, "invalid_email", f"email {body.email!r} is not a mail address")
        phone = normalise_phone(body.phone, settings.default_region) if body.phone else None
        if body.phone and phone is None:
            raise ApiError(422, "invalid_phone",
                           f"phone {body.phone!r} is not a phone number (use +49... or set TOUCHPOINT_DEFAULT_REGION)")
        if not (email or phone or body.customer_id or body.customer_ref):
            raise ApiError(422, "no_customer", "name the customer: email, phone, customer_id or customer_ref")
        return ContactIdentifiers(email=email, phone=phone, customer_ref=body.customer_ref)

    return router


def _actor(principal: Principal) -> ActorRef:
    return ActorRef(kind="agent", name=principal.user)


def _note(body: ActionBody | None) -> str | None:
    return body.note if body else None


def _require(condition: bool, code: str, detail: str) -> None:
    if not condition:
        raise ApiError(409, code, detail)
