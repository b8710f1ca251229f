"""Customer master data from CSV: good rows become events, bad rows are named by line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.projector.customers_csv import BadFile, parse_customers

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_good_rows_become_customer_registered_events_with_normalised_identifiers():
    text = (
        "customer_ref,name,email,phone,order_refs,segment,vip\n"
        'K-1,Erika Muster,"Erika@Example.ORG; erika.work@example.com",+49 151 1234 5678,A-1;A-2,gold,yes\n'
    )
    (event,), problems = parse_customers(text, NOW)
    assert problems == []
    p = event.payload
    assert (p.customer_ref, p.name, p.emails, p.phones, p.order_refs, p.segment, p.attributes) == (
        "K-1", "Erika Muster", ("erika.work@example.com", "erika@example.org"), ("+4915112345678",),
        ("A-1", "A-2"), "gold", {"vip": "yes"},
    )
    assert event.contact.customer_ref == "K-1"


def test_bad_rows_are_reported_with_their_line_numbers_and_skipped():
    text = (
        "customer_ref,name,email,phone\n"
        "K-1,Erika,erika@example.org,+4915112345678\n"
        ",Nobody,x@example.org,\n"
        '"K-3","Multi\nline",not-an-address,\n'
        "K-4,Max,max@example.org,12\n"
        "K-5,Eva,eva@example.org,+4930123456\n"
    )
    events, problems = parse_customers(text, NOW)
    assert [e.payload.customer_ref for e in events] == ["K-1", "K-5"]
    assert [str(p) for p in problems] == [
        "line 3: customer_ref and name must not be empty",
        "line 4: email 'not-an-address' is not an address",
        "line 6: phone '12' is not a phone number (write it with +country code or set TOUCHPOINT_DEFAULT_REGION)",
    ]


def test_national_numbers_use_the_default_region():
    (event,), _ = parse_customers("customer_ref,name,phone\nK-1,Erika,030 1234567\n", NOW, default_region="DE")
    assert event.payload.phones == ("+49301234567",)


def test_importing_the_same_row_again_gives_the_same_event_id():
    text = "customer_ref,name,email\nK-1,Erika,erika@example.org\n"
    assert parse_customers(text, NOW)[0][0].event_id == parse_customers(text, datetime.now(UTC))[0][0].event_id


def test_a_file_without_the_required_columns_is_refused():
    with pytest.raises(BadFile, match="customer_ref"):
        parse_customers("name,email\nErika,erika@example.org\n", NOW)


def test_a_quoted_line_break_or_control_character_in_a_cell_is_cleaned():
    text = 'customer_ref,name,email,note\nK-1,"Erika\r\nMuster\x00","erika@example.org","ruft\x07 oft an"\nK-2,\x00\x01,max@example.org,\n'
    (event,), problems = parse_customers(text, NOW)
    assert event.payload.name == "Erika Muster"
    assert event.payload.attributes == {"note": "ruft oft an"}
    assert [str(p) for p in problems] == ["line 4: customer_ref and name must not be empty"]


def test_an_overlong_name_is_cut_and_the_cut_recorded():
    (event,), _ = parse_customers(f"customer_ref,name\nK-1,{'E' * 500}\n", NOW)
    assert len(event.payload.name) == 200 and event.truncated == ("payload.name",)


def test_a_cell_over_the_csv_size_limit_refuses_the_file_naming_its_line():
    # read on, csv would resume in the middle of that cell and make customers of its rest
    text = f'customer_ref,name,note\nK-1,Erika,\nK-2,Max,"{"x" * 200_000}\nK-3,Nobody"\nK-4,Anna,\n'
    with pytest.raises(BadFile, match="^line 3: field larger than field limit"):
        parse_customers(text, NOW)
