"""Structured JSON logs carry the correlation id of the work being done (a webhook captured,
an event projected); the ingest service answers every request with its request id."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from services.projector.consume import BatchProjector
from shared.kafka.consumer import Batch, Consumed
from shared.kafka.publisher import InMemoryPublisher
from shared.logging import JsonFormatter, correlation_scope
from tests.complaint_builders import berlin, form
from tests.fixtures import raw
from tests.unit.webhook_app import CTI_TOKEN, ingest

CTI = f"/webhooks/telephony/cti?token={CTI_TOKEN}"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The JSON lines the root logger writes while the test runs (formatted as they are
    emitted, so inside the scope that was active)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("test"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def entries(out: io.StringIO, msg_prefix: str = "") -> list[dict]:
    lines = [orjson.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["msg"].startswith(msg_prefix)]


def test_a_json_log_line_carries_the_correlation_id_of_its_scope(json_lines):
    log = logging.getLogger("touchpoint.test")
    with correlation_scope("chain-7"):
        log.info("inside")
    log.info("outside")
    inside, outside = entries(json_lines)
    assert (inside["msg"], inside["correlation_id"], inside["service"]) == ("inside", "chain-7", "test")
    assert "correlation_id" not in outside


def test_a_webhook_event_is_logged_with_its_correlation_and_the_request_id(json_lines):
    app = ingest()
    response = app.client.post(CTI, content=raw("sipgate/newcall_inbound.form"),
                               headers={**FORM, "X-Request-ID": "req-123"})
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"] == "req-123"
    [event] = app.publisher.events
    [line] = entries(json_lines, "captured")
    assert line["correlation_id"] == event.correlation_id == str(event.event_id)
    assert (line["request_id"], line["event_id"], line["webhook"]) == ("req-123", str(event.event_id), "cti")


def test_a_correlation_header_is_taken_as_the_request_id():
    response = ingest().client.get("/healthz", headers={"X-Correlation-ID": "corr-9"})
    assert response.headers["X-Request-ID"] == "corr-9"


@pytest.mark.parametrize("sent", [None, "", "x" * 500, "bad id with spaces", "quote\"and;semicolon"])
def test_a_missing_or_unusable_request_id_is_replaced_by_a_new_one(sent):
    headers = {} if sent is None else {"X-Request-ID": sent}
    first = ingest().client.get("/healthz", headers=headers).headers["X-Request-ID"]
    second = ingest().client.get("/healthz", headers=headers).headers["X-Request-ID"]
    assert first != second and len(first) == 32 and first != sent


def test_an_error_answer_also_carries_the_request_id():
    response = ingest().client.post(CTI.split("?")[0], content=b"", headers={**FORM, "X-Request-ID": "req-err"})
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "req-err"


class RecordingWriter:
    def __init__(self) -> None:
        self.written: list = []

    async def write(self, events, offsets):  # the TimelineWriter port
        self.written.append((events, offsets))
        return None


async def test_the_projector_logs_each_projected_event_in_its_chain_at_debug(json_lines):
    first = form(berlin("2026-03-02 09:00"), n="1")
    second = form(berlin("2026-03-02 09:05"), n="2").model_copy(update={"correlation_id": "chain-2"})
    batch = Batch(events=[Consumed(first, "webforms", 0, 4), Consumed(second, "webforms", 0, 5)])
    writer = RecordingWriter()
    logging.getLogger("touchpoint.projector").setLevel(logging.DEBUG)
    try:
        await BatchProjector(writer, InMemoryPublisher(), "t.").handle(batch)  # type: ignore[arg-type]
    finally:
        logging.getLogger("touchpoint.projector").setLevel(logging.NOTSET)
    assert writer.written == [([first, second], {("webforms", 0): 6})]
    projected = entries(json_lines, "projected")
    assert [line["correlation_id"] for line in projected] == [str(first.event_id), "chain-2"]


def test_a_forked_worker_makes_request_ids_of_its_own():
    import os

    from shared.web import RequestIds

    ids = RequestIds()
    before_fork = ids.new()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one id, then out without pytest's teardown
        os.write(write, ids.new().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    in_child = os.read(read, 64).decode()
    os.close(read)
    in_parent = ids.new()
    assert len(in_child) == len(in_parent) == 32
    assert in_child[:20] != in_parent[:20]  # another prefix: the counters may meet, the ids never
    assert in_parent != before_fork
