"""Correlation ids: a captured interaction starts a chain, and every event derived from it
(complaint, SLA timer, notifier report) carries the chain on, caused by its trigger."""

from __future__ import annotations

from datetime import timedelta

from events.codec import decode, encode
from services.notifier.outcomes import failed_event, notified_event
from services.notifier.routing import Notification
from services.notifier.state import View
from services.notifier.triggers import detect_triggers
from services.projector.complaints.detector import DetectorConfig, detect
from services.projector.complaints.facts import clock_of
from services.projector.complaints.policy import build_rules
from services.projector.complaints.timers import due_timer_events
from shared.config import Notifier, Sla
from tests.complaint_builders import berlin, form, mail
from tests.notifier_events import breached

T0 = berlin("2026-03-02 09:00")
SLA = Sla.model_validate({
    "timezone": "Europe/Berlin",
    "calendars": [{"name": "always", "hours": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}],
    "policies": [{"name": "standard", "calendar": "always", "first_response": "4h", "resolution": "3d", "warn_at": ["50%"]}],
})
CONFIG = DetectorConfig(sla=SLA, rules=build_rules(SLA))


def test_a_captured_event_without_correlation_starts_its_own_chain():
    event = form(T0)
    assert event.correlation_id == str(event.event_id)
    assert event.causation_id is None


def test_a_correlation_set_by_the_adapter_is_kept_and_survives_the_codec():
    event = form(T0).model_copy(update={"correlation_id": "req-42"})
    assert decode(encode(event)).correlation_id == "req-42"


def test_an_encoded_event_without_correlation_decodes_with_its_own_id():
    event = mail(T0, subject="Hello")
    raw = encode(event).replace(f'"correlation_id":"{event.event_id}"'.encode(), b'"correlation_id":null')
    assert b'"correlation_id":null' in raw
    assert decode(raw).correlation_id == str(event.event_id)


def test_a_complaint_continues_the_chain_of_the_interaction_that_opened_it():
    trigger = form(T0).model_copy(update={"correlation_id": "chain-1"})
    [opened] = detect(trigger, [], CONFIG)
    assert opened.type == "complaint.opened"
    assert (opened.correlation_id, opened.causation_id) == ("chain-1", str(trigger.event_id))


def test_sla_timer_events_carry_the_correlation_of_the_complaints_opening():
    trigger = form(T0).model_copy(update={"correlation_id": "chain-2"})
    [opened] = detect(trigger, [], CONFIG)
    facts, state = clock_of([opened], CONFIG.rules, T0 + timedelta(hours=5))
    due = due_timer_events(facts, state, set(), T0 + timedelta(hours=5))
    assert {e.type for e in due} == {"sla.warning", "sla.breached"}
    assert {e.correlation_id for e in due} == {"chain-2"}


def test_notifier_reports_carry_the_triggers_chain_and_are_caused_by_it():
    breach = breached().model_copy(update={"correlation_id": "chain-3"})
    [trigger] = detect_triggers(breach, View(), Notifier())
    notification = Notification(
        notification_id="n-1", trigger=trigger, rule="lead", level=1, target_kind="email",
        target="lead@shop.example", language="en", send_at=breach.occurred_at,
    )
    for report in (notified_event(notification, 1, "<m@x>", breach.occurred_at),
                   failed_event(notification, 3, "refused", breach.occurred_at)):
        assert (report.correlation_id, report.causation_id) == ("chain-3", str(breach.event_id))
