"""Which events call for a human, and what the notifier remembers from each."""

from datetime import timedelta

import pytest

from services.notifier.state import (
    CancelUnsent,
    ClearInbound,
    ComplaintFacts,
    RecordInbound,
    SetComplaintStatus,
    UpsertComplaint,
    UpsertCustomer,
    View,
    changes_for,
)
from services.notifier.triggers import detect_triggers
from shared.config import Notifier
from tests.notifier_events import (
    T0,
    breached,
    customer,
    mail_in,
    mail_out,
    missed_call,
    opened,
    resolved,
    shipment,
    warning,
)

OPEN = ComplaintFacts(complaint_id="cmp-1", customer_ref="K-1", customer_name="Erika Muster")
WITH_OPEN_COMPLAINT = View(keys=("customer_ref:K-1",), open_complaint=OPEN)
WITHOUT_COMPLAINT = View(keys=("customer_ref:K-1",))
CONFIG = Notifier(unanswered_contacts=3, unanswered_within="24h")


def types(event, view, config=CONFIG):
    return [trigger.type for trigger in detect_triggers(event, view, config)]


@pytest.mark.parametrize(
    ("event", "view", "expected"),
    [
        (warning(), View(complaint=OPEN), ["sla.warning"]),
        (breached(), View(complaint=OPEN), ["sla.breached"]),
        (breached(), View(), ["sla.breached"]),  # complaint not seen: still escalated
        (breached(), View(complaint=ComplaintFacts(complaint_id="cmp-1", status="resolved")), []),  # stale clock
        (opened(), View(), ["complaint.opened"]),
        (shipment(status="exception"), WITH_OPEN_COMPLAINT, ["shipment.exception"]),
        (shipment(status="exception"), WITHOUT_COMPLAINT, []),
        (shipment(status="in_transit"), WITH_OPEN_COMPLAINT, []),
        (missed_call(), WITH_OPEN_COMPLAINT, ["call.missed"]),
        (missed_call(), WITHOUT_COMPLAINT, []),
        (missed_call(disposition="answered"), WITH_OPEN_COMPLAINT, []),
    ],
)
def test_triggers_table(event, view, expected):
    assert types(event, view) == expected


def test_historic_events_never_trigger():
    old = breached().model_copy(update={"historic": True})
    assert types(old, View(complaint=OPEN)) == []
    assert changes_for(old, View()) == []


def test_the_nth_contact_within_the_window_without_a_response_triggers_once():
    earlier = (T0 - timedelta(hours=5), T0 - timedelta(hours=2))
    third = View(keys=("email:erika@example.org",), unanswered=earlier)
    assert types(mail_in(3, at=T0), third) == ["contacts.unanswered"]
    fourth = View(keys=("email:erika@example.org",), unanswered=(*earlier, T0))
    assert types(mail_in(4, at=T0 + timedelta(minutes=5)), fourth) == []


def test_contacts_outside_the_window_do_not_count():
    stale = View(keys=("email:erika@example.org",), unanswered=(T0 - timedelta(hours=30), T0 - timedelta(hours=2)))
    assert types(mail_in(3, at=T0), stale) == []


def test_sla_trigger_carries_clock_due_time_and_customer():
    (trigger,) = detect_triggers(breached(kind="resolution"), View(complaint=OPEN), CONFIG)
    assert (trigger.clock_kind, trigger.customer_name, trigger.complaint.complaint_id) == (
        "resolution",
        "Erika Muster",
        "cmp-1",
    )
    assert trigger.due_at == breached(kind="resolution").payload.due_at
    assert trigger.dedup_key == "complaint:cmp-1:sla.breached:resolution"


def test_customer_master_data_maps_every_identifier_to_the_customer():
    (change,) = changes_for(customer(order_ref="A-1001", phone="+4930123456"), View())
    assert isinstance(change, UpsertCustomer)
    assert set(change.keys) == {"customer_ref:K-1", "email:erika@example.org", "phone:+4930123456", "order_ref:A-1001"}


def test_complaint_lifecycle_changes():
    (upsert, *_) = changes_for(opened(priority="urgent"), View(keys=("email:erika@example.org",)))
    assert isinstance(upsert, UpsertComplaint) and upsert.complaint.priority == "urgent"
    assert upsert.complaint.keys == ("email:erika@example.org",)
    assert changes_for(resolved(), View()) == [
        SetComplaintStatus("cmp-1", "resolved"),
        CancelUnsent("cmp-1", None, "resolved"),
    ]


def test_inbound_contacts_are_counted_until_a_response_clears_them():
    view = View(keys=("email:erika@example.org",))
    assert changes_for(mail_in(1), view, timedelta(hours=24)) == [
        RecordInbound("email:erika@example.org", str(mail_in(1).event_id), T0, T0 - timedelta(hours=24))
    ]
    assert changes_for(mail_out(1), view) == [ClearInbound("email:erika@example.org")]
