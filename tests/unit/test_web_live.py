"""Which projected entries pop up on an agent's screen."""

from __future__ import annotations

from services.projector.web.live import LiveEntry, pops_for


def call(type_: str = "call.started", direction: str = "inbound", users=("21",)) -> LiveEntry:
    return LiveEntry("owner", {"id": "e1", "type": type_, "channel": "phone", "recorded_at": "2026-03-02T09:00:00+00:00",
                               "summary": "Call", "details": {"direction": direction, "users": list(users)}})


def test_a_ringing_inbound_call_for_the_agents_extension_pops():
    assert pops_for(call(), "21")


def test_calls_for_other_extensions_or_agents_without_one_do_not_pop():
    assert not pops_for(call(users=("22",)), "21")
    assert not pops_for(call(), None)


def test_answered_outbound_and_non_call_entries_do_not_pop():
    assert not pops_for(call("call.answered"), "21")
    assert not pops_for(call(direction="outbound"), "21")
    mail = LiveEntry("owner", {"id": "m", "type": "email.received", "channel": "email", "details": {}})
    assert not pops_for(mail, "21")
