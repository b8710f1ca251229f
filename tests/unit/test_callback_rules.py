"""`[callbacks]` in the configuration: defaults, the documented example, and errors that name the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from services.projector.callbacks.rules import rules_from_settings
from shared.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[2]


def settings_from(tmp_path: Path, toml: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "touchpoint.toml"
    path.write_text(toml)
    return load_settings(path)


def test_without_a_callbacks_section_a_missed_call_waits_fifteen_minutes_on_a_24_7_clock(tmp_path):
    rules = rules_from_settings(settings_from(tmp_path, ""))
    assert (rules.grace, rules.close_on, rules.calendar.name, rules.escalate_after) == (
        timedelta(minutes=15), "answered", "24/7", None)
    assert rules.open_on == {"missed", "busy", "rejected", "voicemail"}


def test_the_example_configuration_counts_office_hours_and_escalates_after_two_business_hours():
    rules = rules_from_settings(load_settings(REPO / "deploy" / "touchpoint.example.toml"))
    assert (rules.calendar.name, rules.escalate_after, rules.escalate_label) == ("office", 7200.0, "2h")


@pytest.mark.parametrize(("toml", "key"), [
    ('[callbacks]\ngrace = "soon"\n', "callbacks.grace"),
    ('[callbacks]\ncalendar = "night-shift"\n', "callbacks.calendar"),
    ('[callbacks]\nescalate_after = "0m"\n', "callbacks.escalate_after"),
])
def test_unusable_values_are_refused_at_start_naming_the_key(tmp_path, toml, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        rules_from_settings(settings_from(tmp_path, toml))


@pytest.mark.parametrize(("toml", "key"), [
    ('[callbacks]\ngrace_time = "5m"\n', "callbacks.grace_time"),
    ('[callbacks]\nclose_on = "never"\n', "callbacks.close_on"),
])
def test_unknown_keys_and_values_are_named(tmp_path, toml, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        settings_from(tmp_path, toml)
