"""Is a mail written by a person, an automatic reply, list mail (newsletters, mailing lists) or a
bounce? Classified mail never opens complaints or triggers notifications, which is what prevents
auto-reply loops; list mail does not make its sender a contact either.

Bounces are recognised by flufl.bounce (GNU Mailman's detectors for RFC 3464 reports and the
formats of many mail servers), which also names the recipients that failed, permanently or
for now. It runs only on mail that shows some sign of coming from a mail system, so that a
customer quoting a delivery failure stays a customer.

Every verdict lists its reasons (the headers, patterns or detector findings behind it) for the
agent UI."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage

from flufl.bounce import all_failures

from services.ingest.imap.headers import first_message_id, has_header, header_text, raw_values
from shared.contacts import normalise_email

_DAEMON_SENDERS = re.compile(
    r"^(mailer[-_.]?daemon|postmaster|mail[-_.]?daemon|mdaemon|mailadm|ndr"
    r"|mail[-_.]?delivery([-_.]?sub)?([-_.]?system)?|.*smtp.*|.*antivirus.*)$"
)
_NOREPLY_SENDERS = re.compile(r"^(no-?reply|do-?not-?reply|donotreply|noreply-.*|.*-noreply|bounces?(\+.*)?|auto-?reply)$")
_DAEMON_NAMES = re.compile(r"mail delivery|delivery (sub)?system|mailer[- ]daemon|postmaster|system administrator", re.I)
_LIST_PRECEDENCE = {"bulk", "list"}
_AUTO_PRECEDENCE = {"auto_reply", "junk"}
_BOUNCE_SUBJECTS = re.compile(
    r"undeliver(ed|able)|delivery (status )?(notification|report|failure|problem|has failed)|not (be )?delivered"
    r"|mail delivery (failed|failure|subsystem|problem)|returned mail|failure notice|failed mail|mail (system )?error"
    r"|non[- ]?delivery|delivery failure|delayed mail|message delayed|delivery (status|warning)|permanent.*failure"
    r"|user unknown|could not be delivered|unzustellbar|nicht zustellbar|non remis|processing error|rejected mail"
    r"|returning message|mail failed|utilisateur non",
    re.IGNORECASE,
)
_AUTO_SUBJECTS = re.compile(
    r"^(auto(matic)?[ -]?reply|automatische antwort|out of (the )?office|abwesenheit|auto:|réponse automatique)",
    re.IGNORECASE,
)
_FINAL_RECIPIENT = re.compile(r"^(?:final|original)-recipient:\s*(?:rfc822;)?\s*<?([^\s<>;]+@[^\s<>;]+)>?", re.I | re.M)
_QUOTED_MSGID = re.compile(r"^message-id:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_RETURNED_PARTS = ("message/rfc822", "text/rfc822-headers", "message/delivery-status")


@dataclass(frozen=True)
class Verdict:
    classification: str  # normal | auto_reply | list | bounce
    reasons: tuple[str, ...] = ()
    bounced_message_id: str | None = None
    bounced_recipients: tuple[str, ...] = ()  # failed for good (a hard bounce)
    delayed_recipients: tuple[str, ...] = ()  # failed for now; the server still tries


def classify(msg: EmailMessage, sender: str | None, subject: str, display_name: str = "") -> Verdict:
    local_part = (sender or "").partition("@")[0]
    bounce = _bounce(msg, local_part, subject, display_name)
    if bounce is not None:
        return bounce
    replies = _auto_reply_reasons(msg, subject)
    if replies:
        return Verdict("auto_reply", tuple(replies + _automatic_reasons(msg, local_part)))
    listed = _list_reasons(msg)
    if listed:
        return Verdict("list", tuple(listed + _automatic_reasons(msg, local_part)))
    automatic = _automatic_reasons(msg, local_part)
    if automatic:
        return Verdict("auto_reply", tuple(automatic))
    return Verdict("normal")


# ---- bounces --------------------------------------------------------------------------------


def _bounce(msg: EmailMessage, local_part: str, subject: str, display_name: str) -> Verdict | None:
    signs = _mail_system_signs(msg, local_part, subject, display_name)
    if not signs:
        return None
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector tripping over a malformed part: judge by the other signs
        temporary, permanent = frozenset(), frozenset()
    failed, delayed = _addresses(permanent), _addresses(temporary)
    original = _bounced_original(msg)
    if failed or delayed:
        found = [f"flufl.bounce: {len(failed)} recipient(s) failed"] if failed else []
        found += [f"flufl.bounce: {len(delayed)} recipient(s) delayed"] if delayed else []
        return Verdict("bounce", tuple(signs + found), original, failed, tuple(a for a in delayed if a not in failed))
    from_system = any(sign.startswith(("sender", "Return-Path")) for sign in signs)
    says_so = any(sign.startswith("Subject") for sign in signs) or _returns_original(msg)
    if _is_delivery_report(msg) or (from_system and says_so):
        # a report no detector could read: still a bounce, its recipients from the report itself
        return Verdict("bounce", tuple(signs), original, _report_recipients(msg))
    return None


def _mail_system_signs(msg: EmailMessage, local_part: str, subject: str, display_name: str) -> list[str]:
    signs = []
    if _is_delivery_report(msg):
        signs.append("Content-Type: multipart/report; report-type=delivery-status")
    if _DAEMON_SENDERS.match(local_part) or not local_part:
        signs.append(f"sender: {local_part or '<>'}")
    elif _DAEMON_NAMES.search(display_name):
        signs.append(f"sender name: {display_name[:60]}")
    if _null_return_path(msg):
        signs.append("Return-Path: <>")
    if _BOUNCE_SUBJECTS.search(subject):
        signs.append(f"Subject: {subject.strip()[:60]}")
    return signs


def _is_delivery_report(msg: EmailMessage) -> bool:
    if msg.get_content_type() != "multipart/report":
        return False
    return str(msg.get_param("report-type", header="content-type") or "").lower() == "delivery-status"


def _returns_original(msg: EmailMessage) -> bool:
    return any(part.get_content_type() in _RETURNED_PARTS for part in msg.walk())


def _null_return_path(msg: EmailMessage) -> bool:
    return any(value.strip() in ("<>", "") for value in raw_values(msg, "Return-Path"))


def _addresses(found: frozenset[bytes]) -> tuple[str, ...]:
    addresses = (normalise_email(raw.decode("utf-8", errors="replace")) for raw in sorted(found))
    return tuple(dict.fromkeys(a for a in addresses if a))


def _bounced_original(msg: EmailMessage) -> str | None:
    """The Message-ID of the mail that bounced: from the returned message or its headers, or
    from headers quoted in the text."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, EmailMessage):
                found = first_message_id(header_text(inner, "Message-ID"))
                if found:
                    return found
        elif kind in ("text/rfc822-headers", "text/plain"):
            quoted = _QUOTED_MSGID.findall(_part_text(part))
            if quoted:
                return quoted[0]
    return None


def _report_recipients(msg: EmailMessage) -> tuple[str, ...]:
    found: list[str] = []
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            found += [a for a in map(normalise_email, _FINAL_RECIPIENT.findall(_part_text(part))) if a]
    return tuple(dict.fromkeys(found))


def _part_text(part: EmailMessage) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):  # message/delivery-status is parsed into header blocks
        return "\n".join(str(block) for block in payload)
    data = part.get_payload(decode=True) or b""
    return data.decode("utf-8", errors="replace")


# ---- automatic replies and list mail ----------------------------------------------------------


def _auto_reply_reasons(msg: EmailMessage, subject: str) -> list[str]:
    """Signs that a program answered a mail (vacation notices, autoresponders)."""
    reasons = []
    auto_submitted = header_text(msg, "Auto-Submitted").lower()
    if auto_submitted.startswith("auto-replied"):
        reasons.append(f"Auto-Submitted: {auto_submitted}")
    for name in ("X-Autoreply", "X-Autorespond"):
        if has_header(msg, name):
            reasons.append(f"{name} present")
    if header_text(msg, "Precedence").lower() == "auto_reply":
        reasons.append("Precedence: auto_reply")
    if _AUTO_SUBJECTS.match(subject.strip()):
        reasons.append(f"Subject: {subject.strip()[:60]}")
    return reasons


def _list_reasons(msg: EmailMessage) -> list[str]:
    """Newsletters and mailing lists (RFC 2369 / 2919 headers, Precedence: bulk or list)."""
    reasons = [f"{name} present" for name in ("List-Id", "List-Unsubscribe", "List-Post") if has_header(msg, name)]
    precedence = header_text(msg, "Precedence").lower()
    if precedence in _LIST_PRECEDENCE:
        reasons.append(f"Precedence: {precedence}")
    return reasons


def _automatic_reasons(msg: EmailMessage, local_part: str) -> list[str]:
    """Signs that no person wrote the mail, whatever kind of program did."""
    reasons = []
    auto_submitted = header_text(msg, "Auto-Submitted").lower()
    if auto_submitted and not auto_submitted.startswith(("no", "auto-replied")):
        reasons.append(f"Auto-Submitted: {auto_submitted}")
    for name in ("X-Auto-Response-Suppress", "X-Loop"):
        if has_header(msg, name):
            reasons.append(f"{name} present")
    precedence = header_text(msg, "Precedence").lower()
    if precedence in _AUTO_PRECEDENCE - {"auto_reply"}:
        reasons.append(f"Precedence: {precedence}")
    if _DAEMON_SENDERS.match(local_part) or _NOREPLY_SENDERS.match(local_part):
        reasons.append(f"sender: {local_part}")
    if _null_return_path(msg):
        reasons.append("Return-Path: <>")
    return reasons
