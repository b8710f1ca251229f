"""Every event class Touchpoint knows, and the discriminated union that decodes them by `type`."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field, TypeAdapter

from events.audit import CustomerAccessed
from events.call import CallAnswered, CallEnded, CallStarted
from events.callback import CallbackAttempted, CallbackClosed, CallbackOpened, CallbackOverdue
from events.complaint import (
    ComplaintOpened, ComplaintPaused, ComplaintPriorityChanged, ComplaintReopened,
    ComplaintResolved, ComplaintResponded, ComplaintResumed,
)
from events.consent import ConsentGiven, ConsentWithdrawn
from events.customer import ContactLinked, ContactUnlinked, CustomerMerged, CustomerRegistered, CustomerUnmerged
from events.email import EmailReceived, EmailSent
from events.envelope import Event
from events.escalation import EscalationFailed, EscalationNotified
from events.privacy import CustomerErased, PrivacyExpired
from events.shipment import ShipmentStatusChanged
from events.sla import SlaBreached, SlaWarning
from events.webform import WebformSubmitted

EVENT_CLASSES: tuple[type[Event], ...] = (
    EmailReceived, EmailSent,
    CallStarted, CallAnswered, CallEnded,
    WebformSubmitted,
    ShipmentStatusChanged,
    ComplaintOpened, ComplaintResponded, ComplaintResolved, ComplaintReopened,
    ComplaintPaused, ComplaintResumed, ComplaintPriorityChanged,
    SlaWarning, SlaBreached,
    EscalationNotified, EscalationFailed,
    CustomerRegistered, ContactLinked, ContactUnlinked, CustomerMerged, CustomerUnmerged,
    CallbackOpened, CallbackAttempted, CallbackClosed, CallbackOverdue,
    CustomerErased, PrivacyExpired,
    ConsentGiven, ConsentWithdrawn,
    CustomerAccessed,
)


def type_name(cls: type[Event]) -> str:
    return cls.model_fields["type"].default


def current_version(cls: type[Event]) -> int:
    return cls.model_fields["schema_version"].default


EVENT_TYPES: dict[str, type[Event]] = {type_name(cls): cls for cls in EVENT_CLASSES}
# asked for every event read: pydantic's `model_fields` is a descriptor call each time
CURRENT_VERSIONS: dict[str, int] = {name: current_version(cls) for name, cls in EVENT_TYPES.items()}

AnyEvent = Annotated[Union[EVENT_CLASSES], Field(discriminator="type")]  # type: ignore[valid-type]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)
