"""Complaint work in the browser: the complaint panel of the customer page (clocks explained,
actions) and the form actions behind it and the `/complaints` board. Each form goes through the
same command function as the JSON API (`complaints.commands.execute`) and comes back to the
page it was sent from with a status message."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from events.envelope import ActorRef
from events.text import CleanBody, CleanLine
from services.projector.complaints import commands, store
from services.projector.complaints import decide as d
from services.projector.complaints.explain import complaint_card
from services.projector.complaints.policy import SlaRules
from services.projector.web.guards import check_csrf, session_of
from shared.kafka.errors import KafkaUnavailable

if TYPE_CHECKING:
    from services.projector.web.ui import WebUi

log = logging.getLogger("touchpoint.web")
ACTIONS = ("respond", "resolve", "reopen", "pause", "resume", "priority")
LEAD_ACTIONS = ("priority",)
PAUSE_REASONS = ("waiting_for_customer", "waiting_for_third_party", "on_hold")
PRIORITIES = ("urgent", "high", "normal", "low")


async def customer_complaints(ui: WebUi, rules: SlaRules, owner: Any, now: datetime | None = None) -> list[dict[str, Any]]:
    """The complaints about a customer or contact (`owner`: a row of the timeline's customers)."""
    async with ui.reads.connect() as conn:
        ids = await store.complaint_ids_about(conn, owner.id, owner.customer_ref, owner.emails, owner.phones)
        events = await store.events_of_many(conn, ids)
    at = now or datetime.now(UTC)
    responds = commands.decision_settings(ui.settings).agent_action_is_a_response
    return [complaint_card(events[i], rules, at, responds) for i in ids if events[i]]


def complaint_work_router(ui: WebUi, rules: SlaRules) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.post("/complaints/{complaint_id}/{action}")
    async def act(request: Request, complaint_id: CleanLine, action: str, csrf_token: str = Form(""),
                  next: str = Form("/complaints"), note: CleanBody = Form(""), reason: CleanLine = Form(""),
                  priority: CleanLine = Form("")) -> Response:
        session = session_of(request, "lead") if action in LEAD_ACTIONS else session_of(request, "agent", "lead")
        check_csrf(session, csrf_token)
        if action not in ACTIONS:
            return back(next, complaint_id, error=f"unknown action {action!r}")
        command = command_for(action, complaint_id, session.principal.user, note.strip()[:4000] or None, reason, priority)
        if isinstance(command, str):
            return back(next, complaint_id, error=command)
        try:
            recorded = await commands.execute(command, ui.reads, ui.publisher, lambda: datetime.now(UTC), rules,
                                              commands.decision_settings(ui.settings))
        except d.Refused as refused:
            return back(next, complaint_id, error=refused.detail)
        except KafkaUnavailable as exc:
            log.warning("a complaint action was not recorded: Kafka did not acknowledge: %s", exc)
            return back(next, complaint_id, error="kafka")
        return back(next, complaint_id, done=action if recorded.applied else "pending")

    return router


def command_for(action: str, complaint_id: str, user: str, note: str | None, reason: str, priority: str) -> d.Action | str:
    """The command a form asks for, or what is wrong with the form."""
    who = ActorRef(kind="agent", name=user)
    kind = {"respond": d.Respond, "resolve": d.Resolve, "reopen": d.Reopen, "pause": d.Pause, "resume": d.Resume,
            "priority": d.ChangePriority}[action]
    event_id = commands.action_id(kind, complaint_id, None)
    if action == "pause":
        if reason not in PAUSE_REASONS:
            return f"choose a reason to pause: {', '.join(PAUSE_REASONS)}"
        return d.Pause(complaint_id, who, event_id, reason=reason)
    if action == "priority":
        if priority not in PRIORITIES:
            return f"choose a priority: {', '.join(PRIORITIES)}"
        return d.ChangePriority(complaint_id, who, event_id, priority=priority)  # type: ignore[arg-type]
    if kind in (d.Respond, d.Resolve, d.Reopen):
        return kind(complaint_id, who, event_id, note=note)  # type: ignore[call-arg]
    return kind(complaint_id, who, event_id)


def back(target: str, complaint_id: str, done: str = "", error: str = "") -> RedirectResponse:
    """To the page the form was on (never off the site), with the outcome to show."""
    path = target if target.startswith("/") and not target.startswith("//") else "/complaints"
    path = path.split("#")[0]
    flash = {"complaint": complaint_id, **({"complaint_done": done} if done else {"complaint_error": error})}
    kept = [p for p in path.partition("?")[2].split("&") if p and not p.startswith(("complaint=", "complaint_done=", "complaint_error="))]
    query = "&".join([*kept, urlencode(flash)])
    return RedirectResponse(f"{path.partition('?')[0]}?{query}#complaint-{complaint_id}", status_code=303)
