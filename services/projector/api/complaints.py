"""Agent API for complaints: the SLA board (`GET /api/complaints`), one complaint with the
explanation of its clocks, the report (`/api/complaints/stats`), and agent actions recorded as
events (`POST /api/complaints/{id}/respond|resolve|reopen|pause|resume|priority`, and
`POST /api/complaints` to open one by hand).

Routes authenticate, parse, and hand the action to `complaints.commands.execute` (decide,
publish, wait for the processor); they answer only after Kafka acknowledged the event. An
`Idempotency-Key` header makes a retried action produce the same event id."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from events.envelope import ActorRef, ContactIdentifiers
from events.text import CleanBody, CleanLine
from services.projector.api.auth import Authorizer, Principal
from services.projector.api.bodies import ApiBody
from services.projector.complaints import commands, store, views
from services.projector.complaints import decide as d
from services.projector.complaints.policy import SlaRules, rules_from_settings
from shared.config import Settings
from shared.contacts import normalise_email, normalise_phone
from shared.db.engine import reading
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import Publisher
from shared.web import ApiError

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
    # no longer than the complaint tables hold, so that what is accepted can be stored
    customer_id: str | None = Field(default=None, max_length=64)
    customer_ref: str | None = Field(default=None, max_length=128)
    priority: Priority = "normal"
    team: CleanLine | None = Field(default=None, max_length=64)
    segment: CleanLine | None = Field(default=None, max_length=64)


@dataclass(frozen=True)
class ComplaintPorts:
    """What the routes work with. Without an engine or publisher, the app's own are used at
    request time (`app.state.engine`, `app.state.publisher`, made by the agent API's lifespan)."""

    settings: Settings
    authorizer: Authorizer
    rules: SlaRules
    now: Callable[[], datetime]
    engine: AsyncEngine | None = None
    publisher: Publisher | None = None
    wait_seconds: float = commands.WAIT_SECONDS

    def engine_of(self, request: Request) -> AsyncEngine:
        # the routes only read: agent actions are published, and the sla service writes them
        return reading(self.engine if self.engine is not None else request.app.state.engine)

    def publisher_of(self, request: Request) -> Publisher:
        return self.publisher if self.publisher is not None else request.app.state.publisher


def complaints_router(
    settings: Settings, database: AsyncEngine | async_sessionmaker[AsyncSession] | None = None,
    publisher: Publisher | None = None, authorizer: Authorizer | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC), rules: SlaRules | None = None,
    wait_seconds: float = commands.WAIT_SECONDS,
) -> APIRouter:
    """`database`: an engine, or a session factory bound to one."""
    engine = database.kw["bind"] if isinstance(database, async_sessionmaker) else database
    ports = ComplaintPorts(settings, authorizer or Authorizer(settings), rules or rules_from_settings(settings), now,
                           engine, publisher, wait_seconds)

    def install(request: Request) -> None:
        request.state.complaint_ports = ports

    router = APIRouter(prefix="/api/complaints", tags=["complaints"], dependencies=[Depends(install)])
    router.add_api_route("", board, methods=["GET"])
    router.add_api_route("/stats", stats, methods=["GET"])
    router.add_api_route("/{complaint_id}", one, methods=["GET"])
    router.add_api_route("", open_complaint, methods=["POST"], status_code=201)
    for action in (respond, resolve, reopen, pause, resume, change_priority):
        router.add_api_route(f"/{{complaint_id}}/{ACTION_PATHS[action.__name__]}", action, methods=["POST"])
    return router


def ports_of(request: Request) -> ComplaintPorts:
    return request.state.complaint_ports


def anyone(request: Request) -> Principal:
    return ports_of(request).authorizer.require()(request)


def agents(request: Request) -> Principal:
    return ports_of(request).authorizer.require("agent", "lead")(request)


def leads(request: Request) -> Principal:
    return ports_of(request).authorizer.require("lead", "ops")(request)


# ---- reads ----------------------------------------------------------------------------------


async def board(
    request: Request, status: CleanLine = Query("open", description="open (incl. paused) | paused | resolved | all"),
    team: CleanLine | None = None, priority: CleanLine | None = None, limit: int = Query(200, ge=1, le=2000),
    _: Principal = Depends(anyone),
) -> dict[str, Any]:
    if status not in STATUS_FILTERS:
        raise ApiError(422, "invalid_status", f"status must be one of {sorted(STATUS_FILTERS)}, not {status!r}")
    ports = ports_of(request)
    async with ports.engine_of(request).connect() as conn:
        ids = await store.list_complaint_ids(conn, STATUS_FILTERS[status], team, priority, limit)
        events = await store.events_of_many(conn, ids)
    at = ports.now()
    entries = views.sort_by_urgency(views.board_entry(events[i], ports.rules, at) for i in ids if events[i])
    return {"now": at.isoformat(), "complaints": entries}


async def stats(request: Request, _: Principal = Depends(leads)) -> dict[str, Any]:
    async with ports_of(request).engine_of(request).connect() as conn:
        return views.sla_report(await store.outcomes(conn), await store.open_counts(conn))


async def one(request: Request, complaint_id: CleanLine, _: Principal = Depends(anyone)) -> dict[str, Any]:
    ports = ports_of(request)
    events = await commands.complaint_history(ports.engine_of(request), complaint_id)
    if not any(e.type == "complaint.opened" for e in events):
        raise ApiError(404, "complaint_not_found", f"no complaint {complaint_id!r}; list them with GET /api/complaints")
    entry = views.board_entry(events, ports.rules, ports.now(), explain=True)
    entry.pop("_urgency", None)
    return entry


# ---- actions --------------------------------------------------------------------------------


async def open_complaint(request: Request, body: OpenBody, principal: Principal = Depends(agents),
                         idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
    ports = ports_of(request)
    complaint_id = commands.opened_complaint_id(idempotency_key)
    policy = ports.rules.select(body.priority, body.segment, "agent")
    return await act(request, d.Open(
        complaint_id, actor(principal), commands.action_id(d.Open, complaint_id, idempotency_key), subject=body.subject,
        contact=contact_of(body, ports.settings.default_region), customer_id=body.customer_id, priority=body.priority,
        team=body.team or principal.team, segment=body.segment, policy=policy.name if policy else None))


async def respond(request: Request, complaint_id: CleanLine, body: ActionBody | None = None,
                  principal: Principal = Depends(agents), idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
    event_id = commands.action_id(d.Respond, complaint_id, idempotency_key)
    return await act(request, d.Respond(complaint_id, actor(principal), event_id, note=body.note if body else None))


async def resolve(request: Request, complaint_id: CleanLine, body: ActionBody | None = None,
                  principal: Principal = Depends(agents), idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
    event_id = commands.action_id(d.Resolve, complaint_id, idempotency_key)
    return await act(request, d.Resolve(complaint_id, actor(principal), event_id, note=body.note if body else None))


async def reopen(request: Request, complaint_id: CleanLine, body: ActionBody | None = None,
                 principal: Principal = Depends(agents), idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
    event_id = commands.action_id(d.Reopen, complaint_id, idempotency_key)
    return await act(request, d.Reopen(complaint_id, actor(principal), event_id, note=body.note if body else None))


async def pause(request: Request, complaint_id: CleanLine, body: PauseBody | None = None,
                principal: Principal = Depends(agents), idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
    event_id = commands.action_id(d.Pause, complaint_id, idempotency_key)
    return await act(request, d.Pause(complaint_id, actor(principal), event_id, reason=(body or PauseBody()).reason))


async def resume(request: Request, complaint_id: CleanLine, body: ActionBody | None = None,
                 principal: Principal = Depends(agents), idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
    event_id = commands.action_id(d.Resume, complaint_id, idempotency_key)
    return await act(request, d.Resume(complaint_id, actor(principal), event_id))


async def change_priority(request: Request, complaint_id: CleanLine, body: PriorityBody, principal: Principal = Depends(agents),
                          idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
    event_id = commands.action_id(d.ChangePriority, complaint_id, idempotency_key)
    return await act(request, d.ChangePriority(complaint_id, actor(principal), event_id, priority=body.priority))


ACTION_PATHS = {"respond": "respond", "resolve": "resolve", "reopen": "reopen", "pause": "pause", "resume": "resume",
                "change_priority": "priority"}


async def act(request: Request, command: d.Action) -> dict[str, Any]:
    ports = ports_of(request)
    try:
        recorded = await commands.execute(command, ports.engine_of(request), ports.publisher_of(request), ports.now,
                                          ports.rules, commands.decision_settings(ports.settings), ports.wait_seconds)
    except d.Refused as refused:
        raise ApiError(refused.status, refused.code, refused.detail) from None
    except KafkaUnavailable as exc:
        log.warning("an agent action was not recorded: Kafka did not acknowledge: %s", exc)
        raise ApiError(503, "kafka_unavailable", "Kafka is unavailable; the action was not recorded, try again",
                       headers={"Retry-After": "5"}) from None
    event = recorded.events[0]
    return {"event_id": str(event.event_id), "type": event.type, "complaint": recorded.complaint, "applied": recorded.applied}


def actor(principal: Principal) -> ActorRef:
    return ActorRef(kind="agent", name=principal.user)


def contact_of(body: OpenBody, region: str | None) -> ContactIdentifiers:
    email = normalise_email(body.email) if body.email else None
    if body.email and email is None:
        raise ApiError(422, "invalid_email", f"email {body.email!r} is not a mail address")
    phone = normalise_phone(body.phone, region) if body.phone else None
    if body.phone and phone is None:
        raise ApiError(422, "invalid_phone",
                       f"phone {body.phone!r} is not a phone number (use +49... or set TOUCHPOINT_DEFAULT_REGION)")
    if not (email or phone or body.customer_id or body.customer_ref):
        raise ApiError(422, "no_customer", "name the customer: email, phone, customer_id or customer_ref")
    return ContactIdentifiers(email=email, phone=phone, customer_ref=body.customer_ref)
