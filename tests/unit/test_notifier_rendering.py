"""The escalation mail and webhook body: pure renderings of a notification."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default

import pytest

from services.notifier.rendering import message_id_for, render_escalation, render_webhook
from services.notifier.routing import route_escalation
from services.notifier.state import ComplaintFacts, View
from services.notifier.triggers import detect_triggers
from shared.config import Notifier, RoutingRule
from tests.notifier_events import T0, breached, missed_call, warning

COMPLAINT = ComplaintFacts(
    complaint_id="cmp-7",
    priority="high",
    team="returns",
    subject="Broken <b>lamp</b>",
    customer_ref="K-1",
    customer_id="cust-42",
    customer_name="Erika Muster",
    customer_email="erika@example.org",
)
SENT_AT = datetime(2026, 3, 2, 13, 16, tzinfo=UTC)
OPEN_COMPLAINT = View(complaint=COMPLAINT, open_complaint=COMPLAINT)


def notification(event, language="en", view=OPEN_COMPLAINT, **rule):
    (trigger,) = detect_triggers(event, view, Notifier())
    rule = RoutingRule(name="breach-lead", email=["lead@shop.example"], level=2, language=language, **rule)
    (routed,) = route_escalation(trigger, [rule], {}, "Europe/Berlin")
    return routed


def render(event, language="en", public_url="https://hub.shop.example/"):
    return render_escalation(notification(event, language), "touchpoint@shop.example", public_url, SENT_AT)


def bodies(message):
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_mail_is_marked_automatic_and_identified_by_the_notification():
    n = notification(breached(complaint_id="cmp-7"))
    message = render_escalation(n, "touchpoint@shop.example", None, SENT_AT)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["Message-ID"] == f"<notification.{n.notification_id}@shop.example>"
    assert message["Message-ID"] == message_id_for(n.notification_id, "touchpoint@shop.example")
    assert (message["From"], message["To"]) == ("touchpoint@shop.example", "lead@shop.example")


def test_english_breach_mail_says_who_what_which_customer_when_and_links_the_customer():
    message = render(breached(complaint_id="cmp-7", at=T0 + timedelta(hours=4)))
    text, html = bodies(message)
    assert message["Subject"] == "[Touchpoint] SLA breached (first response): cmp-7, Erika Muster"
    for expected in (
        "For: level 2, rule breach-lead, returns",
        "What: SLA breached (first response): Broken <b>lamp</b>",
        "Customer: Erika Muster (K-1, erika@example.org)",
        "Priority: high",
        "Due: 2026-03-02 14:15 CET",  # shown in the calendar's zone
        "Breached at: 2026-03-02 14:15 CET",
        "Customer page: https://hub.shop.example/customers/cust-42",
    ):
        assert expected in text
    assert '<a href="https://hub.shop.example/customers/cust-42">' in html
    assert "Broken &lt;b&gt;lamp&lt;/b&gt;" in html and "<b>lamp</b>" not in html


def test_german_warning_mail():
    message = render(warning(complaint_id="cmp-7"), language="de")
    text, html = bodies(message)
    assert message["Subject"].startswith("[Touchpoint] SLA-Warnung (Erstreaktion): cmp-7")
    assert "Kunde: Erika Muster" in text and "Fällig: 2026-03-02 14:15 CET" in text
    assert "Kundenseite: https://hub.shop.example/customers/cust-42" in text
    assert "Bitte nicht auf diese Nachricht antworten" in html


def test_without_a_public_url_there_is_no_link():
    text, _ = bodies(render(breached(complaint_id="cmp-7"), public_url=None))
    assert "Customer page" not in text


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_trigger_type_has_a_title_in_both_languages(language):
    from services.notifier.rendering import TITLES
    from services.notifier.triggers import TRIGGER_TYPES

    assert set(TITLES[language]) == set(TRIGGER_TYPES)


def test_missed_call_mail_names_the_caller_and_complaint():
    n = notification(missed_call(), view=View(keys=("phone:+4930123456",), open_complaint=COMPLAINT))
    text, _ = bodies(render_escalation(n, "touchpoint@shop.example", None, SENT_AT))
    assert "What: Missed call on an open complaint: missed call" in text
    assert "Complaint: cmp-7" in text


def test_webhook_body_is_slack_and_teams_compatible_with_structured_fields():
    n = notification(breached(complaint_id="cmp-7"))
    body = render_webhook(n, "https://hub.shop.example")
    assert body["text"].startswith("*SLA breached (first response)*\n")
    assert "Customer: Erika Muster" in body["text"]
    assert body["notification_id"] == n.notification_id
    assert (body["trigger_type"], body["level"], body["complaint_id"], body["clock"]) == (
        "sla.breached",
        2,
        "cmp-7",
        "first_response",
    )
    assert body["link"] == "https://hub.shop.example/customers/cust-42"


def test_a_line_break_in_a_customer_name_never_breaks_the_mail_header():
    facts = replace(COMPLAINT, customer_name="Erika\r\nBcc: everyone@shop.example\n\nHello")
    n = notification(breached(complaint_id="cmp-7"), view=View(complaint=facts, open_complaint=facts))
    message = render_escalation(n, "touchpoint@shop.example", None, SENT_AT)
    assert message["Subject"] == "[Touchpoint] SLA breached (first response): cmp-7, Erika Bcc: everyone@shop.example Hello"
    assert message["Bcc"] is None
    reparsed = message_from_bytes(message.as_bytes(), policy=default)
    assert reparsed["Bcc"] is None and reparsed["Subject"] == message["Subject"]


def test_a_long_subject_is_folded_when_written():
    facts = replace(COMPLAINT, customer_name="Sehr " * 60 + "Lang")
    n = notification(breached(complaint_id="cmp-7"), view=View(complaint=facts, open_complaint=facts))
    written = render_escalation(n, "touchpoint@shop.example", None, SENT_AT).as_bytes()
    assert all(len(line) <= 78 for line in written.split(b"\n\n")[0].splitlines())
