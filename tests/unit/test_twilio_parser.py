"""Twilio voice status callbacks become call events, in any order, without duplicates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.call import CallAnswered, CallEnded, CallStarted
from services.ingest.problems import InvalidPayload
from services.ingest.telephony.twilio import parse_twilio_status
from tests.fixtures import form

NOW = datetime(2026, 3, 2, 9, 20, tzinfo=UTC)
SID = "CA0f3c5e7a9b1d2f4e6a8c0b2d4f6a8c0e"


def parse_one(fields, region="DE"):
    [event] = parse_twilio_status(fields, NOW, region)
    return event


def test_ringing_starts_an_inbound_call_at_twilios_timestamp():
    event = parse_one(form("twilio/status_ringing.form"))
    assert isinstance(event, CallStarted)
    assert event.payload.call_id == SID
    assert event.payload.direction == "inbound"
    assert event.payload.from_number == "+4915112345678"
    assert event.contact.phone == "+4915112345678"
    assert event.occurred_at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    assert event.recorded_at == NOW
    assert event.payload.sequence == 0


def test_in_progress_is_the_answer():
    event = parse_one(form("twilio/status_in_progress.form"))
    assert isinstance(event, CallAnswered)
    assert event.payload.sequence == 1


def test_completed_call_ends_answered_with_its_duration():
    event = parse_one(form("twilio/status_completed.form"))
    assert isinstance(event, CallEnded)
    assert event.payload.disposition == "answered"
    assert event.payload.duration_seconds == 184
    assert event.payload.cause == "completed"
    assert event.payload.sequence == 2


def test_no_answer_is_a_missed_call():
    event = parse_one(form("twilio/status_no_answer.form"))
    assert event.payload.disposition == "missed"
    assert event.payload.duration_seconds == 0


def test_an_answering_machine_makes_an_outbound_call_voicemail():
    event = parse_one(form("twilio/status_completed_machine.form"))
    assert event.payload.direction == "outbound"
    assert event.payload.disposition == "voicemail"
    assert event.contact.phone == "+4930123456"  # outbound: the customer is the called party


def test_busy_outbound_call():
    assert parse_one(form("twilio/status_busy.form")).payload.disposition == "busy"


@pytest.mark.parametrize(("status", "extra", "expected"), [
    ("busy", {}, "busy"),
    ("no-answer", {}, "missed"),
    ("canceled", {}, "missed"),
    ("failed", {}, "failed"),
    ("busy", {"SipResponseCode": "603"}, "rejected"),
    ("completed", {"AnsweredBy": "human"}, "answered"),
    ("completed", {"AnsweredBy": "machine_start"}, "voicemail"),
])
def test_terminal_statuses_map_to_dispositions(status, extra, expected):
    fields = {"CallSid": "CA1", "CallStatus": status, "From": "+4915112345678", "To": "+4930555000100", **extra}
    assert parse_one(fields).payload.disposition == expected


@pytest.mark.parametrize("status", ["queued", "initiated", "ringing"])
def test_every_early_status_is_the_same_started_fact(status):
    event = parse_one({"CallSid": "CA1", "CallStatus": status, "From": "+4915112345678"})
    assert event.event_id == parse_one({"CallSid": "CA1", "CallStatus": "ringing"}).event_id


def test_callbacks_out_of_order_give_the_same_events_and_keep_their_sequence():
    names = ["twilio/status_ringing.form", "twilio/status_in_progress.form", "twilio/status_completed.form"]
    in_order = [parse_one(form(n)) for n in names]
    shuffled = [parse_one(form(n)) for n in reversed(names)]
    assert {e.event_id for e in in_order} == {e.event_id for e in shuffled}
    assert [e.payload.sequence for e in sorted(shuffled, key=lambda e: e.payload.sequence)] == [0, 1, 2]


def test_a_retried_callback_has_the_same_id():
    assert parse_one(form("twilio/status_completed.form")).event_id == parse_one(form("twilio/status_completed.form")).event_id


def test_a_client_leg_names_the_agent_and_keeps_the_customer_number():
    event = parse_one({"CallSid": "CA2", "CallStatus": "in-progress", "Direction": "outbound-dial",
                       "From": "+4915112345678", "To": "client:anna", "ParentCallSid": "CA1"})
    assert event.payload.users == ("anna",)
    assert event.payload.answered_by == "anna"
    assert event.payload.original_call_id == "CA1"
    assert event.contact.phone == "+4915112345678"


def test_withheld_caller():
    event = parse_one({"CallSid": "CA3", "CallStatus": "ringing", "From": "anonymous", "To": "+4930555000100"})
    assert event.payload.caller_withheld is True and event.contact.phone is None


def test_bad_parameters_are_all_named():
    with pytest.raises(InvalidPayload) as caught:
        parse_twilio_status({"CallStatus": "exploded", "SequenceNumber": "x", "CallDuration": "-3",
                             "Timestamp": "yesterday"}, NOW, "DE")
    problems = " | ".join(caught.value.problems)
    for name in ("CallSid: required", "CallStatus: must be one of", "SequenceNumber:", "Timestamp:", "CallDuration:"):
        assert name in problems
