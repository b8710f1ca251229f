"""Records nobody should have written: an event whose type is not a string, dead letters with
bad bytes, missing or malformed headers, and ids for replay that are not dead-letter ids."""

from __future__ import annotations

from datetime import UTC

import orjson
import pytest

from events import InvalidEvent, decode
from services.projector.ops.deadletters import DeadLetterView, ReplayRefused, parse_id
from shared.kafka.deadletter import DeadLetter


@pytest.mark.parametrize("event_type", [[], {}, 1, None, True, ["call.ended"]])
def test_an_event_type_that_is_not_a_string_is_an_invalid_event(event_type):
    with pytest.raises(InvalidEvent, match="type"):
        decode(orjson.dumps({"type": event_type, "schema_version": 1}))


def test_a_boolean_schema_version_is_an_invalid_event():
    with pytest.raises(InvalidEvent, match="schema_version"):
        decode(orjson.dumps({"type": "call.ended", "schema_version": True}))


def test_a_dead_letter_without_headers_reads_as_unknown():
    letter = DeadLetter.from_record(None, None, [])
    assert (letter.service, letter.reason, letter.original, letter.first_seen) == ("?", "?", b"", None)


def test_a_dead_letter_with_malformed_headers_reads_without_failing():
    headers = [("dlq.service", b"\xff\xfe"), ("dlq.source_partition", b"x1"), ("dlq.source_offset", None),
               ("dlq.first_seen", b"yesterday"), ("dlq.reason", b"r" * 100_000), ("dlq.source_topic", b"")]
    letter = DeadLetter.from_record(b"\x00\xff" * 1_000_000, b"\xff", headers)
    assert letter.source_partition is None and letter.source_offset is None and letter.first_seen is None
    assert letter.source_topic is None  # nothing to replay to
    assert len(letter.reason) <= 2000
    view = DeadLetterView("touchpoint.deadletter.projector", 0, 1, letter)
    assert len(view.preview) < 1000


def test_a_dead_letter_time_without_zone_is_read_as_utc():
    letter = DeadLetter.from_record(b"{}", None, [("dlq.first_seen", b"2026-03-02T09:15:00")])
    assert letter.first_seen is not None and letter.first_seen.tzinfo is UTC


def test_a_dead_letter_id_is_topic_partition_offset():
    assert parse_id("touchpoint.deadletter.projector:2:41", "touchpoint.") == ("touchpoint.deadletter.projector", 2, 41)


@pytest.mark.parametrize("value", [
    "", "x", "topic:1", "topic:a:1", "topic:1:-1", "topic:1:1:1", "to pic:1:1", "topic:1:" + "9" * 40,
    "tòpic:1:1", "topic\x00:1:1",
])
def test_a_malformed_dead_letter_id_is_refused(value):
    with pytest.raises(ReplayRefused):
        parse_id(value)


def test_only_dead_letter_topics_can_be_replayed_from():
    with pytest.raises(ReplayRefused, match="not a dead-letter topic"):
        parse_id("touchpoint.calls:0:1", "touchpoint.")
