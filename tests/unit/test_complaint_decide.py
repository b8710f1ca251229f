"""What an agent's action on a complaint records: `decide(command, history, now)`, a pure
function of the complaint's recorded events."""

from __future__ import annotations

import uuid

import pytest

from events.envelope import ActorRef, ContactIdentifiers
from services.projector.complaints.decide import (
    ChangePriority,
    Open,
    Pause,
    Refused,
    Reopen,
    Resolve,
    Respond,
    Resume,
    Settings,
    decide,
)
from tests.complaint_builders import berlin, opened, paused, reopened, resolved, responded

ANNA = ActorRef(kind="agent", name="anna")
NOW = berlin("2026-03-02 10:00")
OPENED = opened(berlin("2026-03-02 09:00")).model_copy(update={"correlation_id": "chain-of-the-form"})


def action(kind, complaint_id: str = "cmp-1", **fields):
    return kind(complaint_id, ANNA, uuid.UUID(int=7), **fields)


def refusal(command, history, settings: Settings = Settings()) -> tuple[str, int]:
    with pytest.raises(Refused) as refused:
        decide(command, history, NOW, settings)
    assert refused.value.detail  # says why, for people
    return refused.value.code, refused.value.status


def test_responding_to_an_open_complaint_records_the_agent_response_in_its_chain():
    [event] = decide(action(Respond, note="called back"), [OPENED], NOW)
    assert event.type == "complaint.responded"
    assert (event.payload.via, event.payload.responded_by, event.payload.note) == ("agent", ANNA, "called back")
    assert (event.event_id, event.occurred_at, event.channel) == (uuid.UUID(int=7), NOW, "agent")
    assert event.correlation_id == "chain-of-the-form"


def test_responding_twice_is_refused_because_the_first_response_was_given():
    assert refusal(action(Respond), [OPENED, responded(berlin("2026-03-02 09:30"))]) == ("already_responded", 409)


def test_responding_to_a_resolved_complaint_is_refused_until_it_is_reopened():
    assert refusal(action(Respond), [OPENED, resolved(berlin("2026-03-02 09:30"))]) == ("resolved", 409)


def test_responding_is_refused_where_agent_actions_do_not_count_as_a_response():
    settings = Settings(agent_action_is_a_response=False)
    assert refusal(action(Respond), [OPENED], settings) == ("not_counted", 409)


def test_resolving_a_resolved_complaint_is_refused_with_a_clear_reason():
    code, status = refusal(action(Resolve), [OPENED, resolved(berlin("2026-03-02 09:30"))])
    assert (code, status) == ("already_resolved", 409)


def test_resolving_an_open_or_paused_complaint_records_who_resolved_it():
    for history in ([OPENED], [OPENED, paused(berlin("2026-03-02 09:10"))]):
        [event] = decide(action(Resolve, note="refund sent"), history, NOW)
        assert (event.type, event.payload.resolved_by, event.payload.note) == ("complaint.resolved", ANNA, "refund sent")


def test_only_a_resolved_complaint_can_be_reopened():
    assert refusal(action(Reopen), [OPENED]) == ("not_resolved", 409)
    [event] = decide(action(Reopen), [OPENED, resolved(berlin("2026-03-02 09:30"))], NOW)
    assert (event.type, event.payload.reason, event.payload.reopened_by) == ("complaint.reopened", "reopened_by_agent", ANNA)


def test_a_reopened_complaint_can_be_resolved_again():
    history = [OPENED, resolved(berlin("2026-03-02 09:30")), reopened(berlin("2026-03-02 09:40"))]
    assert [e.type for e in decide(action(Resolve), history, NOW)] == ["complaint.resolved"]


def test_pausing_names_its_reason_and_only_an_open_complaint_pauses():
    [event] = decide(action(Pause, reason="waiting_for_customer"), [OPENED], NOW)
    assert (event.type, event.payload.reason, event.payload.paused_by) == ("complaint.paused", "waiting_for_customer", ANNA)
    assert refusal(action(Pause), [OPENED, paused(berlin("2026-03-02 09:10"))]) == ("not_open", 409)
    assert refusal(action(Pause), [OPENED, resolved(berlin("2026-03-02 09:10"))]) == ("not_open", 409)


def test_only_a_paused_complaint_can_be_resumed():
    assert refusal(action(Resume), [OPENED]) == ("not_paused", 409)
    [event] = decide(action(Resume), [OPENED, paused(berlin("2026-03-02 09:10"))], NOW)
    assert (event.type, event.payload.resumed_by) == ("complaint.resumed", ANNA)


def test_changing_the_priority_to_the_one_it_has_is_refused():
    assert refusal(action(ChangePriority, priority="normal"), [OPENED]) == ("unchanged", 409)
    [event] = decide(action(ChangePriority, priority="urgent"), [OPENED], NOW)
    assert (event.type, event.payload.priority) == ("complaint.priority_changed", "urgent")
    later = [OPENED, event]
    assert refusal(action(ChangePriority, priority="urgent"), later) == ("unchanged", 409)


def test_an_action_on_a_complaint_never_opened_is_not_found():
    assert refusal(action(Resolve, complaint_id="nope"), []) == ("complaint_not_found", 404)


def test_opening_by_hand_records_the_policy_the_rules_chose_and_starts_its_own_chain():
    command = action(Open, complaint_id="cmp-9", subject="Lamp broken", contact=ContactIdentifiers(phone="+4930123456"),
                     priority="high", team="care", policy="standard")
    [event] = decide(command, [], NOW)
    assert event.type == "complaint.opened"
    assert (event.payload.origin, event.payload.policy, event.payload.opened_by) == ("agent", "standard", ANNA)
    assert (event.contact.phone, event.correlation_id) == ("+4930123456", "cmp-9")


def test_a_retried_opening_decides_the_recorded_opening_again():
    command = action(Open, complaint_id="cmp-9", subject="Lamp broken", contact=ContactIdentifiers(phone="+4930123456"))
    [first] = decide(command, [], NOW)
    assert decide(command, [first], berlin("2026-03-02 10:05")) == [first]


def test_deciding_is_pure_the_same_inputs_give_the_same_event():
    assert decide(action(Resolve), [OPENED], NOW) == decide(action(Resolve), [OPENED], NOW)
