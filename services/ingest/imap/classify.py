"""Is a mail written by a person, an automatic reply, or a bounce? Classified mail never opens
complaints or triggers notifications, which is what prevents auto-reply loops.

Every verdict lists its reasons (the headers or patterns that led to it) for the agent UI."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage

from services.ingest.imap.headers import first_message_id, has_header, header_text, raw_values

_DAEMON_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)$")
_NOREPLY_SENDERS = re.compile(r"^(no-?reply|do-?not-?reply|donotreply|noreply-.*|.*-noreply|bounces?(\+.*)?|auto-?reply)$")
_AUTO_PRECEDENCE = {"bulk", "auto_reply", "junk", "list"}
_BOUNCE_SUBJECTS = re.compile(
    r"^(undeliver(ed|able)|delivery status notification|mail delivery (failed|failure|subsystem)"
    r"|returned mail|failure notice|unzustellbar|nicht zustellbar|non remis|delivery failure)",
    re.IGNORECASE,
)
_AUTO_SUBJECTS = re.compile(
    r"^(auto(matic)?[ -]?reply|automatische antwort|out of (the )?office|abwesenheit|auto:|réponse automatique)",
    re.IGNORECASE,
)
_FINAL_RECIPIENT = re.compile(r"^(?:final|original)-recipient:\s*(?:rfc822;)?\s*<?([^\s<>;]+@[^\s<>;]+)>?", re.I | re.M)
_QUOTED_MSGID = re.compile(r"^message-id:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Verdict:
    classification: str  # normal | auto_reply | bounce
    reasons: tuple[str, ...] = ()
    bounced_message_id: str | None = None
    bounced_recipients: tuple[str, ...] = ()


def classify(msg: EmailMessage, sender: str | None, subject: str) -> Verdict:
    local_part = (sender or "").partition("@")[0]
    bounce = _bounce_reasons(msg, local_part, subject)
    if bounce:
        original, recipients = _bounced_original(msg)
        return Verdict("bounce", tuple(bounce), original, recipients)
    auto = _auto_reply_reasons(msg, local_part, subject)
    if auto:
        return Verdict("auto_reply", tuple(auto))
    return Verdict("normal")


def _null_return_path(msg: EmailMessage) -> bool:
    return any(value.strip() in ("<>", "") for value in raw_values(msg, "Return-Path"))


def _bounce_reasons(msg: EmailMessage, local_part: str, subject: str) -> list[str]:
    if msg.get_content_type() == "multipart/report":
        report_type = (msg.get_param("report-type", header="content-type") or "")
        if str(report_type).lower() == "delivery-status":
            return ["Content-Type: multipart/report; report-type=delivery-status"]
    from_daemon = bool(_DAEMON_SENDERS.match(local_part))
    null_path = _null_return_path(msg)
    if not (from_daemon or null_path):
        return []
    evidence = []
    if _BOUNCE_SUBJECTS.match(subject.strip()):
        evidence.append(f"Subject: {subject.strip()[:60]}")
    if any(part.get_content_type() in ("message/rfc822", "text/rfc822-headers", "message/delivery-status") for part in msg.walk()):
        evidence.append("returns the original message")
    if not evidence:
        return []
    cause = [f"sender: {local_part}"] if from_daemon else []
    return cause + (["Return-Path: <>"] if null_path else []) + evidence


def _auto_reply_reasons(msg: EmailMessage, local_part: str, subject: str) -> list[str]:
    reasons = []
    auto_submitted = header_text(msg, "Auto-Submitted").lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        reasons.append(f"Auto-Submitted: {auto_submitted}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "X-Loop", "List-Id", "List-Unsubscribe"):
        if has_header(msg, name):
            reasons.append(f"{name} present")
    precedence = header_text(msg, "Precedence").lower()
    if precedence in _AUTO_PRECEDENCE:
        reasons.append(f"Precedence: {precedence}")
    if _DAEMON_SENDERS.match(local_part) or _NOREPLY_SENDERS.match(local_part):
        reasons.append(f"sender: {local_part}")
    if _null_return_path(msg):
        reasons.append("Return-Path: <>")
    if _AUTO_SUBJECTS.match(subject.strip()):
        reasons.append(f"Subject: {subject.strip()[:60]}")
    return reasons


def _bounced_original(msg: EmailMessage) -> tuple[str | None, tuple[str, ...]]:
    """The Message-ID of the mail that bounced and the recipients that failed."""
    original: str | None = None
    recipients: list[str] = []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822" and original is None:
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, EmailMessage):
                original = first_message_id(header_text(inner, "Message-ID"))
        elif kind in ("text/rfc822-headers", "message/delivery-status") or (kind == "text/plain" and original is None):
            text = _part_text(part)
            if original is None and kind != "message/delivery-status":
                found = _QUOTED_MSGID.findall(text)
                original = found[0] if found else None
            if kind == "message/delivery-status":
                recipients += [r.lower() for r in _FINAL_RECIPIENT.findall(text) if r.lower() not in recipients]
    return original, tuple(dict.fromkeys(recipients))


def _part_text(part: EmailMessage) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):  # message/delivery-status is parsed into header blocks
        return "\n".join(str(block) for block in payload)
    data = part.get_payload(decode=True) or b""
    return data.decode("utf-8", errors="replace")
