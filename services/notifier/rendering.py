"""What people read: the escalation mail (plain text and HTML, German or English) and the
webhook body (Slack/Teams-compatible `{"text": ...}` plus structured fields). Pure: the
notification, the sender, the public URL and the moment of sending in, a message out.

The Message-ID is derived from the notification id, so a message can always be traced back
to its notification (and a relay's log searched for it). Mail is marked as automatic so that
autoresponders stay quiet."""

from __future__ import annotations

import html
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from events.text import clean_text
from services.notifier.routing import Notification
from services.notifier.triggers import Trigger

TITLES = {
    "en": {
        "sla.warning": "SLA warning",
        "sla.breached": "SLA breached",
        "complaint.opened": "New complaint",
        "shipment.exception": "Shipment problem on an open complaint",
        "call.missed": "Missed call on an open complaint",
        "contacts.unanswered": "Customer waiting without a response",
        "callback.overdue": "Callback waiting too long",
    },
    "de": {
        "sla.warning": "SLA-Warnung",
        "sla.breached": "SLA überschritten",
        "complaint.opened": "Neue Reklamation",
        "shipment.exception": "Sendungsproblem bei offener Reklamation",
        "call.missed": "Verpasster Anruf bei offener Reklamation",
        "contacts.unanswered": "Kunde wartet auf eine Antwort",
        "callback.overdue": "Rückruf wartet zu lange",
    },
}

LABELS = {
    "en": {
        "who": "For",
        "what": "What",
        "customer": "Customer",
        "complaint": "Complaint",
        "priority": "Priority",
        "due": "Due",
        "breached": "Breached at",
        "occurred": "When",
        "link": "Customer page",
        "level": "level",
        "rule": "rule",
        "unknown": "unknown",
        "on_call": "on call (outside office hours)",
        "first_response": "first response",
        "resolution": "resolution",
        "footer": "Sent automatically by Touchpoint. Please do not reply to this message.",
    },
    "de": {
        "who": "Für",
        "what": "Was",
        "customer": "Kunde",
        "complaint": "Reklamation",
        "priority": "Priorität",
        "due": "Fällig",
        "breached": "Überschritten um",
        "occurred": "Wann",
        "link": "Kundenseite",
        "level": "Stufe",
        "rule": "Regel",
        "unknown": "unbekannt",
        "on_call": "Bereitschaft (außerhalb der Bürozeiten)",
        "first_response": "Erstreaktion",
        "resolution": "Lösung",
        "footer": "Automatisch von Touchpoint gesendet. Bitte nicht auf diese Nachricht antworten.",
    },
}


def message_id_for(notification_id: str, sender: str) -> str:
    domain = sender.rpartition("@")[2] or "touchpoint.invalid"
    return f"<notification.{notification_id}@{domain}>"


def customer_link(trigger: Trigger, public_url: str | None) -> str | None:
    if not public_url:
        return None
    base = public_url.rstrip("/")
    complaint = trigger.complaint
    customer = (complaint.customer_id if complaint else None) or trigger.customer_ref
    if customer:
        return f"{base}/customers/{customer}"
    return f"{base}/callbacks" if trigger.type.startswith("callback.") else f"{base}/complaints"


def _when(moment: datetime | None, timezone: str) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def facts_lines(notification: Notification, public_url: str | None) -> tuple[str, list[tuple[str, str]]]:
    """The title and the labelled lines every rendering shows, in the notification's language."""
    trigger, tz = notification.trigger, notification.timezone
    labels = LABELS[notification.language]
    title = TITLES[notification.language].get(trigger.type, trigger.type)
    complaint = trigger.complaint
    if trigger.clock_kind:
        title = f"{title} ({labels[trigger.clock_kind]})"
    who = f"{labels['level']} {notification.level}, {labels['rule']} {notification.rule}"
    if complaint and complaint.team:
        who += f", {complaint.team}"
    if notification.on_call:
        who += f" — {labels['on_call']}"
    customer = trigger.customer_name or trigger.customer_ref or trigger.contact_label or labels["unknown"]
    extras = [part for part in (trigger.customer_ref, trigger.customer_email) if part and part != customer]
    lines = [(labels["who"], who), (labels["what"], f"{title}: {trigger.detail}" if trigger.detail else title)]
    lines.append((labels["customer"], f"{customer} ({', '.join(extras)})" if extras else customer))
    if complaint:
        lines.append((labels["complaint"], complaint.complaint_id))
        lines.append((labels["priority"], complaint.priority))
    if trigger.due_at:
        lines.append((labels["due"], _when(trigger.due_at, tz) or ""))
    moment_label = labels["breached"] if trigger.type == "sla.breached" else labels["occurred"]
    lines.append((moment_label, _when(trigger.occurred_at, tz) or ""))
    link = customer_link(trigger, public_url)
    if link:
        lines.append((labels["link"], link))
    return title, lines


def subject_for(notification: Notification, title: str) -> str:
    trigger = notification.trigger
    about = trigger.customer_name or trigger.customer_ref or trigger.contact_label
    complaint = trigger.complaint
    about_parts = [part for part in (complaint.complaint_id if complaint else None, about) if part]
    return f"[Touchpoint] {title}: {', '.join(about_parts)}" if about_parts else f"[Touchpoint] {title}"


def header_value(text: str) -> str:
    """A header value that cannot break the header block: one line, no control characters
    (a customer name from a quoted CSV cell may hold a line break); the email package folds it
    when the message is written."""
    return clean_text(text, "subject")


def render_escalation(
    notification: Notification, sender: str, public_url: str | None, sent_at: datetime
) -> EmailMessage:
    title, lines = facts_lines(notification, public_url)
    footer = LABELS[notification.language]["footer"]
    message = EmailMessage()
    message["From"] = header_value(sender)
    message["To"] = header_value(notification.target)
    message["Subject"] = header_value(subject_for(notification, title))
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id_for(notification.notification_id, sender)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Touchpoint-Notification"] = header_value(notification.notification_id)
    text = [title, "", *(f"{label}: {value}" for label, value in lines), "", "-- ", footer]
    message.set_content("\n".join(text) + "\n")
    message.add_alternative(_html(title, lines, footer), subtype="html")
    return message


def _html(title: str, lines: list[tuple[str, str]], footer: str) -> str:
    rows = []
    for label, value in lines:
        shown = html.escape(value)
        if value.startswith(("http://", "https://")):
            shown = f'<a href="{html.escape(value, quote=True)}">{shown}</a>'
        rows.append(f'<tr><th align="left">{html.escape(label)}</th><td>{shown}</td></tr>')
    return (
        "<!doctype html><html><body>"
        f"<h2>{html.escape(title)}</h2><table>{''.join(rows)}</table>"
        f"<p><small>{html.escape(footer)}</small></p></body></html>\n"
    )


def render_webhook(notification: Notification, public_url: str | None) -> dict[str, object]:
    """Slack and Teams show `text`; the other fields are for receivers that read JSON."""
    title, lines = facts_lines(notification, public_url)
    trigger = notification.trigger
    text = f"*{title}*\n" + "\n".join(f"{label}: {value}" for label, value in lines[1:])
    return {
        "text": text,
        "notification_id": notification.notification_id,
        "trigger_type": trigger.type,
        "trigger_event_id": trigger.event_id,
        "level": notification.level,
        "rule": notification.rule,
        "complaint_id": trigger.complaint.complaint_id if trigger.complaint else None,
        "customer_ref": trigger.customer_ref,
        "clock": trigger.clock_kind,
        "due_at": trigger.due_at.isoformat() if trigger.due_at else None,
        "occurred_at": trigger.occurred_at.isoformat(),
        "link": customer_link(trigger, public_url),
    }
