"""Retention by period, with a fake clock: the class an event type belongs to (first pattern in
config order), the period its key is made for, and when a class of a year expires (end of the
calendar year plus the duration, HGB §257 / AO §147)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.config import ConfigError, FileConfig, Privacy
from shared.privacy.retention import (
    Duration, Period, RetentionRules, expired, expires_at, expiries, parse_duration,
)

RULES = RetentionRules.from_config({"email.*": "6y", "call.*": "6y", "webform.*": "2y"})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("text", "duration"), [("6y", Duration(6, "y")), ("18m", Duration(18, "m")),
                                                 ("90d", Duration(90, "d"))])
def test_durations_are_years_months_or_days(text, duration):
    assert parse_duration(text) == duration


@pytest.mark.parametrize("text", ["6", "6 years", "0y", "-1y", "6w", "", "1.5y"])
def test_other_durations_are_refused_with_the_expected_form(text):
    with pytest.raises(ValueError, match="6y, 18m, 90d"):
        parse_duration(text)


def test_six_years_of_2020_expire_at_the_end_of_2026():
    assert expires_at(2020, Duration(6, "y")) == at("2027-01-01T00:00:00")


def test_months_and_days_count_from_the_end_of_the_year():
    assert expires_at(2020, Duration(18, "m")) == at("2022-07-01T00:00:00")
    assert expires_at(2020, Duration(90, "d")) == at("2021-04-01T00:00:00")
    assert expires_at(2020, Duration(11, "m")) == at("2021-12-01T00:00:00")


def test_the_first_matching_pattern_in_config_order_is_the_class():
    rules = RetentionRules.from_config({"email.sent": "10y", "email.*": "6y"})
    assert rules.class_of("email.sent") == "email.sent"
    assert rules.class_of("email.received") == "email.*"
    assert rules.types_of("email.*", ["email.sent", "email.received", "call.ended"]) == ("email.received",)


def test_a_key_period_is_the_year_and_the_class_and_year_only_without_a_rule():
    assert RULES.period_of("email.received", 2020) == "2020|email.*"
    assert RULES.period_of("shipment.status_changed", 2020) == "2020"
    assert Period.parse("2020|email.*") == Period(2020, "email.*")
    assert Period.parse("2020") == Period(2020, None)


def test_year_only_periods_and_classes_no_longer_configured_never_expire():
    assert RULES.expiry_of("2001") is None
    assert RULES.expiry_of("2001|fax.*") is None


def test_only_classes_whose_end_has_passed_are_due():
    periods = {"2020|email.*": 3, "2021|email.*": 2, "2025|webform.*": 1, "2020": 9}
    due = expired(periods, RULES, at("2027-01-01T00:00:00"))
    assert [(e.retention_class, e.year, e.keys) for e in due] == [("email.*", 2020, 3)]
    assert expired(periods, RULES, at("2026-12-31T23:59:59")) == []
    later = expired(periods, RULES, at("2028-06-01T00:00:00"))
    assert [(e.retention_class, e.year) for e in later] == [("email.*", 2020), ("email.*", 2021), ("webform.*", 2025)]


def test_upcoming_expiries_are_listed_soonest_first():
    periods = {"2025|email.*": 1, "2025|webform.*": 4}
    assert [(e.period, e.expires_at) for e in expiries(periods, RULES)] == [
        ("2025|webform.*", at("2028-01-01T00:00:00")), ("2025|email.*", at("2032-01-01T00:00:00"))]


def test_a_hold_lasts_until_the_class_expires():
    assert RULES.held("2025|email.*", at("2026-03-01T00:00:00")) == at("2032-01-01T00:00:00")
    assert RULES.held("2019|email.*", at("2026-03-01T00:00:00")) is None
    assert RULES.held("2025", at("2026-03-01T00:00:00")) is None


def test_a_bad_duration_in_the_config_is_refused_naming_the_key():
    with pytest.raises(ValueError, match=r"'webform\.\*'.*'2 years' is not a duration"):
        Privacy(retention={"email.*": "6y", "webform.*": "2 years"})
    with pytest.raises(ValueError, match=r"'Email/\*'.*not an event type pattern"):
        FileConfig.model_validate({"privacy": {"retention": {"Email/*": "6y"}}})


def test_the_contract_example_is_accepted():
    privacy = Privacy(retention={"email.*": "6y", "call.*": "6y", "webform.*": "2y"})
    assert RetentionRules.from_config(privacy.retention).class_of("call.ended") == "call.*"


def test_settings_with_a_bad_retention_refuse_to_load(tmp_path, monkeypatch):
    from shared.config import load_settings

    config = tmp_path / "touchpoint.toml"
    config.write_text('[privacy.retention]\n"email.*" = "six years"\n')
    monkeypatch.setenv("TOUCHPOINT_CONFIG", str(config))
    with pytest.raises(ConfigError, match="email"):
        load_settings()


# ---- what an erasure does with a subject's keys, and the schedule --------------------------


def test_an_erasure_destroys_what_no_hold_keeps_and_restricts_the_rest_until_its_hold_ends():
    from services.projector.privacy.restriction import decide

    keys = [("contact:a", "2019|email.*"), ("contact:a", "2024|email.*"), ("contact:a", "2024|webform.*"),
            ("customer:k", "2026")]
    decision = decide(keys, RULES, at("2026-03-01T00:00:00"))
    assert decision.destroy == (("contact:a", "2019|email.*"), ("customer:k", "2026"))
    assert decision.hold == ((("contact:a", "2024|email.*"), at("2031-01-01T00:00:00")),
                             (("contact:a", "2024|webform.*"), at("2027-01-01T00:00:00")))
    restricted = decision.restricted(RULES)
    assert [(r.retention_class, r.year, r.until) for r in restricted] == [
        ("email.*", 2024, at("2031-01-01T00:00:00")), ("webform.*", 2024, at("2027-01-01T00:00:00"))]
    assert restricted[0].types == ("email.received", "email.sent")


def test_without_retention_rules_an_erasure_destroys_every_key():
    from services.projector.privacy.restriction import decide

    decision = decide([("contact:a", "2024")], RetentionRules(), at("2026-03-01T00:00:00"))
    assert decision.destroy == (("contact:a", "2024"),) and decision.hold == ()


def test_the_expiry_event_names_its_class_year_and_types_and_its_id_is_fixed_by_class_and_year():
    from services.projector.privacy.retention_job import expired_event

    [due] = expired({"2019|email.*": 2}, RULES, at("2026-01-01T00:00:00"))
    first = expired_event(due, RULES, at("2026-01-01T00:00:00"))
    later = expired_event(due, RULES, at("2026-05-01T00:00:00"))
    assert first.event_id == later.event_id and first.type == "privacy.expired"
    assert (first.payload.retention_class, first.payload.year, first.payload.types) == (
        "email.*", 2019, ("email.received", "email.sent"))


async def test_the_job_runs_at_start_and_then_at_each_interval_with_the_injected_clock():
    import asyncio

    from services.projector.privacy.retention_job import every_hour

    stop, seen = asyncio.Event(), []
    ticks = iter([at("2027-01-01T00:00:00"), at("2027-01-01T01:00:00"), at("2027-01-01T02:00:00")])

    async def run(now: datetime) -> None:
        seen.append(now)
        if len(seen) == 3:
            stop.set()

    await asyncio.wait_for(every_hour(run, stop, clock=lambda: next(ticks), interval=0.01), timeout=5)
    assert seen == [at("2027-01-01T00:00:00"), at("2027-01-01T01:00:00"), at("2027-01-01T02:00:00")]


async def test_a_failed_run_is_tried_again_at_the_next_tick():
    import asyncio

    from shared.kafka.errors import KafkaUnavailable
    from services.projector.privacy.retention_job import every_hour

    stop, calls = asyncio.Event(), []

    async def run(now: datetime) -> None:
        calls.append(now)
        if len(calls) == 1:
            raise KafkaUnavailable("broker away")
        stop.set()

    await asyncio.wait_for(every_hour(run, stop, clock=lambda: at("2027-01-01T00:00:00"), interval=0.01), timeout=5)
    assert len(calls) == 2


def test_events_are_sealed_under_the_key_of_their_year_and_class_and_unmatched_types_under_the_year():
    from events.codec import decode, encode, use_protection
    from shared.privacy.master import MasterKey
    from shared.privacy.sealing import FieldSealer
    from shared.privacy.store import InMemoryKeyStore
    from tests import timeline_factories as f

    store = InMemoryKeyStore()
    previous = use_protection(FieldSealer(MasterKey.from_bytes(bytes(range(32))), store, RULES))
    try:
        mail = f.mail(1, "erika@example.org", 0)
        old = mail.model_copy(update={"occurred_at": mail.occurred_at.replace(year=2020)})
        wires = [encode(old), encode(f.parcel("TRK1", "delivered", 0, email="erika@example.org"))]
        assert sorted(period for _, period, _ in store.keys.values()) == ["2020|email.*", "2026"]
        assert decode(wires[0]) == old
    finally:
        use_protection(previous)


def test_events_sealed_under_year_only_keys_before_retention_was_configured_still_open():
    from events.codec import decode, encode, use_protection
    from shared.privacy.master import MasterKey
    from shared.privacy.sealing import FieldSealer
    from shared.privacy.store import InMemoryKeyStore
    from tests import timeline_factories as f

    master, store = MasterKey.from_bytes(bytes(range(32))), InMemoryKeyStore()
    mail = f.mail(1, "erika@example.org", 0)
    previous = use_protection(FieldSealer(master, store))
    try:
        wire = encode(mail)
        use_protection(FieldSealer(master, store, RULES))
        assert decode(wire) == mail
        encode(f.mail(2, "erika@example.org", 0))
        assert sorted(period for _, period, _ in store.keys.values()) == ["2026", "2026|email.*"]
    finally:
        use_protection(previous)
