"""Web form submissions: `webform.submitted`."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from events.envelope import Event, Frozen
from events.pii import PII_KEY, PiiStr


class WebformPayload(Frozen):
    form_id: str = Field(min_length=1)
    submission_id: str = Field(description="idempotency key: provider's id or a hash of the fields")
    topic: str | None = Field(default=None, description="e.g. contact, complaint")
    name: PiiStr | None = None
    email: PiiStr | None = None
    phone: PiiStr | None = None
    subject: PiiStr | None = None
    message: PiiStr | None = None
    consent: bool | None = Field(default=None, description="consent checkbox, when the form has one")
    fields: Annotated[dict[str, str], Field(json_schema_extra={PII_KEY: True})] = Field(
        default_factory=dict, description="every other submitted field, kept as sent"
    )
    origin: str | None = None


class WebformSubmitted(Event):
    type: Literal["webform.submitted"] = "webform.submitted"
    schema_version: Literal[1] = 1
    channel: Literal["webform"] = "webform"
    payload: WebformPayload

    fallback_key_field: ClassVar[str | None] = "submission_id"
