"""AfterShip, EasyPost and generic shipping webhooks become `shipment.status_changed`,
with statuses normalised and redeliveries deduplicated by the provider's event id."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from services.ingest.problems import InvalidPayload
from services.ingest.shipping.aftership import TAG_STATUS, parse_aftership, verify_aftership
from services.ingest.shipping.easypost import STATUS, easypost_signature, parse_easypost, verify_easypost
from services.ingest.shipping.generic import generic_signature, parse_generic, verify_generic
from tests.fixtures import json_fixture, raw

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


# ---- AfterShip ----------------------------------------------------------------------------


def test_aftership_returned_to_sender_subtag_is_returned_and_links_order_customer_and_email():
    [event] = parse_aftership(json_fixture("aftership/tracking_update_exception.json"), NOW)
    assert event.payload.status == "returned"
    assert (event.payload.provider_status, event.payload.provider_substatus) == ("Exception", "Exception_011")
    assert event.payload.tracking_number == "00340434161094042557"
    assert event.payload.carrier == "dhl-germany"
    assert event.payload.provider_event_id == "5b3c6a1e-8f0d-4c2b-9e7a-1d2c3b4a5f60"
    assert event.contact.order_ref == "A-1001"
    assert event.contact.customer_ref == "K-1001"
    assert event.contact.email == "erika.muster@example.org"
    assert event.payload.message == "The shipment has been returned to the sender"
    assert event.payload.location == "Leipzig, DE"
    assert event.occurred_at == datetime(2026, 3, 2, 8, 12, tzinfo=UTC)  # the checkpoint's time


def test_aftership_checkpoint_without_zone_falls_back_to_the_webhook_time():
    [event] = parse_aftership(json_fixture("aftership/tracking_update_out_for_delivery.json"), NOW)
    assert event.payload.status == "out_for_delivery"
    assert event.occurred_at == datetime.fromtimestamp(1772517731, UTC)
    assert event.contact.email == "max.beispiel@example.net"  # from the customers list
    assert event.payload.estimated_delivery == datetime(2026, 3, 3, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(("tag", "expected"), [
    ("Pending", "label_created"), ("InfoReceived", "label_created"), ("InTransit", "in_transit"),
    ("OutForDelivery", "out_for_delivery"), ("AttemptFail", "failed_attempt"), ("Delivered", "delivered"),
    ("AvailableForPickup", "available_for_pickup"), ("Exception", "exception"), ("Expired", "expired"),
])
def test_aftership_tags_are_normalised(tag, expected):
    payload = json_fixture("aftership/tracking_update_out_for_delivery.json")
    payload["msg"] = {**payload["msg"], "tag": tag, "subtag": f"{tag}_001"}
    [event] = parse_aftership(payload, NOW)
    assert event.payload.status == expected
    assert set(TAG_STATUS) == {"Pending", "InfoReceived", "InTransit", "OutForDelivery", "AttemptFail",
                               "Delivered", "AvailableForPickup", "Exception", "Expired"}


def test_aftership_redelivery_has_the_same_id_another_event_id_another():
    payload = json_fixture("aftership/tracking_update_exception.json")
    [first] = parse_aftership(payload, NOW)
    [again] = parse_aftership(payload, datetime(2026, 3, 4, tzinfo=UTC))
    [other] = parse_aftership({**payload, "event_id": "11111111-2222-4333-8444-555555555555"}, NOW)
    assert first.event_id == again.event_id != other.event_id


def test_aftership_signature_is_base64_hmac_sha256_of_the_raw_body():
    body = raw("aftership/tracking_update_exception.json")
    expected = base64.b64encode(hmac.new(b"as-secret-1", body, hashlib.sha256).digest()).decode()
    assert verify_aftership("as-secret-1", expected, body)
    assert not verify_aftership("as-secret-2", expected, body)
    assert not verify_aftership("as-secret-1", hmac.new(b"as-secret-1", body, hashlib.sha256).hexdigest(), body)
    assert not verify_aftership("as-secret-1", None, body)


def test_aftership_other_events_produce_nothing():
    assert parse_aftership({"event": "edd_revise", "event_id": "e1", "msg": {"tracking_number": "1"}}, NOW) == []


def test_aftership_problems_are_named():
    with pytest.raises(InvalidPayload) as caught:
        parse_aftership({"event": "tracking_update", "event_id": "e1", "msg": {"tag": "Teleported"}}, NOW)
    assert caught.value.problems == ["msg.tracking_number: required",
                                     "msg.tag: must be one of Pending, InfoReceived, InTransit, OutForDelivery, "
                                     "AttemptFail, Delivered, AvailableForPickup, Exception, Expired, got 'Teleported'"]
    with pytest.raises(InvalidPayload, match="msg: required"):
        parse_aftership({"event": "tracking_update", "event_id": "e1", "msg": []}, NOW)


# ---- EasyPost -----------------------------------------------------------------------------


def test_easypost_tracker_updated_is_delivered_at_the_last_detail():
    [event] = parse_easypost(json_fixture("easypost/tracker_updated.json"), NOW)
    assert event.payload.status == "delivered"
    assert event.payload.provider_substatus == "arrived_at_destination"
    assert event.payload.tracking_number == "EZ4000000004"
    assert event.contact.tracking_number == "EZ4000000004"
    assert event.payload.carrier == "USPS"
    assert event.payload.location == "CHARLESTON, SC"
    assert event.payload.message == "Delivered, In/At Mailbox"
    assert event.occurred_at == datetime(2026, 3, 2, 15, 10, 58, tzinfo=UTC)
    assert event.payload.provider_event_id == "evt_3f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.mark.parametrize(("status", "expected"), [
    ("unknown", "unknown"), ("pre_transit", "label_created"), ("in_transit", "in_transit"),
    ("out_for_delivery", "out_for_delivery"), ("delivered", "delivered"),
    ("available_for_pickup", "available_for_pickup"), ("return_to_sender", "returned"),
    ("failure", "exception"), ("cancelled", "exception"), ("error", "exception"),
])
def test_easypost_statuses_are_normalised(status, expected):
    payload = json_fixture("easypost/tracker_updated.json")
    payload["result"] = {**payload["result"], "status": status}
    assert parse_easypost(payload, NOW)[0].payload.status == expected
    assert STATUS[status] == expected


def test_easypost_signature_uses_the_nfkd_normalised_secret():
    body = raw("easypost/tracker_updated.json")
    secret = "ｓｅｃｒｅｔ-Å"  # full-width letters and a precomposed Å: NFKD changes both
    import unicodedata

    key = unicodedata.normalize("NFKD", secret).encode()
    header = "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    assert easypost_signature(secret, body) == header
    assert verify_easypost(secret, header, body)
    raw_key_header = "hmac-sha256-hex=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert not verify_easypost(secret, raw_key_header, body)
    assert not verify_easypost(secret, header.removeprefix("hmac-sha256-hex="), body)


def test_easypost_non_tracker_events_produce_nothing():
    assert parse_easypost(json_fixture("easypost/batch_created.json"), NOW) == []


def test_easypost_problems_are_named():
    payload = json_fixture("easypost/tracker_updated.json")
    payload["result"] = {"status": "teleported"}
    with pytest.raises(InvalidPayload) as caught:
        parse_easypost(payload, NOW)
    assert caught.value.problems[0] == "result.tracking_code: required"
    assert caught.value.problems[1].startswith("result.status: must be one of unknown, pre_transit")


# ---- generic ------------------------------------------------------------------------------


def test_generic_update_links_every_identifier():
    [event] = parse_generic(json_fixture("generic/delivered.json"), NOW)
    assert event.payload.status == "delivered"
    assert event.occurred_at == datetime(2026, 3, 2, 10, 42, tzinfo=UTC)
    assert (event.contact.order_ref, event.contact.customer_ref, event.contact.email) == (
        "A-1003", "K-2001", "kim.kunde@example.com")
    assert event.payload.provider_event_id == "shop-7781-delivered"


def test_generic_update_without_event_id_is_keyed_by_its_content():
    payload = {"tracking_number": "T1", "status": "in_transit", "occurred_at": "2026-03-02T10:00:00Z"}
    [first] = parse_generic(payload, NOW)
    [again] = parse_generic(payload, datetime(2026, 3, 5, tzinfo=UTC))
    [later] = parse_generic({**payload, "occurred_at": "2026-03-02T11:00:00Z"}, NOW)
    assert first.event_id == again.event_id != later.event_id


def test_generic_problems_are_all_named():
    with pytest.raises(InvalidPayload) as caught:
        parse_generic({"status": "lost in space", "occurred_at": "yesterday", "email": "nobody"}, NOW)
    problems = " | ".join(caught.value.problems)
    assert "tracking_number: required" in problems
    assert "status: must be one of label_created" in problems
    assert "occurred_at: must be an ISO 8601 time with a zone" in problems
    assert "email: not an email address" in problems


def test_generic_signature_is_hex_hmac_sha256_with_optional_prefix():
    body = raw("generic/delivered.json")
    signature = generic_signature("g-secret", body)
    assert signature == hmac.new(b"g-secret", body, hashlib.sha256).hexdigest()
    assert verify_generic("g-secret", signature, body)
    assert verify_generic("g-secret", f"sha256={signature}", body)
    assert not verify_generic("g-secret", signature, body + b" ")
