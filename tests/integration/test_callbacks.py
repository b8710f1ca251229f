"""Callbacks against real Kafka and PostgreSQL: missed calls published to the calls topic open,
count and close callbacks through the callback service (as `touchpoint sla` runs it); the
queue rebuilt from offset 0 is the same; an agent closes one through the API; a record that
is no event goes to `deadletter.callbacks`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from events.topics import Topic, topic_name
from services.projector.api.auth import Authorizer
from services.projector.api.callbacks import callbacks_router
from services.projector.callbacks.processor import DECIDER, PROJECTION, callbacks_topic
from services.projector.callbacks.rebuild import rebuild_async
from services.projector.callbacks.rules import rules_from_settings
from services.projector.callbacks.service import CallbackService
from services.projector.callbacks.tables import callback_pending, callbacks
from services.projector.ops.deadletters import read_dead_letters
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import load_offsets
from shared.kafka.consumer import BatchReader
from shared.kafka.lag import consumer_lag
from shared.kafka.publisher import KafkaPublisher
from shared.web import install_error_handlers
from tests.callback_calls import answered, ended, missed
from tests.integration.complaint_harness import configure, eventually

pytestmark = pytest.mark.integration

CALLER, OTHER, THIRD = "+4930111222", "+4930333444", "+4930555666"
AGENT = {"Authorization": "Bearer agent-token-1"}
FILE = {
    "auth": {"tokens": [{"token": "agent-token-1", "user": "anna", "role": "agent"}]},
    "callbacks": {"grace": "2s", "escalate_after": "3s"},
}


class Running:
    def __init__(self, settings) -> None:  # type: ignore[no-untyped-def]
        self.settings, self.rules = settings, rules_from_settings(settings)
        self.engine = make_engine(settings.db_url)
        self.publisher = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix)
        self.service: CallbackService | None = None

    async def start(self) -> Running:
        await upgrade_async(self.settings.db_url)
        await self.publisher.start()
        self.service = CallbackService(self.settings.bootstrap_servers, self.settings.topic_prefix, self.engine,
                                       self.publisher, self.rules, timer_interval=0.1, retry_delay=0.5)
        await self.service.start()
        return self

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
            self.service = None

    async def close(self) -> None:
        await self.stop()
        await self.publisher.stop()
        await self.engine.dispose()

    async def caught_up(self) -> bool:
        topics = [topic_name(self.settings.topic_prefix, Topic.CALLS), callbacks_topic(self.settings.topic_prefix)]
        async with BatchReader(self.settings.bootstrap_servers, topics) as reader:
            ends = await reader.end_offsets()
        async with self.engine.connect() as conn:
            stored = {**await load_offsets(conn, DECIDER), **await load_offsets(conn, PROJECTION)}
        return all(stored.get(position, 0) >= end for position, end in ends.items())

    async def rows(self) -> dict[str, dict]:
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(callbacks).order_by(callbacks.c.callback_id))).mappings().all()
        return {row["phone"]: dict(row) for row in found}

    async def row(self, phone: str) -> dict | None:
        return (await self.rows()).get(phone)


async def callback_log(settings) -> list:  # type: ignore[no-untyped-def]
    async with BatchReader(settings.bootstrap_servers, [callbacks_topic(settings.topic_prefix)]) as reader:
        return [c.event async for batch in reader.batches(until_end=True) for c in batch.events]


@pytest.fixture
async def hub(kafka_settings, postgres_url):
    running = await Running(configure(kafka_settings, postgres_url, FILE)).start()
    yield running
    await running.close()


async def test_a_missed_call_opens_a_callback_that_counts_repeats_and_closes_on_the_call_back(hub):
    now = datetime.now(UTC)
    await hub.publisher.publish([missed("m1", now, CALLER)])
    opened = await eventually(lambda: hub.row(CALLER), "the callback to open after the grace time")
    assert (opened["status"], opened["attempts"]) == ("open", 1)

    # the same missed call again (a retried webhook) and a second one: one callback, two calls
    await hub.publisher.publish([missed("m1", now, CALLER), missed("m2", now + timedelta(seconds=1), CALLER, "busy")])

    async def counted():
        row = await hub.row(CALLER)
        return row if row["attempts"] == 2 else None

    await eventually(counted, "the second missed call to be counted")
    await hub.publisher.publish([answered("back1", "outbound", datetime.now(UTC), CALLER),
                                 ended("back1", "outbound", datetime.now(UTC), "answered", CALLER)])

    async def closed():
        row = await hub.row(CALLER)
        return row if row["status"] == "closed" else None

    row = await eventually(closed, "the call back to close the callback")
    assert (row["close_reason"], row["closed_by"], row["closing_call_id"]) == ("called_back", "anna", "back1")
    await eventually(hub.caught_up, "the processor to catch up")
    types = [e.type for e in await callback_log(hub.settings) if e.payload.phone == CALLER]
    assert types.count("callback.opened") == 1 and types.count("callback.attempted") == 1
    assert types.count("callback.closed") == 1  # the answer and the end of the call back: one closing


async def test_a_caller_who_reaches_us_within_the_grace_time_is_owed_no_callback(hub):
    now = datetime.now(UTC)
    await hub.publisher.publish([missed("g1", now, OTHER), answered("g2", "inbound", now + timedelta(seconds=1), OTHER)])
    await hub.publisher.publish([missed("g3", now, THIRD)])  # a control: this caller did not get through
    await eventually(lambda: hub.row(THIRD), "the control callback")
    await eventually(hub.caught_up, "the processor to catch up")
    assert await hub.row(OTHER) is None
    async with hub.engine.connect() as conn:
        assert (await conn.execute(select(callback_pending))).first() is None


async def test_the_queue_rebuilt_from_offset_zero_is_the_same(hub):
    now = datetime.now(UTC)
    await hub.publisher.publish([missed("r1", now, CALLER), missed("r2", now, OTHER)])
    await eventually(lambda: hub.row(OTHER), "both callbacks")
    await hub.publisher.publish([missed("r3", datetime.now(UTC), CALLER),
                                 ended("r4", "outbound", datetime.now(UTC), "answered", OTHER)])

    async def settled():
        rows = await hub.rows()
        return rows if rows[CALLER]["attempts"] == 2 and rows[OTHER]["status"] == "closed" else None

    await eventually(settled, "the attempt and the closing")
    await eventually(lambda: _overdue(hub, CALLER), "the open callback to be reported overdue")
    await eventually(hub.caught_up, "the processor to catch up")
    before = await hub.rows()
    await hub.stop()
    assert await rebuild_async(hub.settings, show_progress=False) >= 5
    assert await hub.rows() == before
    overdue = [e for e in await callback_log(hub.settings) if e.type == "callback.overdue"]
    assert [e.payload.phone for e in overdue] == [CALLER]  # once; the closed one never


async def _overdue(hub: Running, phone: str) -> bool:
    row = await hub.row(phone)
    return row is not None and row["overdue_at"] is not None


async def test_an_agent_closes_a_callback_through_the_api_with_an_outcome_note(hub):
    await hub.publisher.publish([missed("a1", datetime.now(UTC), CALLER)])
    row = await eventually(lambda: hub.row(CALLER), "the callback")
    app = FastAPI()
    app.state.engine, app.state.publisher = hub.engine, hub.publisher
    install_error_handlers(app)
    app.include_router(callbacks_router(Authorizer(hub.settings), hub.rules, "DE"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        listed = (await client.get("/api/callbacks", headers=AGENT)).json()["callbacks"]
        assert [(c["phone"], c["attempts"]) for c in listed] == [(CALLER, 1)]
        url = f"/api/callbacks/{row['callback_id']}/close"
        assert (await client.post(url, json={"note": "  "}, headers=AGENT)).status_code == 422
        answer = await client.post(url, json={"note": "Reached on the mobile; parcel re-sent"}, headers=AGENT)
        assert answer.status_code == 202

        async def closed():
            found = await hub.row(CALLER)
            return found if found["status"] == "closed" else None

        done = await eventually(closed, "the agent's closing to be applied")
        assert (done["close_reason"], done["closed_by"], done["close_note"]) == (
            "agent", "anna", "Reached on the mobile; parcel re-sent")
        again = await client.post(url, json={"note": "twice"}, headers=AGENT)
        assert (again.status_code, again.json()["error"]) == (409, "callback_closed")
        assert (await client.post("/api/callbacks/nope/close", json={"note": "x"}, headers=AGENT)).status_code == 404
        assert (await client.get("/api/callbacks?status=closed&phone=030 111222", headers=AGENT)).json()["callbacks"][0][
            "close_reason"] == "agent"


async def test_a_record_that_is_no_event_is_dead_lettered_and_the_rest_goes_on(hub):
    calls = topic_name(hub.settings.topic_prefix, Topic.CALLS)
    await hub.publisher.send_raw(calls, b"{not an event", b"phone:" + CALLER.encode(), [])
    await hub.publisher.publish([missed("d1", datetime.now(UTC), CALLER)])
    await eventually(lambda: hub.row(CALLER), "the callback after the poison record")
    letters = await eventually(lambda: read_dead_letters(hub.settings.bootstrap_servers, hub.settings.topic_prefix),
                               "the dead letter")
    assert [(v.topic, v.letter.service, v.letter.original) for v in letters] == [
        (f"{hub.settings.topic_prefix}deadletter.callbacks", "callbacks", b"{not an event")]


async def test_an_overdue_callback_reaches_the_routing_rule_by_mail_exactly_once(kafka_settings, postgres_url, tmp_path):
    from tests.integration.notifier_peers import SmtpPeer, wait_until
    from tests.integration.test_notifier_worker import alive, start_worker, stop_worker, worker_env

    smtp = SmtpPeer().start()
    config = tmp_path / "touchpoint.toml"
    config.write_text(f"""
[smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "plain"
sender = "touchpoint@shop.example"
timeout = 2
[notifier]
poll_interval = 0.2
[[routing.rules]]
name = "callbacks-lead"
match = {{ type = "callback.overdue" }}
email = ["lead@shop.example"]
""")
    log = tmp_path / "notifier.log"
    worker = start_worker(worker_env(kafka_settings, postgres_url, config, tmp_path / "var"), log)
    hub = await Running(configure(kafka_settings, postgres_url, FILE)).start()
    try:
        await hub.publisher.publish([missed("e1", datetime.now(UTC), CALLER)])
        running = alive(worker, log)
        await wait_until(lambda: running() and smtp.messages, "the escalation mail", limit=90)
        [late] = [e for e in await callback_log(hub.settings) if e.type == "callback.overdue"]
        await hub.publisher.publish([late])  # seen again (a replay): no second mail
        await hub.stop()
        await hub.start()  # the timers run again: the callback was reported already
        await eventually(hub.caught_up, "the processor to catch up")

        async def notifier_read_all() -> bool:
            callbacks_log = callbacks_topic(hub.settings.topic_prefix)
            rows = await consumer_lag(hub.settings.bootstrap_servers, hub.settings.topic_prefix)
            mine = [r for r in rows if r.group.endswith("notifier") and r.topic == callbacks_log]
            return running() and bool(mine) and sum(r.end for r in mine) == 3 and all(r.lag == 0 for r in mine)

        await eventually(notifier_read_all, "the notifier to read the replayed copy")
        assert smtp.recipients() == ["lead@shop.example"]
        (mail,) = smtp.messages
        assert "Callback waiting too long" in mail["Subject"] and CALLER in mail.get_body(("plain",)).get_content()
        overdue = [e.event_id for e in await callback_log(hub.settings) if e.type == "callback.overdue"]
        assert len(overdue) == 2 and len(set(overdue)) == 1  # our replayed copy; the timers added none
    finally:
        await hub.close()
        stop_worker(worker)
        smtp.stop()
