"""Business calendars: slots, lunch breaks, weekends, holidays (dates and iCal), DST, 24/7."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.business_calendar import BusinessCalendar, CalendarError, build_calendar, ical_holidays
from tests.complaint_builders import berlin

OFFICE_HOURS = {day: ["08:00-12:00", "13:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
OFFICE = build_calendar("office", "Europe/Berlin", OFFICE_HOURS, holidays=["2026-12-24", "2026-12-25"])
NIGHTS = build_calendar("nights", "Europe/Berlin", {d: ["00:00-06:00", "22:00-24:00"] for d in ("fri", "sat", "sun")})
ROUND_THE_CLOCK = build_calendar("round", "Europe/Berlin", {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
ALWAYS = BusinessCalendar.twenty_four_seven("Europe/Berlin")
HOUR = 3600


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        ("2026-03-02 09:00", 2, "2026-03-02 11:00"),  # within the morning
        ("2026-03-02 11:00", 2, "2026-03-02 14:00"),  # across the lunch break
        ("2026-03-02 16:00", 4, "2026-03-03 11:00"),  # overnight
        ("2026-03-02 20:00", 1, "2026-03-03 09:00"),  # starts outside hours
        ("2026-03-06 15:00", 4, "2026-03-09 10:00"),  # over the weekend
        ("2026-12-23 16:00", 4, "2026-12-28 11:00"),  # over two holidays and the weekend
        ("2026-03-27 16:00", 2, "2026-03-30 09:00"),  # weekend with the spring DST switch
        ("2026-10-23 16:00", 2, "2026-10-26 09:00"),  # weekend with the autumn DST switch
        ("2026-03-02 12:00", 0, "2026-03-02 12:00"),  # nothing to add
    ],
)
def test_office_calendar_adds_business_hours_in_local_wall_time(start, hours, due):
    assert OFFICE.add(berlin(start), hours * HOUR) == berlin(due)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        ("2026-03-02 07:00", "2026-03-02 18:00", 8),
        ("2026-03-02 11:30", "2026-03-02 13:30", 1),
        ("2026-03-06 16:00", "2026-03-09 09:00", 2),
        ("2026-12-23 00:00", "2026-12-28 00:00", 8),
        ("2026-03-02 10:00", "2026-03-02 09:00", 0),
    ],
)
def test_business_seconds_between_two_instants(start, end, hours):
    assert OFFICE.business_seconds(berlin(start), berlin(end)) == hours * HOUR


def test_the_add_and_the_count_agree():
    start = berlin("2026-03-04 10:17")
    for seconds in (1, 59 * 60, 7 * HOUR, 41 * HOUR + 5):
        assert OFFICE.business_seconds(start, OFFICE.add(start, seconds)) == seconds


def test_always_open_counts_real_time_across_midnight_and_dst():
    assert ALWAYS.add(berlin("2026-03-02 23:30"), HOUR) == berlin("2026-03-03 00:30")
    # 02:00-03:00 does not exist on 29 March: one real hour after 01:30 is 03:30
    assert ALWAYS.add(berlin("2026-03-29 01:30"), HOUR) == berlin("2026-03-29 03:30")
    assert ALWAYS.business_seconds(berlin("2026-10-25 00:00"), berlin("2026-10-26 00:00")) == 25 * HOUR


def test_slots_to_midnight_join_the_next_day_without_a_gap():
    intervals = ROUND_THE_CLOCK.open_intervals(berlin("2026-03-02 23:00"), berlin("2026-03-03 01:00"))
    assert intervals == [(berlin("2026-03-02 23:00"), berlin("2026-03-03 01:00"))]
    assert NIGHTS.open_intervals(berlin("2026-03-06 21:00"), berlin("2026-03-07 07:00")) == [
        (berlin("2026-03-06 22:00"), berlin("2026-03-07 06:00"))
    ]


def test_night_slots_shrink_and_grow_with_dst():
    assert NIGHTS.business_seconds(berlin("2026-03-28 20:00"), berlin("2026-03-29 08:00")) == 7 * HOUR
    assert NIGHTS.business_seconds(berlin("2026-10-24 20:00"), berlin("2026-10-25 08:00")) == 9 * HOUR
    assert ROUND_THE_CLOCK.business_seconds(berlin("2026-03-29 00:00"), berlin("2026-03-30 00:00")) == 23 * HOUR


def test_is_open_respects_lunch_weekends_and_holidays():
    assert OFFICE.is_open(berlin("2026-03-02 08:00"))
    assert not OFFICE.is_open(berlin("2026-03-02 12:30"))
    assert not OFFICE.is_open(berlin("2026-03-07 10:00"))
    assert not OFFICE.is_open(berlin("2026-12-24 10:00"))


def test_a_business_day_is_the_average_open_day():
    assert OFFICE.day_length_seconds() == 8 * HOUR
    assert ALWAYS.day_length_seconds() == 24 * HOUR


ICAL = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261224\r\n"
    "DTEND;VALUE=DATE:20261227\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:2\r\n"
    "DTSTART;VALUE=DATE:2026\r\n 1231\r\nSUMMARY:New Year's Eve\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_ical_holidays_cover_multi_day_events_and_folded_lines():
    days = ical_holidays(ICAL)
    assert sorted(d.isoformat() for d in days) == ["2026-12-24", "2026-12-25", "2026-12-26", "2026-12-31"]


def test_calendar_reads_holidays_from_an_ical_file(tmp_path):
    path = tmp_path / "holidays.ics"
    path.write_text(ICAL)
    calendar = build_calendar("office", "Europe/Berlin", OFFICE_HOURS, holidays_ical=path)
    assert calendar.add(berlin("2026-12-23 16:00"), 4 * HOUR) == berlin("2026-12-28 11:00")


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"mon": ["8-12"]}, "not a slot"),
        ({"mon": ["12:00-08:00"]}, "ends before it starts"),
        ({"monday": ["08:00-12:00"]}, "unknown weekday"),
        ({"mon": ["08:00-25:00"]}, "not a valid time range"),
    ],
)
def test_bad_slots_are_named(hours, message):
    with pytest.raises(CalendarError, match=message):
        build_calendar("office", "Europe/Berlin", hours)


def test_unknown_time_zone_is_named():
    with pytest.raises(CalendarError, match="unknown time zone 'Mars/Olympus'"):
        build_calendar("office", "Mars/Olympus", OFFICE_HOURS)


def test_a_calendar_without_hours_cannot_reach_a_due_time():
    closed = build_calendar("closed", "UTC", {})
    with pytest.raises(CalendarError, match="no open hours"):
        closed.add(berlin("2026-03-02 09:00"), timedelta(hours=1).total_seconds())
