"""Opening hours for routing: open or not, and when it opens next."""

from datetime import UTC, datetime

import pytest

from services.notifier.business_hours import CalendarError, is_open, next_open
from shared.config import Calendar

OFFICE = Calendar(
    name="office",
    timezone="Europe/Berlin",
    hours={day: ["08:00-12:00", "13:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    holidays=["2026-12-24"],
)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 3, 2, 8, 0, tzinfo=UTC), True),  # Monday 09:00 in Berlin (CET)
        (datetime(2026, 3, 2, 11, 30, tzinfo=UTC), False),  # lunch break, 12:30 local
        (datetime(2026, 3, 2, 16, 0, tzinfo=UTC), False),  # 17:00 local: closed at the end
        (datetime(2026, 3, 7, 10, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 12, 24, 10, 0, tzinfo=UTC), False),  # holiday on a Thursday
        (datetime(2026, 7, 1, 6, 30, tzinfo=UTC), True),  # 08:30 local in summer time (CEST)
    ],
)
def test_is_open_follows_the_calendar_in_its_own_timezone(moment, expected):
    assert is_open(OFFICE, moment) is expected


@pytest.mark.parametrize(
    ("moment", "opens"),
    [
        (datetime(2026, 3, 2, 8, 0, tzinfo=UTC), datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),  # open: now
        (datetime(2026, 3, 2, 11, 30, tzinfo=UTC), datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),  # after lunch
        (
            datetime(2026, 3, 6, 18, 0, tzinfo=UTC),
            datetime(2026, 3, 9, 7, 0, tzinfo=UTC),
        ),  # Friday night -> Monday 08:00 CET
        (datetime(2026, 12, 23, 20, 0, tzinfo=UTC), datetime(2026, 12, 25, 7, 0, tzinfo=UTC)),  # skips the holiday
    ],
)
def test_next_open_is_the_next_opening_moment(moment, opens):
    assert next_open(OFFICE, moment) == opens


def test_no_calendar_and_24_7_are_always_open():
    night = datetime(2026, 3, 7, 3, 0, tzinfo=UTC)
    assert is_open(None, night) and is_open(Calendar(name="24/7"), night)
    assert next_open(None, night) == night


def test_a_calendar_without_hours_never_opens_and_says_so():
    with pytest.raises(ValueError, match="never opens"):
        next_open(Calendar(name="closed"), datetime(2026, 3, 7, 3, 0, tzinfo=UTC))


@pytest.mark.parametrize("bad", ["8-12", "12:00-08:00", "noon"])
def test_malformed_hours_are_rejected_with_the_expected_form(bad):
    broken = Calendar(name="broken", timezone="Europe/Berlin", hours={"mon": [bad]})
    with pytest.raises(CalendarError, match="broken"):
        is_open(broken, datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
