"""The real stack for browser tests: the session's Kafka, and `touchpoint ingest`, `projector`,
`complaints` and `api` as separate processes on free ports, sharing one SQLite read model."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.config import Settings, load_settings
from tests.infra.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
AGENT, LEAD, OPS = "e2e-agent-token", "e2e-lead-token", "e2e-ops-token"
CTI_TOKEN, SHIPPING_SECRET = "e2e-cti-token", "e2e-shipping-secret"
SERVICES = ("ingest", "projector", "sla", "api")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]

CONFIG = f"""
[webhooks.cti]
token = "{CTI_TOKEN}"
[webhooks.forms.contact]
required = ["email", "message"]
topic = "contact"
rate_limit_per_minute = 0
[webhooks.forms.complaint]
required = ["email", "message"]
topic = "complaint"
rate_limit_per_minute = 0
[webhooks.forms.newsletter]
required = ["email"]
rate_limit_per_minute = 0
consent = {{ marketing = "newsletter_optin" }}
consent_text_version = "2026-01"
consent_withdrawable = ["marketing"]
[webhooks.shipping.generic]
secret = "{SHIPPING_SECRET}"

[auth]
session_secret = "e2e-session-secret-0123456789"
[[auth.tokens]]
token = "{AGENT}"
user = "anna"
role = "agent"
extension = "21"
[[auth.tokens]]
token = "{LEAD}"
user = "lena"
role = "lead"
language = "de"
[[auth.tokens]]
token = "{OPS}"
user = "olaf"
role = "ops"

[callbacks]
grace = "1s"

[sla]
timezone = "Europe/Berlin"
[[sla.calendars]]
name = "office"
hours = {{ mon = ["08:00-12:00", "13:00-17:00"], tue = ["08:00-17:00"], wed = ["08:00-17:00"], thu = ["08:00-17:00"], fri = ["08:00-15:00"] }}
[[sla.complaint_mail_rules]]
subject_pattern = "^(Beschwerde|Complaint):"
priority = "high"
[[sla.policies]]
name = "office-hours"
calendar = "office"
first_response = "4h"
resolution = "2d"
priorities = ["high"]
[[sla.policies]]
name = "e2e"
calendar = "24/7"
first_response = "1h"
resolution = "1d"
warn_at = ["80%"]
"""


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.settings.api_port}"

    @property
    def ingest(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingest_port}"

    def start(self) -> None:
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            out = (logs / f"{name}.log").open("wb")
            self.processes[name] = subprocess.Popen([sys.executable, "-m", "shared.cli", name], cwd=ROOT, env=self.env,
                                                    stdout=out, stderr=subprocess.STDOUT)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.settings.data_dir / "logs" / f"{name}.log").read_text()[-3000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{log}")

    async def wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(timeout=5) as client:
            for url in (f"{self.ingest}/readyz", f"{self.api}/readyz"):
                while True:
                    self.check_alive()
                    try:
                        if (await client.get(url)).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{url} not ready after {seconds} s")
                    await asyncio.sleep(0.3)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def make_stack(base: Path, kafka_bootstrap: str) -> Stack:
    base.mkdir(parents=True, exist_ok=True)
    config = base / "touchpoint.toml"
    config.write_text(CONFIG)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOUCHPOINT_")}
    env.update({
        "TOUCHPOINT_CONFIG": str(config),
        "TOUCHPOINT_DATA_DIR": str(base / "var"),
        "TOUCHPOINT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TOUCHPOINT_TOPIC_PREFIX": f"e2e{uuid.uuid4().hex[:8]}.",
        "TOUCHPOINT_TOPIC_PARTITIONS": "2",
        "TOUCHPOINT_INGEST_PORT": str(free_port()),
        "TOUCHPOINT_API_PORT": str(free_port()),
        **{f"TOUCHPOINT_{name}_METRICS_PORT": "0" for name in ("PROJECTOR", "SLA", "NOTIFIER", "IMAP")},
        "TOUCHPOINT_DEFAULT_REGION": "DE",
        "TOUCHPOINT_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        settings = load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return Stack(settings, env)
