"""Web form submissions → `webform.submitted`.

A form posts urlencoded fields or a JSON object. The well-known fields (`name`, `email`,
`phone`, `subject`, `message`, `topic`) become typed payload fields; every other field is
kept as sent. Validation reports every bad field at once. The submission id is a hash of
the form and its fields, and the event id combines it with the day it arrived: a double
click, a browser resubmission or a sender's retry is the same event, while the same text
sent again on another day is a new one."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import phonenumbers
from pydantic import ValidationError

from events.envelope import ContactIdentifiers, Event
from events.ids import event_id_for
from events.webform import WebformPayload, WebformSubmitted
from services.ingest.problems import FieldReader, InvalidPayload
from services.ingest.webforms.consent import consent_events, consent_fields
from shared.config import FormWebhook
from shared.contacts import normalise_email, normalise_phone

KNOWN_FIELDS = ("name", "email", "phone", "subject", "message", "topic")
NEXT_FIELD = "_next"
TRUTHY = {"on", "true", "1", "yes", "y", "checked", "accepted"}
TOPIC = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def parse_webform(
    form_id: str,
    fields: Mapping[str, Any],
    config: FormWebhook,
    received_at: datetime,
    default_region: str | None = None,
    origin: str | None = None,
) -> list[Event]:
    """One submission → `webform.submitted`, followed by the consent events its consent fields
    carry (see consent.py). Raises InvalidPayload listing every bad field."""
    reader = FieldReader(fields)
    _check_field_types(reader, fields)
    for name in config.required:
        reader.text(name, required=True)
    known = {name: reader.text(name) for name in KNOWN_FIELDS}
    email = _email(reader, known["email"])
    phone = _phone(reader, known["phone"], default_region)
    topic = (known["topic"] or config.topic or "").lower() or None
    if topic is not None and not TOPIC.match(topic):
        reader.problem(f"topic: must be a short lower-case word such as contact or complaint, got {topic!r}")
    others = _other_fields(reader, fields, config)
    reader.raise_if_any()
    submission_id = submission_id_for(form_id, fields)
    try:
        payload = WebformPayload(
            form_id=form_id, submission_id=submission_id, topic=topic,
            name=known["name"], email=email, phone=phone, subject=known["subject"], message=known["message"],
            consent=_consent(reader, config), fields=others, origin=origin,
        )
        submission = WebformSubmitted(
            event_id=event_id_for("webform.submitted", form_id, submission_id, received_at.date().isoformat()),
            occurred_at=received_at, recorded_at=received_at, source=f"webform:{form_id}",
            contact=ContactIdentifiers(email=email, phone=phone), payload=payload,
        )
        consents = consent_events(submission, config, reader)
    except ValidationError as exc:
        raise InvalidPayload.from_validation(exc) from None
    reader.raise_if_any()
    return [submission, *consents]


def is_spam(fields: Mapping[str, Any], config: FormWebhook) -> bool:
    """A filled-in honeypot field: people never see it, bots fill every field."""
    if not config.honeypot:
        return False
    return bool(FieldReader(fields).text(config.honeypot))


def redirect_target(fields: Mapping[str, Any], config: FormWebhook) -> str | None:
    """`_next` of a plain HTML form: a path on the receiving site or a URL on an allowed
    origin (anything else would make us an open redirector)."""
    reader = FieldReader(fields)
    target = reader.text(NEXT_FIELD)
    reader.raise_if_any()
    if target is None:
        return None
    parts = urlsplit(target)
    if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
        return target
    if parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}" in config.allowed_origins:
        return target
    raise InvalidPayload([f"{NEXT_FIELD}: must be a path such as /thanks or a URL on one of the form's allowed origins"])


def submission_id_for(form_id: str, fields: Mapping[str, Any]) -> str:
    items = [form_id, sorted((str(k), _canonical(v)) for k, v in fields.items())]
    try:
        canonical = orjson.dumps(items)
    except TypeError:  # lone surrogates, which no UTF-8 encoder takes: hash their escapes
        canonical = json.dumps(items, ensure_ascii=True).encode()
    return hashlib.sha256(canonical).hexdigest()


def _canonical(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True, ensure_ascii=True, default=str)


def _email(reader: FieldReader, raw: str | None) -> str | None:
    if raw is None:
        return None
    email = normalise_email(raw)
    if email is None:
        reader.problem(f"email: not an email address: {raw!r}")
    return email


def _phone(reader: FieldReader, raw: str | None, default_region: str | None) -> str | None:
    if raw is None:
        return None
    phone = normalise_phone(raw, default_region)
    # people type their own number here: hold it to a real number plan, not just a plausible length
    if phone is not None and not phonenumbers.is_valid_number(phonenumbers.parse(phone)):
        phone = None
    if phone is None:
        reader.problem(f"phone: not a phone number: {raw!r} (write it with the country code, e.g. +49 30 1234567)")
    return phone


def _consent(reader: FieldReader, config: FormWebhook) -> bool | None:
    if not config.consent_field:
        return None
    value = reader.text(config.consent_field)
    return value is not None and value.lower() in TRUTHY


def _check_field_types(reader: FieldReader, fields: Mapping[str, Any]) -> None:
    """A form field is text (or a number or flag from JSON), or a list of those; hidden
    `_` fields included, since they are part of the submission id."""
    for name, value in fields.items():
        items = value if isinstance(value, list) else [value]
        if not all(item is None or isinstance(item, str | int | float | bool) for item in items):
            reader.problem(f"{name}: must be text or a list of texts")


def _other_fields(reader: FieldReader, fields: Mapping[str, Any], config: FormWebhook) -> dict[str, str]:
    skip = {*KNOWN_FIELDS, NEXT_FIELD, config.honeypot, config.consent_field, *consent_fields(config)}
    kept = {}
    for name in fields:
        if name in skip or name.startswith("_"):
            continue
        values = reader.texts(name)
        if values:
            kept[name] = ", ".join(values)
    return kept
