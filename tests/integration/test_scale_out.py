"""The hub scaled out and knocked about: a three-broker cluster, two projectors and two
complaints processors, ingest, the notifier and the API on PostgreSQL. Webhooks (calls,
complaint forms, parcels) arrive at a steady rate while one broker and one projector are
killed with SIGKILL and started again. Afterwards every answered webhook is in the timeline
exactly once, every complaint was opened once, every breach was mailed once, and the lag of
every group is back to zero.

The run's size: TOUCHPOINT_SOAK_WEBHOOKS (default 300; the full run is 2000) at
TOUCHPOINT_SOAK_RATE webhooks per second (default 20)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from events import decode
from events.topics import Topic, topic_name
from services.projector.complaints.tables import complaints as complaints_table
from services.projector.timeline.tables import TIMELINE
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.lag import consumer_groups, consumer_lag
from tests.infra.ports import free_port, free_port_run
from shared.kafka.local_cluster import LocalCluster, default_shape
from shared.kafka.topics import ensure_topics, all_topic_names
from shared.privacy.runtime import install
from tests.integration.notifier_peers import SmtpPeer
from tests.integration.test_kafka_cluster import read_all

pytestmark = [pytest.mark.integration, pytest.mark.soak]

ROOT = Path(__file__).resolve().parents[2]
WEBHOOKS = int(os.environ.get("TOUCHPOINT_SOAK_WEBHOOKS", "300"))
RATE = float(os.environ.get("TOUCHPOINT_SOAK_RATE", "20"))
CTI_TOKEN, SHIPPING_SECRET = "soak-cti-token-0123456789abcdef", "soak-shipping-secret-0123456789ab"


def config(smtp_port: int) -> str:
    return f"""
[webhooks.cti]
token = "{CTI_TOKEN}"
[webhooks.forms.complaint]
required = ["email", "message"]
topic = "complaint"
rate_limit_per_minute = 0
[webhooks.shipping.generic]
secret = "{SHIPPING_SECRET}"

[sla]
timezone = "Europe/Berlin"
[[sla.policies]]
name = "soak"
calendar = "24/7"
first_response = "20s"
resolution = "1d"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
sender = "touchpoint@shop.example"
timeout = 5
[notifier]
retry_initial = 0.5
retry_max = 2
poll_interval = 0.5
[[routing.rules]]
name = "breach-lead"
match = {{ type = "sla.breached" }}
email = ["lead@shop.example"]
"""


class Hub:
    """The services as separate processes, each started and killed on its own."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.base, self.env = base, env
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: str) -> None:
        log = (self.base / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen([sys.executable, "-m", "shared.cli", command], cwd=ROOT,
                                                env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait(10)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None and process.returncode != -signal.SIGKILL:
                raise AssertionError(f"{name} exited with {process.returncode}:\n"
                                     f"{(self.base / f'{name}.log').read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def webhook(n: int) -> tuple[str, dict]:
    """The n-th request: a call (ring, then hang-up), a complaint form or a parcel update."""
    kind = n % 4
    if kind in (0, 1):
        call = n // 4
        event = {"event": "newCall"} if kind == 0 else {"event": "hangup", "cause": "normalClearing"}
        data = {**event, "callId": f"soak-call-{call}", "from": f"49301234{call:04d}", "to": "4930555000",
                "direction": "in", "user": "Anna"}
        return "cti", {"url": "/webhooks/telephony/cti", "data": data, "params": {"token": CTI_TOKEN}}
    if kind == 2:
        data = {"email": f"kunde{n}@example.org", "name": f"Kunde {n}", "message": "Die Ware kam kaputt an."}
        return "complaint", {"url": "/webhooks/forms/complaint", "data": data}
    body = json.dumps({"tracking_number": f"SOAK{n:06d}", "carrier": "dhl", "status": "in_transit",
                       "occurred_at": datetime.now(UTC).isoformat(), "email": f"paket{n}@example.org"}).encode()
    signature = hmac.new(SHIPPING_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return "parcel", {"url": "/webhooks/shipping/generic", "content": body,
                      "headers": {"Content-Type": "application/json", "X-Touchpoint-Signature": signature}}


async def deliver(client: httpx.AsyncClient, n: int, accepted: dict[int, tuple[str, list[str]]]) -> None:
    """Sends like a provider: answers other than 200 are retried a few times."""
    kind, request = webhook(n)
    url = request.pop("url")
    for attempt in range(6):
        try:
            response = await client.post(url, **request)
            if response.status_code == 200:
                accepted[n] = (kind, response.json()["event_ids"])
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(1.0 + attempt)


async def group_lag(bootstrap: str, prefix: str) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for row in await consumer_lag(bootstrap, prefix):
        totals[row.group] += row.lag
    return dict(totals)


async def eventually(check, what: str, hub: Hub, seconds: float = 180) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        hub.check_alive()
        result = await check()
        if result is True:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen in {seconds:.0f} s (last: {result})")
        await asyncio.sleep(1)


async def test_the_scaled_out_hub_loses_and_doubles_nothing_when_a_broker_and_a_projector_die(
    session_dir, postgres_url, tmp_path
):
    base = free_port_run(6)
    cluster = LocalCluster(tmp_path / "kafka", default_shape(3, base, base + 1), heap="384m")
    smtp = SmtpPeer().start()
    hub: Hub | None = None
    engine = make_engine(postgres_url)
    try:
        cluster.start()
        bootstrap = cluster.bootstrap
        prefix = f"soak{uuid.uuid4().hex[:6]}."
        await ensure_topics(bootstrap, all_topic_names(prefix), partitions=4)
        await upgrade_async(postgres_url)
        (tmp_path / "touchpoint.toml").write_text(config(smtp.port))
        ingest_port, api_port = free_port(), free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("TOUCHPOINT_")}
        env.update({
            "TOUCHPOINT_CONFIG": str(tmp_path / "touchpoint.toml"), "TOUCHPOINT_DATA_DIR": str(tmp_path / "var"),
            "TOUCHPOINT_KAFKA_BOOTSTRAP": bootstrap, "TOUCHPOINT_TOPIC_PREFIX": prefix,
            "TOUCHPOINT_DATABASE_URL": postgres_url, "TOUCHPOINT_INGEST_PORT": str(ingest_port),
            "TOUCHPOINT_API_PORT": str(api_port), "TOUCHPOINT_DEFAULT_REGION": "DE", "TOUCHPOINT_LOG_LEVEL": "WARNING",
            **{f"TOUCHPOINT_{name}_METRICS_PORT": "0" for name in ("PROJECTOR", "SLA", "NOTIFIER", "IMAP")},
        })
        hub = Hub(tmp_path, env)
        for name, command in (("ingest", "ingest"), ("projector-1", "projector"), ("projector-2", "projector"),
                              ("sla-1", "sla"), ("sla-2", "sla"), ("notifier", "notifier"), ("api", "api")):
            hub.start(name, command)

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ingest_port}", timeout=30) as client:
            async def ready() -> bool | str:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.HTTPError as exc:
                    return repr(exc)

            await eventually(ready, "ingest answering /readyz", hub)
            accepted: dict[int, tuple[str, list[str]]] = {}
            sending: list[asyncio.Task] = []
            started = time.monotonic()
            for n in range(WEBHOOKS):
                await asyncio.sleep(max(0.0, started + n / RATE - time.monotonic()))
                if n == int(WEBHOOKS * 0.35):
                    os.kill(cluster.nodes[1].running_pid(), signal.SIGKILL)
                if n == int(WEBHOOKS * 0.5):
                    hub.kill("projector-1")
                if n == int(WEBHOOKS * 0.75):
                    await asyncio.to_thread(cluster.start)  # brings the killed node back
                    hub.start("projector-1", "projector")
                sending.append(asyncio.create_task(deliver(client, n, accepted)))
            await asyncio.gather(*sending)
        assert len(accepted) >= WEBHOOKS * 0.95, f"only {len(accepted)} of {WEBHOOKS} webhooks were answered 200"

        expected_events = {event_id for _kind, ids in accepted.values() for event_id in ids}
        complaints_sent = sum(kind == "complaint" for kind, _ids in accepted.values())

        async def projected() -> bool | str:
            async with engine.connect() as conn:
                applied = set((await conn.scalars(select(TIMELINE.applied.c.event_id))).all())
            missing = expected_events - applied
            return True if not missing else f"{len(missing)} accepted events not in the timeline"

        await eventually(projected, "every accepted webhook reaching the timeline", hub)

        async def breaches_mailed() -> bool | str:
            async with engine.connect() as conn:
                opened = await conn.scalar(select(func.count()).select_from(complaints_table))
            mailed = len(smtp.messages)
            return True if opened == complaints_sent and mailed >= complaints_sent else \
                f"{opened} of {complaints_sent} complaints open, {mailed} breaches mailed"

        await eventually(breaches_mailed, "a complaint and a breach mail per complaint form", hub, seconds=240)

        async def caught_up() -> bool | str:
            lags = await group_lag(bootstrap, prefix)
            return True if lags and not any(lags.values()) else str(lags)

        await eventually(caught_up, "every group's lag back at zero", hub)
        _rows, members = await consumer_groups(bootstrap, prefix)
        sla_shares = [set(m.partitions) for m in members if m.group == f"{prefix}sla"]
        assert len(sla_shares) == 2 and all(sla_shares), f"the two sla instances do not share the work: {members}"
        assert not sla_shares[0] & sla_shares[1]
        await asyncio.sleep(3)  # a late duplicate would show up by now
        hub.check_alive()

        async with engine.connect() as conn:
            entries = (await conn.execute(select(TIMELINE.entries.c.entry_key, TIMELINE.entries.c.event_id))).all()
        keys = Counter(entry.entry_key for entry in entries)
        assert [key for key, copies in keys.items() if copies > 1] == []
        calls = {f"call:cti:soak-call-{n // 4}" for n, (kind, _ids) in accepted.items() if kind == "cti"}
        assert {key for key in keys if key.startswith("call:")} == calls  # one entry per call, both pushes folded in
        shown = Counter(entry.event_id for entry in entries)
        single = [ids[0] for kind, ids in accepted.values() if kind in ("complaint", "parcel")]
        assert [event_id for event_id in single if shown[event_id] != 1] == []  # each form and parcel once

        install(Settings(data_dir=tmp_path / "var", database_url=postgres_url))  # opens what the hub sealed
        records = await read_all(bootstrap, topic_name(prefix, Topic.COMPLAINTS))
        opened = Counter(event.payload.complaint_id for event in map(decode, records) if event.type == "complaint.opened")
        assert len(opened) == complaints_sent and set(opened.values()) == {1}, "a complaint was opened twice"
        assert len(smtp.messages) == complaints_sent, "a breach was mailed more than once"
        assert len(set(smtp.message_ids())) == complaints_sent
    finally:
        if hub is not None:
            hub.stop()
        smtp.stop()
        cluster.stop(wait_seconds=0)
        await engine.dispose()
