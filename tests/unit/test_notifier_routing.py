"""Routing rules: which targets, which level, when, and never twice for the same thing."""

from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.routing import check_rules, notification_id_for, route_escalation
from services.notifier.state import ComplaintFacts, View
from services.notifier.triggers import detect_triggers
from shared.config import Calendar, ConfigError, Notifier, RoutingRule
from tests.notifier_events import T0, breached, opened, shipment, warning

COMPLAINT = ComplaintFacts(
    complaint_id="cmp-1",
    priority="high",
    segment="key_account",
    team="returns",
    origin="webform",
    subject="Wrong item delivered",
    customer_ref="K-1",
    customer_name="Erika Muster",
    customer_email="erika@example.org",
)
VIEW = View(keys=("email:erika@example.org",), complaint=COMPLAINT, open_complaint=COMPLAINT)
OFFICE = Calendar(
    name="office", timezone="UTC", hours={d: ["08:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
)
CALENDARS = {"office": OFFICE}

LADDER = [
    RoutingRule(name="warn-team", match={"type": "sla.warning"}, email=["team@shop.example"], level=1),
    RoutingRule(
        name="breach-lead",
        match={"type": "sla.breached"},
        email=["lead@shop.example"],
        webhook=["https://hooks.example/lead"],
        level=2,
    ),
    RoutingRule(
        name="breach-manager", match={"type": "sla.breached"}, email=["manager@shop.example"], level=3, delay="2h"
    ),
]


def trigger_of(event, view=VIEW):
    (trigger,) = detect_triggers(event, view, Notifier())
    return trigger


def targets(notifications):
    return sorted((n.level, n.target_kind, n.target) for n in notifications)


def test_warning_goes_to_the_team_breach_to_the_lead_and_later_the_manager():
    assert targets(route_escalation(trigger_of(warning()), LADDER, CALENDARS)) == [(1, "email", "team@shop.example")]
    breach = breached(at=T0 + timedelta(hours=4))
    routed = route_escalation(trigger_of(breach), LADDER, CALENDARS)
    assert targets(routed) == [
        (2, "email", "lead@shop.example"),
        (2, "webhook", "https://hooks.example/lead"),
        (3, "email", "manager@shop.example"),
    ]
    send_at = {n.level: n.send_at for n in routed}
    assert send_at[2] == breach.occurred_at
    assert send_at[3] == breach.occurred_at + timedelta(hours=2)


@pytest.mark.parametrize(
    ("match", "selected"),
    [
        ({"type": "sla.breached", "priority": "high"}, True),
        ({"type": "sla.breached", "priority": ["urgent", "high"]}, True),
        ({"type": "sla.breached", "priority": "low"}, False),
        ({"type": "sla.breached", "segment": "key_account"}, True),
        ({"type": "sla.breached", "segment": "consumer"}, False),
        ({"type": "sla.breached", "channel": "webform"}, True),
        ({"type": "sla.breached", "channel": "email"}, False),
        ({"type": "sla.breached", "team": "returns"}, True),
        ({"type": "sla.breached", "team": "billing"}, False),
        ({"type": "sla.breached", "kind": "first_response"}, True),
        ({"type": "sla.breached", "kind": "resolution"}, False),
        ({"type": "sla.warning"}, False),
        ({}, True),
    ],
)
def test_rules_match_on_type_priority_segment_channel_team_and_clock(match, selected):
    rule = RoutingRule(name="r", match=match, email=["x@shop.example"])
    assert bool(route_escalation(trigger_of(breached()), [rule], CALENDARS)) is selected


def test_the_same_breach_twice_or_named_by_two_rules_is_one_notification_per_target_and_level():
    rules = [
        RoutingRule(name="a", match={"type": "sla.breached"}, email=["lead@shop.example"], level=2),
        RoutingRule(name="b", match={"priority": "high"}, email=["LEAD@shop.example"], level=2),
    ]
    first = route_escalation(trigger_of(breached()), rules, CALENDARS)
    replayed = route_escalation(trigger_of(breached()), rules, CALENDARS)
    assert len(first) == 1
    assert [n.notification_id for n in first] == [n.notification_id for n in replayed]


def test_notification_ids_differ_by_complaint_kind_level_and_target():
    base = notification_id_for("complaint:cmp-1:sla.breached:first_response", 2, "email", "lead@shop.example")
    others = {
        notification_id_for("complaint:cmp-2:sla.breached:first_response", 2, "email", "lead@shop.example"),
        notification_id_for("complaint:cmp-1:sla.breached:resolution", 2, "email", "lead@shop.example"),
        notification_id_for("complaint:cmp-1:sla.warning:first_response", 2, "email", "lead@shop.example"),
        notification_id_for("complaint:cmp-1:sla.breached:first_response", 3, "email", "lead@shop.example"),
        notification_id_for("complaint:cmp-1:sla.breached:first_response", 2, "email", "team@shop.example"),
    }
    assert base not in others and len(others) == 5


SATURDAY_NIGHT = datetime(2026, 3, 7, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("outside_hours", "expected_targets", "send_at", "held"),
    [
        (
            "send",
            [(2, "email", "lead@shop.example"), (2, "webhook", "https://hooks.example/lead")],
            SATURDAY_NIGHT,
            False,
        ),
        ("on_call", [(2, "email", "oncall@shop.example")], SATURDAY_NIGHT, False),
        (
            "hold",
            [(2, "email", "lead@shop.example"), (2, "webhook", "https://hooks.example/lead")],
            datetime(2026, 3, 9, 8, 0, tzinfo=UTC),
            True,
        ),
    ],
)
def test_outside_business_hours_a_rule_sends_pages_on_call_or_holds(outside_hours, expected_targets, send_at, held):
    rule = RoutingRule(
        name="breach-lead",
        match={"type": "sla.breached"},
        email=["lead@shop.example"],
        webhook=["https://hooks.example/lead"],
        level=2,
        calendar="office",
        outside_hours=outside_hours,
        on_call_email=["oncall@shop.example"],
    )
    routed = route_escalation(trigger_of(breached(at=SATURDAY_NIGHT)), [rule], CALENDARS)
    assert targets(routed) == expected_targets
    assert {n.send_at for n in routed} == {send_at}
    assert {n.held for n in routed} == {held}
    assert {n.on_call for n in routed} == {outside_hours == "on_call"}


def test_within_business_hours_every_rule_sends_to_its_own_targets():
    rule = RoutingRule(
        match={"type": "sla.breached"},
        email=["lead@shop.example"],
        calendar="office",
        outside_hours="on_call",
        on_call_email=["oncall@shop.example"],
    )
    monday_morning = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert targets(route_escalation(trigger_of(breached(at=monday_morning)), [rule], CALENDARS)) == [
        (1, "email", "lead@shop.example")
    ]


def test_mail_never_goes_to_the_customer_unless_a_rule_names_the_customer():
    quiet = RoutingRule(match={"type": "sla.breached"}, email=["lead@shop.example"])
    assert "erika@example.org" not in [n.target for n in route_escalation(trigger_of(breached()), [quiet], CALENDARS)]
    telling = RoutingRule(match={"type": "sla.breached"}, email=["customer"], language="de")
    assert targets(route_escalation(trigger_of(breached()), [telling], CALENDARS)) == [
        (1, "email", "erika@example.org")
    ]


def test_key_account_complaints_reach_the_account_team():
    rule = RoutingRule(match={"type": "complaint.opened", "segment": "key_account"}, email=["kam@shop.example"])
    key_account = View(keys=("email:erika@example.org",), customer=None)
    (trigger,) = detect_triggers(opened(segment="key_account"), key_account, Notifier())
    (consumer,) = detect_triggers(opened(complaint_id="cmp-2", segment=None), key_account, Notifier())
    assert targets(route_escalation(trigger, [rule], CALENDARS)) == [(1, "email", "kam@shop.example")]
    assert route_escalation(consumer, [rule], CALENDARS) == []


def test_a_shipment_exception_routes_with_the_open_complaint_facts():
    rule = RoutingRule(match={"type": "shipment.exception", "team": "returns"}, webhook=["https://hooks.example/r"])
    routed = route_escalation(trigger_of(shipment()), [rule], CALENDARS)
    assert [n.trigger.complaint.complaint_id for n in routed] == ["cmp-1"]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (RoutingRule(match={"colour": "red"}, email=["a@b.example"]), "match.colour: unknown key"),
        (RoutingRule(match={"type": "sla.exploded"}, email=["a@b.example"]), "match.type 'sla.exploded'"),
        (RoutingRule(match={"type": "sla.breached"}), "no targets"),
        (RoutingRule(email=["a@b.example"], calendar="moon"), "calendar 'moon'"),
        (RoutingRule(email=["a@b.example"], outside_hours="hold"), "needs a calendar"),
        (RoutingRule(email=["a@b.example"], calendar="office", outside_hours="on_call"), "needs on_call_email"),
        (RoutingRule(email=["a@b.example"], delay="soon"), "delay"),
        (RoutingRule(webhook=["ftp://x"]), "not an http(s) URL"),
    ],
)
def test_unusable_rules_are_refused_at_start_naming_the_rule_and_the_problem(rule, problem):
    with pytest.raises(ConfigError, match="routing.rules\\[0\\]") as caught:
        check_rules([rule], CALENDARS)
    assert problem in str(caught.value)


def test_the_example_ladder_is_a_valid_configuration():
    check_rules(LADDER, CALENDARS)


def test_the_documented_configuration_is_valid(tmp_path):
    import services.notifier
    from services.notifier.runtime import check_settings
    from shared.config import Settings, read_config_file

    example = services.notifier.__doc__.split("```toml\n")[1].split("```")[0]
    path = tmp_path / "touchpoint.toml"
    path.write_text(example.replace('password_file = "/run/secrets/smtp"', 'password = "a-long-secret"'))
    file = read_config_file(path)
    check_settings(Settings(file=file))
    assert [rule.level for rule in file.routing.rules] == [1, 2, 3, 1, 1]  # the callback rule is the fourth
