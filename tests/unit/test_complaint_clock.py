"""The SLA clock as a pure function of a complaint's events, a policy, a calendar and now."""

from __future__ import annotations

import pytest

from services.projector.complaints.clock import sla_clock
from services.projector.complaints.policy import build_rules
from shared.config import Sla
from tests.complaint_builders import berlin, opened, paused, priority_changed, reopened, resolved, responded, resumed

HOUR = 3600
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def rules(first_response="4h", resolution="2d", warn_at=("80%",), version=1, calendar="office", **extra):
    return build_rules(Sla.model_validate({
        "timezone": "Europe/Berlin",
        "calendars": [{"name": "office", "hours": {d: ["08:00-12:00", "13:00-17:00"] for d in WEEKDAYS},
                       "holidays": ["2026-12-24", "2026-12-25"]}],
        "policies": [{"name": "standard", "calendar": calendar, "first_response": first_response,
                      "resolution": resolution, "warn_at": list(warn_at), "version": version, **extra}],
    }))


def clock(events, now, **policy):
    policy = rules(**policy).policies[0]
    return sla_clock(events, policy, policy.calendar, berlin(now))


def test_fresh_complaint_runs_both_clocks_in_business_hours():
    state = clock([opened(berlin("2026-03-02 09:00"))], "2026-03-02 10:00")
    assert state.state == "ok" and state.status == "open"
    assert state.first_response.due_at == berlin("2026-03-02 14:00")
    assert state.resolution.due_at == berlin("2026-03-04 09:00")  # 2 business days of 8h
    assert state.first_response.remaining_seconds == 3 * HOUR
    assert state.active is state.first_response


def test_overnight_the_clock_stands_still():
    state = clock([opened(berlin("2026-03-02 16:00"))], "2026-03-03 08:30")
    assert state.first_response.elapsed_seconds == 1.5 * HOUR
    assert state.first_response.due_at == berlin("2026-03-03 11:00")
    kinds = [(s.kind, s.start, s.end) for s in state.first_response.segments]
    assert kinds == [
        ("running", berlin("2026-03-02 16:00"), berlin("2026-03-02 17:00")),
        ("outside_hours", berlin("2026-03-02 17:00"), berlin("2026-03-03 08:00")),
        ("running", berlin("2026-03-03 08:00"), berlin("2026-03-03 08:30")),
    ]


def test_weekend_and_holidays_are_skipped():
    assert clock([opened(berlin("2026-03-06 15:00"))], "2026-03-06 15:00").first_response.due_at == berlin("2026-03-09 10:00")
    assert clock([opened(berlin("2026-12-23 16:00"))], "2026-12-23 16:00").first_response.due_at == berlin("2026-12-28 11:00")


@pytest.mark.parametrize(
    ("opened_at", "due"),
    [("2026-03-27 16:00", "2026-03-30 11:00"), ("2026-10-23 16:00", "2026-10-26 11:00")],
)
def test_dst_switches_keep_due_times_in_wall_clock_hours(opened_at, due):
    state = clock([opened(berlin(opened_at))], opened_at)
    assert state.first_response.due_at == berlin(due)


@pytest.mark.parametrize(
    ("opened_at", "due"),
    [("2026-03-29 01:30", "2026-03-29 04:30"), ("2026-10-25 01:30", "2026-10-25 02:30")],
)
def test_dst_switches_on_a_24_7_calendar_count_real_hours(opened_at, due):
    # spring: 02:00-03:00 is skipped, so two real hours end at 04:30 wall time;
    # autumn: 02:00-03:00 happens twice, so two real hours end at the second 02:30
    state = clock([opened(berlin(opened_at))], opened_at, first_response="2h", calendar="24/7")
    expected = berlin(due)
    if opened_at.startswith("2026-10"):
        expected = expected.replace(fold=1)
    # an ambiguous local time never equals an instant of another zone (PEP 495): compare instants
    assert state.first_response.due_at.timestamp() == expected.timestamp()
    assert (state.first_response.due_at - berlin(opened_at)).total_seconds() == 2 * HOUR


def test_24_7_runs_across_midnight_without_a_gap():
    state = clock([opened(berlin("2026-03-07 23:30"))], "2026-03-08 00:45", first_response="1h", calendar="24/7")
    assert state.first_response.state == "breached"
    assert state.first_response.breached_at == berlin("2026-03-08 00:30")
    assert [s.kind for s in state.first_response.segments] == ["running"]


def test_reply_outside_business_hours_stops_the_clock_when_it_happens():
    events = [opened(berlin("2026-03-02 16:30")), responded(berlin("2026-03-02 20:00"))]
    state = clock(events, "2026-03-03 12:00")
    assert state.first_response.state == "met"
    assert state.first_response.elapsed_seconds == 0.5 * HOUR
    assert state.first_response.stopped_at == berlin("2026-03-02 20:00")
    assert state.first_response.due_at == berlin("2026-03-03 11:30")  # as it stood when answered
    assert state.responded_at == berlin("2026-03-02 20:00")
    assert state.active is state.resolution


def test_breach_happens_exactly_when_the_target_is_used_up():
    events = [opened(berlin("2026-03-02 09:00"))]
    assert clock(events, "2026-03-02 13:59").first_response.state == "warning"
    at_due = clock(events, "2026-03-02 14:00")
    assert at_due.state == "breached" and at_due.first_response.breached_at == berlin("2026-03-02 14:00")
    later = clock(events, "2026-03-03 09:00")
    assert later.first_response.remaining_seconds == -4 * HOUR


def test_late_reply_stays_breached():
    events = [opened(berlin("2026-03-02 09:00")), responded(berlin("2026-03-02 15:00"))]
    state = clock(events, "2026-03-02 16:00")
    assert state.first_response.state == "breached"
    assert state.first_response.stopped_at == berlin("2026-03-02 15:00")


def test_several_warning_points_fire_in_order():
    events = [opened(berlin("2026-03-02 09:00"))]
    points = ("80%", "30m", "50%")
    early = clock(events, "2026-03-02 10:30", warn_at=points)
    assert [p.label for p in early.first_response.warnings_fired] == []
    mid = clock(events, "2026-03-02 13:20", warn_at=points)
    assert [(p.label, p.at) for p in mid.first_response.warnings_fired] == [
        ("50%", berlin("2026-03-02 11:00")), ("80%", berlin("2026-03-02 13:12"))
    ]
    assert mid.state == "warning"
    late = clock(events, "2026-03-02 13:40", warn_at=points)
    assert [p.label for p in late.first_response.warnings_fired] == ["50%", "80%", "30m"]
    assert [p.label for p in late.first_response.points] == ["50%", "80%", "30m", "breach"]


def test_points_after_the_response_never_fire():
    events = [opened(berlin("2026-03-02 09:00")), responded(berlin("2026-03-02 10:00"))]
    state = clock(events, "2026-03-03 09:00")
    assert state.first_response.points == ()
    assert [p.kind for p in state.due_points()] == []


def test_pause_for_the_customer_stops_and_resume_restarts():
    events = [
        opened(berlin("2026-03-02 09:00")), responded(berlin("2026-03-02 09:30")),
        paused(berlin("2026-03-02 10:00")), resumed(berlin("2026-03-03 10:00")),
    ]
    during = clock(events[:3], "2026-03-02 15:00", resolution="8h")
    assert during.state == "paused" and during.status == "paused"
    assert during.resolution.due_at is None
    assert during.resolution.remaining_seconds == 7 * HOUR
    after = clock(events, "2026-03-03 12:00", resolution="8h")
    assert after.resolution.elapsed_seconds == 3 * HOUR
    assert after.resolution.due_at == berlin("2026-03-04 09:00")
    assert [s.kind for s in after.resolution.segments] == ["running", "paused", "running"]
    assert after.resolution.segments[1].reason == "waiting_for_customer"


def test_a_pause_reason_the_policy_does_not_list_keeps_the_clock_running():
    events = [opened(berlin("2026-03-02 09:00")), paused(berlin("2026-03-02 10:00"), reason="parts_on_order")]
    state = clock(events, "2026-03-02 11:00")
    assert state.status == "paused"
    assert state.first_response.running and state.first_response.elapsed_seconds == 2 * HOUR
    assert state.state == "ok"


def test_a_pause_before_the_first_response_stops_that_clock_too():
    events = [opened(berlin("2026-03-02 09:00")), paused(berlin("2026-03-02 10:00"))]
    state = clock(events, "2026-03-03 17:00")
    assert state.first_response.elapsed_seconds == HOUR and state.first_response.state == "paused"


def test_reopen_continues_the_resolution_clock_where_it_stopped():
    events = [
        opened(berlin("2026-03-02 09:00")), responded(berlin("2026-03-02 09:10")),
        resolved(berlin("2026-03-02 11:00")), reopened(berlin("2026-03-04 09:00")),
    ]
    closed = clock(events[:3], "2026-03-03 09:00", resolution="8h")
    assert closed.state == "met" and closed.status == "resolved"
    again = clock(events, "2026-03-04 10:00", resolution="8h")
    assert again.status == "open" and again.resolved_at is None
    assert again.resolution.elapsed_seconds == 3 * HOUR
    assert again.resolution.due_at == berlin("2026-03-04 16:00")
    assert "stopped" in [s.kind for s in again.resolution.segments]
    assert again.first_response.state == "met"  # the first response was given before


def test_resolution_without_a_reply_stops_the_first_response_clock():
    events = [opened(berlin("2026-03-02 09:00")), resolved(berlin("2026-03-02 10:00"))]
    state = clock(events, "2026-03-05 10:00")
    assert state.first_response.state == "met" and state.first_response.stopped_at == berlin("2026-03-02 10:00")
    assert state.state == "met"


def test_a_policy_change_remeasures_the_same_events():
    events = [opened(berlin("2026-03-02 09:00")), responded(berlin("2026-03-02 12:00"))]
    old = clock(events, "2026-03-02 17:00", first_response="4h", version=1)
    new = clock(events, "2026-03-02 17:00", first_response="2h", version=2)
    assert (old.first_response.state, old.policy_version) == ("met", 1)
    assert (new.first_response.state, new.policy_version) == ("breached", 2)


def test_priority_changes_do_not_disturb_the_clock():
    events = [opened(berlin("2026-03-02 09:00")), priority_changed(berlin("2026-03-02 10:00"), "urgent")]
    assert clock(events, "2026-03-02 11:00").first_response.elapsed_seconds == 2 * HOUR


def test_events_after_now_are_not_seen():
    events = [opened(berlin("2026-03-02 09:00")), responded(berlin("2026-03-02 12:00"))]
    assert clock(events, "2026-03-02 10:00").responded_at is None


def test_without_a_policy_there_is_no_clock():
    state = sla_clock([opened(berlin("2026-03-02 09:00"))], None, None, berlin("2026-03-02 10:00"))
    assert state.state == "none" and state.first_response is None and state.next_point_at() is None


def test_a_clock_needs_the_opening_event():
    with pytest.raises(ValueError, match="complaint.opened"):
        clock([responded(berlin("2026-03-02 09:00"))], "2026-03-02 10:00")


def test_next_point_skips_fired_ones():
    state = clock([opened(berlin("2026-03-02 09:00"))], "2026-03-02 13:20")
    assert state.next_point_at() == berlin("2026-03-02 13:12")
    assert state.next_point_at({("first_response", "80%")}) == berlin("2026-03-02 14:00")


def test_a_stopped_clock_has_no_next_point_even_with_unfired_ones():
    events = [opened(berlin("2026-03-02 09:00")), responded(berlin("2026-03-02 13:30"))]
    state = clock(events, "2026-03-02 13:40")
    assert [p.label for p in state.first_response.points] == ["80%"]  # reached before the reply
    assert state.next_point_at() == state.resolution.points[0].at
