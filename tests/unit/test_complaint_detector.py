"""Which interactions open, answer, resume or reopen complaints (tables of cases)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.projector.complaints.detector import DetectorConfig, KnownComplaint, complaint_id_for, detect
from services.projector.complaints.policy import build_rules
from shared.config import Sla
from tests.complaint_builders import CUSTOMER, berlin, call_ended, form, mail

T0 = berlin("2026-03-02 09:00")
SLA = Sla.model_validate({
    "complaint_mail_rules": [
        {"to": ["beschwerde@shop.example"], "team": "care", "priority": "high"},
        {"subject_pattern": r"\bcomplain", "keywords": ["refund", "damaged"]},
    ],
    "reopen_within_days": 7,
    "complaint_call_queues": ["complaints"],
    "policies": [{"name": "urgent", "first_response": "1h", "resolution": "1d", "priorities": ["high"]},
                 {"name": "standard", "first_response": "4h", "resolution": "3d"}],
})
CONFIG = DetectorConfig(sla=SLA, rules=build_rules(SLA))


def known(status="open", responded=False, thread="thread-1", resolved_at=None, **extra):
    return KnownComplaint(complaint_id="cmp-1", status=status, opened_at=T0, responded=responded, resolved_at=resolved_at,
                          thread_keys=frozenset({thread}) if thread else frozenset(), email=CUSTOMER, phone="+4930123456", **extra)


def types(events):
    return [e.type for e in events]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (form(T0), ["complaint.opened"]),
        (form(T0, topic="Complaint "), ["complaint.opened"]),
        (form(T0, topic="contact"), []),
        (form(T0, topic=None), []),
        (form(T0, historic=True), []),
    ],
)
def test_web_forms_open_complaints_only_with_the_complaint_topic(event, expected):
    assert types(detect(event, [], CONFIG)) == expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (mail(T0, to="beschwerde@shop.example", subject="Hello"), ["complaint.opened"]),
        (mail(T0, subject="I complain about my order", text="please refund me"), ["complaint.opened"]),
        (mail(T0, subject="I complain about my order", text="nothing else"), []),  # keyword missing
        (mail(T0, subject="Question", text="a refund please"), []),  # subject pattern missing
        (mail(T0, to="info@shop.example", subject="Hello"), []),
        (mail(T0, to="beschwerde@shop.example", classification="auto_reply"), []),
        (mail(T0, to="beschwerde@shop.example", classification="bounce"), []),
        (mail(T0, to="beschwerde@shop.example", classification="list"), []),  # a newsletter
        (mail(T0, to="beschwerde@shop.example", historic=True), []),
    ],
)
def test_mail_rules_open_complaints_never_from_auto_replies_bounces_or_history(event, expected):
    assert types(detect(event, [], CONFIG)) == expected


def test_an_opened_complaint_carries_rule_priority_team_thread_and_policy():
    trigger = mail(T0, to="beschwerde@shop.example", thread="thread-9")
    [event] = detect(trigger, [], CONFIG)
    assert event.payload.complaint_id == complaint_id_for(trigger.event_id)
    assert (event.payload.priority, event.payload.team, event.payload.thread_key) == ("high", "care", "thread-9")
    assert event.payload.policy == "urgent"
    assert event.payload.origin_event_id == str(trigger.event_id)
    assert (event.occurred_at, event.contact, event.customer_id) == (trigger.occurred_at, trigger.contact, "cust-1")
    assert event.causation_id == str(trigger.event_id)


def test_detection_is_deterministic_so_replays_derive_the_same_ids():
    trigger = form(T0)
    assert detect(trigger, [], CONFIG) == detect(trigger, [], CONFIG)
    assert detect(form(T0, n="2"), [], CONFIG)[0].event_id != detect(trigger, [], CONFIG)[0].event_id


LATER = T0 + timedelta(days=1)


@pytest.mark.parametrize(
    ("complaint", "event", "expected"),
    [
        (known(), mail(LATER, n="2"), []),  # joins the open complaint
        (known(), mail(LATER, n="2", to="beschwerde@shop.example"), []),  # even when a rule matches
        (known(status="paused"), mail(LATER, n="2"), ["complaint.resumed"]),
        (known(status="paused"), mail(LATER, n="2", classification="auto_reply"), []),
        (known(status="resolved", resolved_at=T0), mail(LATER, n="2"), ["complaint.reopened"]),
        (known(status="resolved", resolved_at=T0), mail(T0 + timedelta(days=8), n="2"), []),
        (known(status="resolved", resolved_at=T0), mail(T0 + timedelta(days=8), n="2", to="beschwerde@shop.example"),
         ["complaint.opened"]),
        (known(thread="other"), mail(LATER, n="2"), []),
    ],
)
def test_customer_follow_ups_join_resume_or_reopen_the_complaint_of_their_thread(complaint, event, expected):
    derived = detect(event, [complaint], CONFIG)
    assert types(derived) == expected
    if expected and expected != ["complaint.opened"]:
        assert derived[0].payload.complaint_id == "cmp-1"


@pytest.mark.parametrize(
    ("complaint", "event", "counts", "expected"),
    [
        (known(), mail(LATER, n="3", sent=True), ["email"], ["complaint.responded"]),
        (known(thread=None), mail(LATER, n="3", sent=True, thread="reply-1"), ["email"], ["complaint.responded"]),
        (known(thread=None), mail(LATER, n="3", sent=True, customer="someone@example.org"), ["email"], []),
        (known(responded=True), mail(LATER, n="3", sent=True), ["email"], []),
        (known(status="resolved"), mail(LATER, n="3", sent=True), ["email"], []),
        (known(), mail(LATER, n="3", sent=True), ["call", "agent"], []),
        (known(), mail(T0 - timedelta(hours=1), n="3", sent=True), ["email"], []),  # sent before it opened
        (known(), call_ended(LATER), ["call"], ["complaint.responded"]),
        (known(), call_ended(LATER, disposition="missed"), ["call"], []),
        (known(), call_ended(LATER), ["email"], []),
        (known(), call_ended(LATER, phone="+4940999999"), ["call"], []),
    ],
)
def test_the_first_agent_response_counts_only_via_configured_channels(complaint, event, counts, expected):
    config = DetectorConfig(sla=SLA.model_copy(update={"first_response_counts": counts}), rules=CONFIG.rules)
    assert types(detect(event, [complaint], config)) == expected


def test_a_reply_mail_names_its_thread_so_follow_ups_find_the_complaint():
    [event] = detect(mail(LATER, n="3", sent=True, thread="reply-1"), [known(thread=None)], CONFIG)
    assert (event.payload.via, event.payload.thread_key) == ("email", "reply-1")


@pytest.mark.parametrize(
    ("complaints", "event", "expected"),
    [
        ([], call_ended(T0, direction="inbound", queue="complaints"), ["complaint.opened"]),
        ([], call_ended(T0, direction="inbound", queue="sales"), []),
        ([], call_ended(T0, direction="inbound", queue="complaints", disposition="missed"), []),
        ([known()], call_ended(LATER, direction="inbound", queue="complaints"), []),
        ([known(status="paused")], call_ended(LATER, direction="inbound", queue="complaints"), ["complaint.resumed"]),
    ],
)
def test_answered_calls_in_a_complaint_queue_open_complaints(complaints, event, expected):
    assert types(detect(event, complaints, CONFIG)) == expected


def test_an_opened_call_complaint_names_its_origin():
    [event] = detect(call_ended(T0, direction="inbound", queue="complaints"), [], CONFIG)
    assert (event.payload.origin, event.channel, event.payload.policy) == ("call", "phone", "standard")


def test_the_customer_segment_is_kept_on_the_complaint():
    [event] = detect(form(T0), [], CONFIG, segment="premium")
    assert event.payload.segment == "premium"
