"""The consent a form submission carries → `consent.given` / `consent.withdrawn`.

A form's `consent` table names, per purpose, the field that carries it. The rule:
- the field holds a yes (`on`, `true`, `1`, `yes`, `checked`, `accepted`, ...): `consent.given`;
- it holds an explicit no (`off`, `false`, `0`, `no`, `declined`, `withdrawn`) and the purpose
  is listed in `consent_withdrawable`: `consent.withdrawn`; on other forms a no records nothing
  (someone who did not tick a box on a contact form has not withdrawn anything);
- it is absent or empty: nothing (browsers do not send unticked checkboxes);
- a yes and a no together (a hidden "no" before the checkbox): the yes counts;
- anything else is a bad field (422), so a form author notices a misnamed value at once.

Consent is someone's: a consent field with neither an email address nor a phone number in the
submission is a bad field too. Event ids derive from the submission and the purpose, so a
resubmission deduplicates like the submission does."""

from __future__ import annotations

from events.consent import ConsentGiven, ConsentWithdrawn
from events.envelope import Event
from events.ids import event_id_for
from events.webform import WebformSubmitted
from services.ingest.problems import FieldReader
from shared.config import FormWebhook

YES = frozenset({"on", "true", "1", "yes", "y", "checked", "accepted"})
NO = frozenset({"off", "false", "0", "no", "n", "unchecked", "declined", "withdrawn"})


def consent_fields(config: FormWebhook) -> set[str]:
    return set(config.consent.values())


def statement(reader: FieldReader, field: str) -> bool | None:
    """True for a yes, False for an explicit no, None when the field says nothing."""
    values = [value.lower() for value in reader.texts(field)]
    if any(value in YES for value in values):
        return True
    if any(value in NO for value in values):
        return False
    if values:
        reader.problem(f"{field}: a consent field takes yes or no (e.g. on, yes, true / no, false), got {values[0]!r}")
    return None


def consent_events(submission: WebformSubmitted, config: FormWebhook, reader: FieldReader) -> list[Event]:
    """The consent events of one submission, caused by it (problems go to `reader`)."""
    form_id, submission_id = submission.payload.form_id, submission.payload.submission_id
    contact, received_at = submission.contact, submission.recorded_at
    events: list[Event] = []
    for purpose, field in config.consent.items():
        said = statement(reader, field)
        if said is None or (said is False and purpose not in config.consent_withdrawable):
            continue
        if not (contact.email or contact.phone):
            reader.problem(f"{field}: consent needs the email or phone of the person giving it")
            continue
        cls = ConsentGiven if said else ConsentWithdrawn
        events.append(cls(
            event_id=event_id_for(cls.model_fields["type"].default, form_id, submission_id, purpose,
                                  received_at.date().isoformat()),
            occurred_at=received_at, recorded_at=received_at, channel="webform", source=f"webform:{form_id}",
            contact=contact, correlation_id=submission.correlation_id, causation_id=str(submission.event_id),
            payload={"purpose": purpose, "source": {
                "kind": "webform", "form_id": form_id, "field": field, "text_version": config.consent_text_version,
                "submission_id": submission_id}},
        ))
    return events
