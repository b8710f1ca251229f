"""The event contract: round trips, the type discriminator, errors that name the field,
deterministic ids, upcasting, PII markers, and the committed schemas and examples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from events import EVENT_CLASSES, EVENT_TYPES, ContactIdentifiers, InvalidEvent, decode, encode, event_id_for
from events.call import CallEnded, CallEndedPayload, CallStarted, CallStartedPayload
from events.codec import decode_dict, upcast
from events.compat import breaking_changes
from events.pii import pii_paths
from events.registry import current_version, type_name
from events.schema_files import EXAMPLES_DIR, SCHEMA_DIR, generate, render, schema_path
from events.topics import TOPIC_OF_TYPE

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def call_started(call_id: str = "c-1", phone: str | None = "+4915112345678") -> CallStarted:
    return CallStarted(
        event_id=event_id_for("call.started", "cti", call_id),
        occurred_at=T0,
        recorded_at=T0,
        source="cti",
        contact=ContactIdentifiers(phone=phone),
        payload=CallStartedPayload(provider="cti", call_id=call_id, direction="inbound", from_number=phone),
    )


def example_files() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*/*/*.json"))


def test_an_event_survives_encode_and_decode_unchanged():
    event = call_started()
    assert decode(encode(event)) == event


def test_decode_picks_the_class_from_the_type_field():
    raw = json.loads(encode(call_started()))
    assert type(decode_dict(raw)) is CallStarted


def test_every_event_type_has_a_topic_and_a_schema_and_an_example():
    for cls in EVENT_CLASSES:
        name, version = type_name(cls), current_version(cls)
        assert name in TOPIC_OF_TYPE
        assert schema_path(name, version).exists(), f"missing schema for {name} v{version}"
        assert list((EXAMPLES_DIR / name / str(version)).glob("*.json")), f"missing example for {name} v{version}"


@pytest.mark.parametrize("path", example_files(), ids=lambda p: f"{p.parent.parent.name}/v{p.parent.name}/{p.name}")
def test_every_committed_example_still_decodes(path: Path):
    event = decode(path.read_bytes())
    assert event.type == path.parent.parent.name


def test_a_missing_field_is_named_in_the_error():
    raw = json.loads(encode(call_started()))
    del raw["payload"]["call_id"]
    with pytest.raises(InvalidEvent, match=r"payload\.call_id: Field required"):
        decode_dict(raw)


def test_an_unknown_field_is_rejected_by_name():
    raw = json.loads(encode(call_started()))
    raw["payload"]["colour"] = "blue"
    with pytest.raises(InvalidEvent, match=r"payload\.colour: Extra inputs are not permitted"):
        decode_dict(raw)


def test_an_unknown_type_is_rejected():
    raw = json.loads(encode(call_started()))
    raw["type"] = "call.teleported"
    with pytest.raises(InvalidEvent, match="unknown event type 'call.teleported'"):
        decode_dict(raw)


def test_naive_datetimes_are_rejected():
    raw = json.loads(encode(call_started()))
    raw["occurred_at"] = "2026-03-02T09:00:00"
    with pytest.raises(InvalidEvent, match="occurred_at"):
        decode_dict(raw)


def test_bytes_that_are_not_json_are_an_invalid_event():
    with pytest.raises(InvalidEvent, match="not JSON"):
        decode(b"\x00\xff not json")


def test_a_phone_number_must_be_e164():
    with pytest.raises(ValueError, match="E.164"):
        ContactIdentifiers(phone="0151 1234567")


def test_an_email_address_must_be_normalised():
    with pytest.raises(ValueError, match="lower-cased"):
        ContactIdentifiers(email="Erika@Example.org")


def test_events_are_frozen():
    event = call_started()
    with pytest.raises(ValueError):
        event.source = "other"  # type: ignore[misc]


def test_event_ids_are_deterministic_per_natural_key():
    assert event_id_for("call.started", "cti", "c-1") == event_id_for("call.started", "cti", "c-1")
    assert event_id_for("call.started", "cti", "c-1") != event_id_for("call.ended", "cti", "c-1")
    assert event_id_for("ab", "c") != event_id_for("a", "bc")


def test_a_call_without_caller_number_is_keyed_by_its_call_id():
    assert call_started(phone=None).partition_key() == "call_id:c-1"
    assert call_started().partition_key() == "phone:+4915112345678"


def test_a_newer_version_than_this_build_reads_is_refused_with_advice():
    raw = json.loads(encode(call_started()))
    raw["schema_version"] = 7
    with pytest.raises(InvalidEvent, match="upgrade Touchpoint"):
        decode_dict(raw)


def test_upcasters_lift_an_old_payload_before_validation():
    """Once call.ended v2 renames a field, a v1 record written long ago still reads."""
    v1 = json.loads(encode(CallEnded(
        event_id=event_id_for("call.ended", "cti", "c-9"), occurred_at=T0, recorded_at=T0, source="cti",
        payload=CallEndedPayload(provider="cti", call_id="c-9", direction="inbound", disposition="missed"),
    )))
    v1["payload"]["result"] = v1["payload"].pop("disposition")

    def v1_to_v2(data: dict) -> dict:
        payload = dict(data["payload"])
        payload["disposition"] = payload.pop("result")
        return {**data, "payload": payload, "schema_version": 2}

    lifted = upcast(v1, {("call.ended", 1): v1_to_v2}, versions={"call.ended": 2})
    assert lifted["schema_version"] == 2
    assert lifted["payload"]["disposition"] == "missed"
    assert "result" not in lifted["payload"]


def test_a_missing_upcaster_is_an_invalid_event():
    v1 = json.loads(encode(call_started()))
    with pytest.raises(InvalidEvent, match="no upcaster from call.started v1"):
        upcast(v1, {}, versions={"call.started": 2})


def test_an_upcaster_that_forgets_the_version_is_caught():
    v1 = json.loads(encode(call_started()))
    with pytest.raises(InvalidEvent, match="did not produce v2"):
        upcast(v1, {("call.started", 1): lambda d: d}, versions={"call.started": 2})


def test_pii_fields_are_marked_in_the_models():
    paths = pii_paths(EVENT_TYPES["email.received"])
    assert {"contact.email", "payload.subject", "payload.text", "payload.sender.email", "payload.sender.name"} <= set(paths)
    assert "payload.message_id" not in paths
    assert "payload.from_number" in pii_paths(CallStarted)


def test_pii_markers_reach_the_json_schema():
    props = json.loads(schema_path("webform.submitted", 1).read_text())["$defs"]["WebformPayload"]["properties"]

    def marked(node: dict) -> bool:
        return node.get("x-pii") is True or any(marked(option) for option in node.get("anyOf", []))

    assert marked(props["message"]) and marked(props["fields"])
    assert not marked(props["form_id"])


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=type_name)
def test_committed_schema_matches_the_model(cls):
    path = schema_path(type_name(cls), current_version(cls))
    committed = json.loads(path.read_text())
    current = generate(cls)
    if committed == current:
        return
    problems = breaking_changes(committed, current)
    if problems:
        pytest.fail(
            f"{type_name(cls)} v{current_version(cls)} changed incompatibly ({'; '.join(problems)}): "
            "bump schema_version, add an upcaster and keep the old schema and examples"
        )
    pytest.fail(f"{path.name} is out of date: run `python -m events.schema_files --write` and commit it")


def test_compat_check_sees_a_new_required_field_and_a_removed_one():
    old = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
           "required": ["a"], "additionalProperties": False}
    new = {"type": "object", "properties": {"a": {"type": "string"}, "c": {"type": "string"}},
           "required": ["a", "c"], "additionalProperties": False}
    assert breaking_changes(old, new) == ["b: removed", "c: now required"]


def test_compat_check_allows_a_new_optional_field():
    old = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    new = {"type": "object", "properties": {"a": {"type": "string"}, "n": {"type": "string"}}, "required": ["a"]}
    assert breaking_changes(old, new) == []


def test_compat_check_sees_a_narrowed_type():
    old = {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}
    new = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert breaking_changes(old, new) == ["a: no longer accepts ['null']"]


def test_schema_files_are_rendered_stably():
    cls = EVENT_CLASSES[0]
    assert render(generate(cls)) == render(generate(cls))
    assert SCHEMA_DIR.is_dir()


@pytest.mark.parametrize("path", example_files(), ids=lambda p: f"{p.parent.parent.name}/v{p.parent.name}/{p.name}")
def test_a_payload_value_is_the_field_or_none_where_the_type_has_no_such_field(path: Path):
    event = decode(path.read_bytes())
    for name in (*type(event.payload).model_fields, "complaint_id", "thread_key", "no_such_field"):
        assert event.payload_value(name) == getattr(event.payload, name, None)
