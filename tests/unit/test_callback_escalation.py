"""A callback waiting too long reaches the notifier like an SLA warning: a trigger that
routing rules match by type, notified once per callback."""

from __future__ import annotations

from datetime import timedelta

from services.notifier.rendering import render_escalation
from services.notifier.routing import check_rules, route_escalation
from services.notifier.state import CustomerFacts, View
from services.notifier.triggers import detect_triggers
from services.projector.callbacks.decide import OpenCallback, callback_id_for, overdue
from shared.config import Notifier, RoutingRule
from tests.callback_calls import CALLER, T0, rules

RULES = [RoutingRule(name="callbacks-lead", match={"type": "callback.overdue"}, email=["lead@shop.example"])]
WAITING = OpenCallback(callback_id=callback_id_for("cti", "c1"), phone=CALLER, missed_at=T0)


def overdue_event(now=T0 + timedelta(hours=3)):
    return overdue(WAITING, rules(escalate_after=7200), now)


def test_an_overdue_callback_is_a_trigger_that_a_rule_matches_by_type():
    [trigger] = detect_triggers(overdue_event(), View(keys=(f"phone:{CALLER}",)), Notifier())
    assert (trigger.type, trigger.contact_label, trigger.channel) == ("callback.overdue", CALLER, "phone")
    [notification] = route_escalation(trigger, RULES, {})
    assert (notification.target, notification.rule) == ("lead@shop.example", "callbacks-lead")


def test_an_overdue_callback_seen_again_owes_the_same_notification():
    first = route_escalation(detect_triggers(overdue_event(), View(), Notifier())[0], RULES, {})
    again = route_escalation(detect_triggers(overdue_event(T0 + timedelta(hours=8)), View(), Notifier())[0], RULES, {})
    assert [n.notification_id for n in first] == [n.notification_id for n in again]


def test_a_rule_may_match_callback_overdue():
    check_rules(RULES, {})  # raises ConfigError for an unknown trigger type


def test_the_escalation_mail_names_the_caller_and_the_customer():
    view = View(keys=(f"phone:{CALLER}",), customer=CustomerFacts("K-7", "Jonas Beispiel"))
    [notification] = route_escalation(detect_triggers(overdue_event(), view, Notifier())[0], RULES, {})
    message = render_escalation(notification, "touchpoint@shop.example", "https://hub.example", T0 + timedelta(hours=3))
    assert "Callback waiting too long" in message["Subject"] and "Jonas Beispiel" in message["Subject"]
    assert CALLER in message.get_body(("plain",)).get_content()
