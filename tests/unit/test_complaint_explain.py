"""A complaint's clocks as the page draws them: segments as shares of a bar, the due time and
now on it, the calendar and policy named, and the actions that apply to its status."""

from __future__ import annotations

from datetime import datetime

from services.projector.complaints.explain import available_actions, complaint_card
from services.projector.complaints.policy import build_rules
from shared.config import Sla
from tests.complaint_builders import berlin, opened, paused, resolved

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
RULES = build_rules(Sla.model_validate({
    "timezone": "Europe/Berlin",
    "calendars": [{"name": "office", "hours": {d: ["08:00-12:00", "13:00-17:00"] for d in WEEKDAYS}}],
    "policies": [{"name": "standard", "calendar": "office", "first_response": "2h", "resolution": "2d", "version": 3}],
}))


def test_a_breached_first_response_shows_lunch_outside_hours_and_the_due_time_inside_the_bar():
    card = complaint_card([opened(berlin("2026-03-02 11:00"))], RULES, berlin("2026-03-02 15:00"))
    assert (card["policy"], card["policy_version"], card["calendar"], card["calendar_timezone"]) == (
        "standard", 3, "office", "Europe/Berlin")
    first = card["clock_bars"][0]
    assert (first["kind"], first["state"], first["elapsed_seconds"], first["remaining_seconds"]) == (
        "first_response", "breached", 3 * 3600, -3600)
    assert [(s["kind"], s["seconds"]) for s in first["segments"]] == [("running", 3600), ("outside_hours", 3600),
                                                                     ("running", 3600), ("overdue", 3600)]
    assert [(s["x"], round(s["width"], 1)) for s in first["segments"]] == [(0, 25.0), (25.0, 25.0), (50.0, 25.0),
                                                                          (75.0, 25.0)]
    assert datetime.fromisoformat(first["due_at"]) == berlin("2026-03-02 14:00") and first["due_x"] == 75.0
    assert first["now_x"] == 100.0 and first["breached_at"] == first["due_at"]


def test_a_running_clock_reaches_out_to_its_due_time_so_the_mark_is_on_the_bar():
    card = complaint_card([opened(berlin("2026-03-02 09:00"))], RULES, berlin("2026-03-02 10:00"))
    first = card["clock_bars"][0]
    assert (first["state"], first["due_x"], first["now_x"]) == ("ok", 100.0, 50.0)


def test_a_pause_is_its_own_segment_with_its_reason_and_no_due_time_while_it_lasts():
    events = [opened(berlin("2026-03-02 09:00")), paused(berlin("2026-03-02 09:30"))]
    first = complaint_card(events, RULES, berlin("2026-03-02 10:00"))["clock_bars"][0]
    assert [(s["kind"], s["reason"]) for s in first["segments"]] == [("running", None), ("paused", "waiting_for_customer")]
    assert (first["state"], first["due_at"], first["due_x"]) == ("paused", None, None)


def test_actions_follow_the_status_and_decide_has_the_last_word():
    assert available_actions("open", responded=False) == ["respond", "resolve", "pause", "priority"]
    assert available_actions("paused", responded=True) == ["resolve", "resume", "priority"]
    assert available_actions("resolved", responded=True) == ["reopen"]
    card = complaint_card([opened(berlin("2026-03-02 09:00")), resolved(berlin("2026-03-02 09:30"))], RULES,
                          berlin("2026-03-02 10:00"))
    assert (card["status"], card["actions"]) == ("resolved", ["reopen"])


def test_no_response_button_where_agent_actions_do_not_count_as_a_first_response():
    events = [opened(berlin("2026-03-02 09:00"))]
    assert "respond" in complaint_card(events, RULES, berlin("2026-03-02 10:00"))["actions"]
    assert "respond" not in complaint_card(events, RULES, berlin("2026-03-02 10:00"), agent_responds=False)["actions"]
