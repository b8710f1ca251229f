"""sipgate.io push and Zammad generic CTI requests become call events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.call import CallAnswered, CallEnded, CallStarted
from services.ingest.problems import InvalidPayload
from services.ingest.telephony.cti import disposition_for, parse_cti
from tests.fixtures import form, json_fixture

NOW = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def parse_one(fields, region="DE"):
    [event] = parse_cti(fields, NOW, region)
    return event


def test_sipgate_new_call_is_a_started_inbound_call_with_every_ringing_user():
    event = parse_one(form("sipgate/newcall_inbound.form"))
    assert isinstance(event, CallStarted)
    assert event.payload.call_id == "7E1F5C0A22B64A9D"
    assert event.payload.direction == "inbound"
    assert event.payload.from_number == "+4915112345678"
    assert event.payload.to_number == "+4930555000100"
    assert event.payload.users == ("Anna Agent", "Ben Agent")
    assert event.contact.phone == "+4915112345678"
    assert event.payload.original_call_id is None and event.payload.diversion is None
    assert event.occurred_at == NOW and event.source == "cti"


def test_sipgate_answer_names_who_answered():
    event = parse_one(form("sipgate/answer.form"))
    assert isinstance(event, CallAnswered)
    assert event.payload.answered_by == "Anna Agent"
    assert event.payload.answering_number == "4930555000121"


def test_hangup_after_normal_clearing_is_an_answered_call():
    event = parse_one(form("sipgate/hangup_normal.form"))
    assert isinstance(event, CallEnded)
    assert event.payload.disposition == "answered"
    assert event.payload.cause == "normalClearing"


def test_hangup_without_answer_is_a_missed_call():
    assert parse_one(form("sipgate/hangup_cancel.form")).payload.disposition == "missed"
    assert parse_one(json_fixture("zammad/hangup_noanswer.json")).payload.disposition == "missed"


def test_withheld_caller_has_no_number_and_is_marked_withheld():
    event = parse_one(form("sipgate/newcall_anonymous.form"))
    assert event.payload.from_number is None
    assert event.payload.caller_withheld is True
    assert event.contact.phone is None
    assert event.partition_key() == "call_id:A0B1C2D3E4F5"


def test_transfer_links_the_new_call_to_the_original_and_keeps_the_diversion():
    event = parse_one(form("sipgate/newcall_transfer.form"))
    assert event.payload.original_call_id == "7E1F5C0A22B64A9D"
    assert event.payload.diversion == "+4930555000121"


def test_voicemail_answer_and_hangup_count_as_voicemail():
    answer = parse_one(form("sipgate/answer_voicemail.form"))
    assert answer.payload.answered_by == "voicemail"
    assert disposition_for("normalClearing", "voicemail") == "voicemail"


def test_zammad_json_with_call_id_and_a_national_number_in_the_default_region():
    event = parse_one(json_fixture("zammad/newcall_out.json"), region="DE")
    assert event.payload.direction == "outbound"
    assert event.payload.call_id == "f4ebd2be-7b9a-4d58-94b4-0c2d5a6e1f00"
    assert event.payload.to_number == "+49301234567"
    assert event.contact.phone == "+49301234567"  # outbound: the customer is the called party
    assert event.payload.users == ("Anna Agent",)
    assert event.payload.queue == "support"


def test_a_national_number_stays_unknown_without_a_default_region():
    event = parse_one(json_fixture("zammad/newcall_out.json"), region=None)
    assert event.payload.to_number is None


def test_zammad_user_list_and_queue():
    event = parse_one(json_fixture("zammad/newcall_in.json"))
    assert event.payload.users == ("Anna Agent", "Ben Agent")
    assert event.payload.queue == "helpdesk"


def test_busy_hangup_of_an_outbound_call():
    event = parse_one(json_fixture("zammad/hangup_busy_out.json"))
    assert event.payload.disposition == "busy"


@pytest.mark.parametrize(("cause", "answering", "expected"), [
    ("normalClearing", "21", "answered"),
    ("busy", None, "busy"),
    ("cancel", None, "missed"),
    ("noAnswer", None, "missed"),
    ("congestion", None, "failed"),
    ("notFound", None, "failed"),
    ("forwarded", "4917612345678", "answered"),
    ("forwarded", None, "missed"),
    ("rejected", None, "rejected"),
    ("somethingNew", None, "failed"),
    (None, "21", "answered"),
])
def test_hangup_causes_map_to_dispositions(cause, answering, expected):
    assert disposition_for(cause, answering) == expected


def test_a_retried_request_yields_the_same_event_id():
    first = parse_one(form("sipgate/hangup_normal.form"))
    [again] = parse_cti(form("sipgate/hangup_normal.form"), datetime(2026, 3, 2, 9, 16, tzinfo=UTC), "DE")
    assert first.event_id == again.event_id


def test_each_state_of_a_call_has_its_own_id_and_the_same_partition():
    events = [parse_one(form(name)) for name in
              ("sipgate/newcall_inbound.form", "sipgate/answer.form", "sipgate/hangup_normal.form")]
    assert len({e.event_id for e in events}) == 3
    assert len({e.partition_key() for e in events}) == 1


def test_hangup_before_answer_is_consistent_whatever_the_order():
    hangup_first = [parse_one(form("sipgate/hangup_normal.form")), parse_one(form("sipgate/answer.form"))]
    answer_first = list(reversed(hangup_first))
    assert {e.event_id for e in hangup_first} == {e.event_id for e in answer_first}
    assert hangup_first[0].payload.disposition == "answered"


def test_dtmf_events_are_accepted_and_produce_nothing():
    assert parse_cti(form("sipgate/dtmf.form"), NOW, "DE") == []


def test_every_missing_field_is_named():
    with pytest.raises(InvalidPayload) as caught:
        parse_cti({"from": "4915112345678"}, NOW, "DE")
    assert caught.value.problems == ["event: required", "callId: required", "direction: required"]


def test_unknown_event_and_direction_are_named():
    with pytest.raises(InvalidPayload) as caught:
        parse_cti({"event": "ringing", "callId": "x", "direction": "sideways"}, NOW, "DE")
    assert any(p.startswith("event: must be one of newCall") for p in caught.value.problems)
    assert any(p.startswith("direction: must be in or out") for p in caught.value.problems)


def test_an_object_where_text_belongs_is_a_problem_not_a_crash():
    with pytest.raises(InvalidPayload) as caught:
        parse_cti({"event": "newCall", "callId": {"nested": 1}, "direction": "in"}, NOW, "DE")
    assert caught.value.problems[0] == "callId: must be text, got dict"


@pytest.mark.parametrize("written", ["4915112345678", "004915112345678", "+49 151 12345678", "0151/12345678",
                                     "0151 123 456 78"])
def test_numbers_as_pbxs_write_them_become_e164(written):
    event = parse_one({"event": "newCall", "callId": "n-1", "direction": "in", "from": written, "to": "4930555000100"})
    assert event.payload.from_number == "+4915112345678"
