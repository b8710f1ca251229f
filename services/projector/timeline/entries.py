"""Timeline entries built from interaction events: a one-line summary, the channel, the
direction and details per kind. Calls and parcels fold several events into one entry; the
folds are order-independent (events of one call or parcel may arrive from different
partitions), so live projection and rebuild give the same row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from events.call import CallAnswered, CallEnded, CallStarted
from events.email import EmailPayload, EmailReceived, EmailSent
from events.envelope import Event, StoredBlob
from events.shipment import ShipmentStatusChanged
from events.webform import WebformSubmitted
from services.projector.timeline.rows import IDENTIFIER_KINDS, EntryRow, changed, entry_id_for, utc

MISSED = {"missed", "busy", "rejected", "failed", "voicemail"}
CALL_RANK = {"call.started": 0, "call.answered": 1, "call.ended": 2}
SUMMARY_LIMIT = 160


def one_line(text: str | None) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= SUMMARY_LIMIT else line[: SUMMARY_LIMIT - 1] + "…"


def identifiers_of(event: Event) -> dict[str, str | None]:
    return {kind: getattr(event.contact, kind) for kind in IDENTIFIER_KINDS}


def merge_identifiers(entry: EntryRow | None, event: Event) -> dict[str, str | None]:
    """Per kind the smallest value seen, so the result does not depend on arrival order."""
    merged = identifiers_of(event)
    if entry is not None:
        for kind in IDENTIFIER_KINDS:
            values = [v for v in (merged[kind], getattr(entry, kind)) if v]
            merged[kind] = min(values) if values else None
    return merged


def new_entry(event: Event, entry_key: str, summary: str, details: dict[str, Any], direction: str | None,
              complaint_id: str | None = None, occurred_at: datetime | None = None) -> EntryRow:
    return EntryRow(
        id=entry_id_for(entry_key),
        entry_key=entry_key,
        owner_id="",
        contact_id=None,
        event_id=str(event.event_id),
        type=event.type,
        channel=event.channel,
        direction=direction,
        occurred_at=utc(event.occurred_at),
        recorded_at=utc(event.recorded_at),
        summary=one_line(summary),
        details=details,
        complaint_id=complaint_id,
        **identifiers_of(event),
    )


# ---- mail ----------------------------------------------------------------------------------


MAIL_FLAGS = {"auto_reply": "[auto-reply] ", "list": "[list] ", "bounce": "[bounce] "}


def mail_entry(event: EmailReceived | EmailSent) -> EntryRow:
    p = event.payload
    inbound = isinstance(event, EmailReceived)
    flag = MAIL_FLAGS.get(p.classification, "")
    who = (p.sender.name or p.sender.email) if inbound and p.sender else ", ".join(a.email for a in p.to)
    summary = f"{flag}{'Mail from' if inbound else 'Mail to'} {who}: {p.subject or '(no subject)'}"
    details = {
        "thread_key": p.thread_key,
        "message_id": p.message_id,
        "subject": p.subject,
        "from": p.sender.email if p.sender else None,
        "to": [a.email for a in p.to],
        "mailbox": p.position.mailbox,
        "classification": p.classification,
        "classification_reasons": list(p.classification_reasons),
        # how it joined its conversation, and the Message-ID that decided it (see thread_ref)
        "thread_evidence": p.thread_evidence,
        "thread_ref": thread_ref(p),
        "auto_reply": p.classification == "auto_reply",
        "list": p.classification == "list",
        "bounce": p.classification == "bounce",
        "preview": one_line(p.text)[:300] if p.text else None,
        "attachments": len(p.attachments),
        # the agent UI shows the whole message when an entry is opened
        "text": p.text,
        "html": p.html,
        "body_truncated": p.body_truncated,
        "files": [blob_json(b) for b in p.attachments],
        "full_body": blob_json(p.full_body) if p.full_body else None,
        "raw": blob_json(p.raw) if p.raw else None,
    }
    if p.classification == "bounce":
        details |= {
            "bounced_message_id": p.bounced_message_id,
            "bounced_recipients": list(p.bounced_recipients),
            "delayed_recipients": list(p.delayed_recipients),
            "bounced_entry_id": None,  # the mail that bounced, once it is on a timeline (see link_bounce)
            "bounced_event_id": None,
        }
    return new_entry(event, f"event:{event.event_id}", summary, details, "inbound" if inbound else "outbound")


def thread_ref(p: EmailPayload) -> str | None:
    """The Message-ID the mail was threaded by (the root of its References, the mail it answers,
    or its own when it starts a conversation): the one its thread key names. None when the
    subject decided."""
    if p.thread_evidence in ("references", "in_reply_to", "message_id") and p.thread_key.startswith("msgid:"):
        return p.thread_key.removeprefix("msgid:")
    return None


def link_bounce(bounce: EntryRow, original: EntryRow) -> EntryRow:
    """The bounce entry pointing at the entry of the mail that bounced."""
    return changed(bounce, details={**bounce.details, "bounced_entry_id": original.id, "bounced_event_id": original.event_id})


def blob_json(blob: StoredBlob) -> dict[str, Any]:
    found = {"sha256": blob.sha256, "size": blob.size, "content_type": blob.content_type, "filename": blob.filename}
    if blob.key is not None:
        found["key"] = blob.key  # a sealed blob opens with it; erasure removes it with the details
    return found


# ---- web forms -----------------------------------------------------------------------------


def form_entry(event: WebformSubmitted) -> EntryRow:
    p = event.payload
    title = p.subject or p.message or "(empty)"
    summary = f"Form {p.form_id}{f' ({p.topic})' if p.topic else ''} from {p.name or p.email or p.phone or 'unknown'}: {title}"
    details = {
        "form_id": p.form_id,
        "submission_id": p.submission_id,
        "topic": p.topic,
        "name": p.name,
        "subject": p.subject,
        "message": p.message,
        "fields": dict(p.fields),
    }
    return new_entry(event, f"event:{event.event_id}", summary, details, "inbound")


# ---- calls ---------------------------------------------------------------------------------


def call_key(event: CallStarted | CallAnswered | CallEnded) -> str:
    return f"call:{event.payload.provider}:{event.payload.call_id}"


def fold_call(entry: EntryRow | None, event: CallStarted | CallAnswered | CallEnded) -> EntryRow:
    p = event.payload
    d: dict[str, Any] = dict(entry.details) if entry else {
        "call_id": p.call_id, "provider": p.provider, "direction": p.direction,
        "from": p.from_number, "to": p.to_number, "caller_withheld": p.caller_withheld,
        "started_at": None, "answered_at": None, "ended_at": None, "answered_by": None,
        "disposition": None, "duration_seconds": None, "cause": None, "event_ids": {}, "users": [],
    }
    seen: dict[str, str] = dict(d["event_ids"])
    if entry is not None and str(event.event_id) in seen.values():
        return entry
    seen[event.type] = min(seen.get(event.type, str(event.event_id)), str(event.event_id))
    d["event_ids"] = seen
    d["users"] = sorted(set(d["users"]) | set(p.users))
    stamp = utc(event.occurred_at).isoformat()
    match event:
        case CallStarted():
            d["started_at"] = stamp
        case CallAnswered():
            d["answered_at"] = stamp
            d["answered_by"] = event.payload.answered_by or d["answered_by"]
        case CallEnded():
            d["ended_at"] = stamp
            d["disposition"] = event.payload.disposition
            d["duration_seconds"] = event.payload.duration_seconds
            d["cause"] = event.payload.cause
            d["answered_by"] = event.payload.answered_by or d["answered_by"]
    d["state"] = "ended" if d["ended_at"] else "answered" if d["answered_at"] else "ringing"
    d["missed"] = d["disposition"] in MISSED or (d["state"] == "ended" and not d["answered_at"] and d["disposition"] != "answered")
    types = sorted(seen, key=CALL_RANK.__getitem__)
    return changed(
        new_entry(event, call_key(event), call_summary(d), d, d["direction"]),
        type=types[-1],
        event_id=seen[types[0]],
        occurred_at=min(t for t in (entry.occurred_at if entry else None, utc(event.occurred_at)) if t is not None),
        recorded_at=max(t for t in (entry.recorded_at if entry else None, utc(event.recorded_at)) if t is not None),
        **merge_identifiers(entry, event),
    )


def call_summary(d: dict[str, Any]) -> str:
    inbound = d["direction"] == "inbound"
    other = (d["from"] if inbound else d["to"]) or "withheld number"
    if d["missed"]:
        reason = f" ({d['disposition']})" if d["disposition"] not in (None, "missed") else ""
        return f"Missed call {'from' if inbound else 'to'} {other}{reason}"
    verb = "Call from" if inbound else "Call to"
    if d["state"] == "ringing":
        return f"{verb} {other} (ringing)"
    who = f" with {d['answered_by']}" if d["answered_by"] else ""
    if d["state"] == "answered":
        return f"{verb} {other}{who} (in progress)"
    duration = d["duration_seconds"]
    length = f", {duration // 60}m {duration % 60:02d}s" if duration is not None else ""
    return f"{verb} {other}{who}{length}"


# ---- parcels -------------------------------------------------------------------------------


def shipment_key(event: ShipmentStatusChanged) -> str:
    return f"shipment:{event.payload.tracking_number}"


def fold_shipment(entry: EntryRow | None, event: ShipmentStatusChanged) -> EntryRow:
    p = event.payload
    history: list[dict[str, Any]] = list(entry.details["history"]) if entry else []
    if any(step["event_id"] == str(event.event_id) for step in history):
        return entry  # type: ignore[return-value]
    history.append({
        "event_id": str(event.event_id), "status": p.status, "occurred_at": utc(event.occurred_at).isoformat(),
        "provider_status": p.provider_status, "message": p.message, "location": p.location,
        "recorded_at": utc(event.recorded_at).isoformat(),
    })
    history.sort(key=lambda step: (step["occurred_at"], step["event_id"]))
    latest = history[-1]
    carrier = p.carrier or (entry.details.get("carrier") if entry else None)
    details = {
        "tracking_number": p.tracking_number,
        "carrier": carrier,
        "status": latest["status"],
        "message": latest["message"],
        "estimated_delivery": p.estimated_delivery.isoformat() if p.estimated_delivery else (entry.details.get("estimated_delivery") if entry else None),
        "history": history,
    }
    label = latest["status"].replace("_", " ")
    summary = f"Parcel {p.tracking_number}{f' ({carrier})' if carrier else ''}: {label}"
    if latest["message"]:
        summary += f" – {latest['message']}"
    return changed(
        new_entry(event, shipment_key(event), summary, details, None),
        event_id=latest["event_id"],
        occurred_at=datetime.fromisoformat(latest["occurred_at"]),
        recorded_at=datetime.fromisoformat(latest["recorded_at"]),
        **merge_identifiers(entry, event),
    )
