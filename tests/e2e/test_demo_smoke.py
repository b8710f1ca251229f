"""`touchpoint up --demo` from nothing: its own Kafka, SQLite, every service and the demo
traffic on free ports in a temporary directory; the API serves a populated timeline and a
breached complaint, and Ctrl-C (SIGINT) stops everything cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.demo.data import CALLBACK_CUSTOMER, demo_customers
from tests.infra.ports import free_port

pytestmark = pytest.mark.integration
AGENT = {"Authorization": "Bearer demo-agent-token"}


def touchpoint() -> list[str]:
    script = Path(sys.executable).parent / "touchpoint"
    return [str(script)] if script.exists() else [sys.executable, "-m", "shared.cli"]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def populated_timeline(api: str) -> list[dict] | None:
    """The entries of some demo customer, once the projector has written any."""
    with httpx.Client(base_url=api, headers=AGENT, timeout=5) as client:
        customers = client.get("/api/customers", params={"q": "e", "limit": 50}).json().get("customers", [])
        for customer in customers:
            entries = client.get(f"/api/customers/{customer['id']}/timeline").json()["entries"]
            if entries:
                return entries
    return None


def polled(read, api: str):  # type: ignore[no-untyped-def]
    """One poll of a wait loop: an answer slower than the client's timeout while every service of
    the demo starts on two cores is tried again at the next poll, within the loop's deadline."""
    try:
        return read(api)
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def breached_complaint(api: str) -> dict | None:
    with httpx.Client(base_url=api, headers=AGENT, timeout=5) as client:
        found = client.get("/api/complaints").json()["complaints"]
    return next((c for c in found if c["state"] == "breached" and c["subject"].startswith("Beschwerde: Erstattung")), None)


def waiting_callback(api: str) -> dict | None:
    """The demo's customer who called twice, once the grace time passed."""
    jonas = demo_customers()[CALLBACK_CUSTOMER]
    with httpx.Client(base_url=api, headers=AGENT, timeout=5) as client:
        found = client.get("/api/callbacks").json()["callbacks"]
    return next((c for c in found if c["phone"] == jonas.phones[0] and c["attempts"] >= 2), None)


def stop_everything(hub: subprocess.Popen, data_dir: Path) -> None:
    """After a failure: the hub's services (its session) and the broker it started (a session of
    its own), so nothing keeps running into the next tests."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(hub.pid, signal.SIGKILL)
    hub.wait()
    for pid_file in data_dir.rglob("kafka.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pid_file.read_text().strip()), signal.SIGKILL)


def test_up_demo_serves_a_populated_timeline_a_breached_complaint_and_a_waiting_callback_and_stops_on_ctrl_c(tmp_path: Path):
    ports = {name: free_port() for name in ("KAFKA", "KAFKA_CONTROLLER", "INGEST", "API", "NOTIFIER_METRICS",
                                            "SLA_METRICS", "PROJECTOR_METRICS", "IMAP_METRICS", "DEMO_SMTP")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    env.update({f"TOUCHPOINT_{name}_PORT": str(port) for name, port in ports.items()})
    env["TOUCHPOINT_DATA_DIR"] = str(tmp_path / "var")
    api = f"http://127.0.0.1:{ports['API']}"
    log = (tmp_path / "up.log").open("wb")
    # a session of its own, so a failed run can stop the hub's services and broker with it
    hub = subprocess.Popen([*touchpoint(), "up", "--demo"], env=env, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    stopped = False
    try:
        entries = None
        deadline = time.monotonic() + 240
        while entries is None:
            assert hub.poll() is None, (tmp_path / "up.log").read_text()[-4000:]
            assert time.monotonic() < deadline, "no populated timeline after 240 s:\n" + (tmp_path / "up.log").read_text()[-4000:]
            try:
                entries = populated_timeline(api)
            except (httpx.HTTPError, ValueError, KeyError):
                entries = None
            time.sleep(1)
        assert {"channel", "summary", "occurred_at"} <= set(entries[0])
        breached = None
        while breached is None:  # the overdue complaint mail is sent before the live traffic
            assert time.monotonic() < deadline + 60, "no breached complaint on the board"
            breached = polled(breached_complaint, api)
            time.sleep(0.5)
        assert (breached["policy"], breached["customer"]["email"]) == ("office-hours", "jonas.beispiel@example.org")
        waiting = None
        while waiting is None:  # the demo leaves a callback waiting (after its twenty-second grace time)
            assert hub.poll() is None, (tmp_path / "up.log").read_text()[-4000:]
            assert time.monotonic() < deadline + 180, "no waiting callback:\n" + (tmp_path / "up.log").read_text()[-4000:]
            waiting = polled(waiting_callback, api)
            time.sleep(2)
        assert waiting["customer"]["name"] == demo_customers()[CALLBACK_CUSTOMER].name
        login = httpx.get(f"{api}/login")
        assert login.status_code == 200 and "Content-Security-Policy" in login.headers

        os.killpg(hub.pid, signal.SIGINT)  # as Ctrl-C in a terminal: to the hub and every process it started
        assert hub.wait(90) == 0
        stopped = True
    finally:
        if not stopped:
            stop_everything(hub, tmp_path / "var")
        log.close()
    output = (tmp_path / "up.log").read_text()
    assert "demo: 13 customers imported" in output and "demo-agent-token" in output
    assert output.rstrip().endswith("stopped")
    stopping = output[output.index("stopping ..."):]
    assert "Traceback" not in stopping and "Unclosed" not in stopping, stopping[-4000:]
    assert not [name for name, port in ports.items() if listening(port)]
