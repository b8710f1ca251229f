"""The configuration `touchpoint up --demo` writes when no TOUCHPOINT_CONFIG is given."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class DemoSecrets:
    agent_token: str = "demo-agent-token"
    lead_token: str = "demo-lead-token"
    ops_token: str = "demo-ops-token"
    cti_token: str = "demo-cti-token"
    shipping_secret: str = "demo-shipping-secret"
    # the notifications' mail sink; TOUCHPOINT_DEMO_SMTP_PORT moves it when 8025 is taken
    smtp_port: int = field(default_factory=lambda: int(os.environ.get("TOUCHPOINT_DEMO_SMTP_PORT", "8025")))


def demo_config_toml(secrets: DemoSecrets) -> str:
    return f"""# Written by `touchpoint up --demo`. Delete it to get a fresh one.
[webhooks.cti]
token = "{secrets.cti_token}"
[webhooks.forms.contact]
required = ["email", "message"]
topic = "contact"
consent = {{ marketing = "newsletter" }}
consent_text_version = "demo-2026-01"
[webhooks.forms.complaint]
required = ["email", "message"]
topic = "complaint"
[webhooks.shipping.generic]
secret = "{secrets.shipping_secret}"

[[auth.tokens]]
token = "{secrets.agent_token}"
user = "anna"
role = "agent"
extension = "21"
[[auth.tokens]]
token = "{secrets.lead_token}"
user = "lena"
role = "lead"
extension = "22"
[[auth.tokens]]
token = "{secrets.ops_token}"
user = "olaf"
role = "ops"

[sla]
timezone = "Europe/Berlin"
[[sla.calendars]]
name = "office"
hours = {{ mon = ["08:00-12:00", "13:00-17:00"], tue = ["08:00-17:00"], wed = ["08:00-17:00"], thu = ["08:00-17:00"], fri = ["08:00-15:00"] }}
holidays = ["2026-12-24", "2026-12-25", "2026-12-26"]
# complaint mails (the demo's overdue one among them) count business hours of the office
[[sla.complaint_mail_rules]]
subject_pattern = "^(Beschwerde|Complaint):"
priority = "high"
[[sla.policies]]
name = "office-hours"
calendar = "office"
first_response = "4h"
resolution = "2d"
warn_at = ["80%"]
priorities = ["high"]
# short targets on a 24/7 calendar, so that warnings and breaches show during the demo
[[sla.policies]]
name = "demo"
calendar = "24/7"
first_response = "15m"
resolution = "2h"
warn_at = ["50%", "80%"]

# missed calls wait twenty seconds for the caller to get through (short, so the demo's queue
# fills while one watches), then owe a callback; one waiting longer than 20 minutes is escalated
[callbacks]
grace = "20s"
calendar = "24/7"
escalate_after = "20m"

[smtp]
host = "127.0.0.1"
port = {secrets.smtp_port}
security = "plain"
sender = "touchpoint@demo.example"
[[routing.rules]]
name = "warnings-to-team"
match = {{ type = "sla.warning" }}
email = ["team@demo.example"]
[[routing.rules]]
name = "breaches-to-leads"
match = {{ type = "sla.breached" }}
email = ["leads@demo.example"]
[[routing.rules]]
name = "callbacks-to-leads"
match = {{ type = "callback.overdue" }}
email = ["leads@demo.example"]
"""


def write_demo_config(data_dir: Path, secrets: DemoSecrets | None = None) -> Path:
    path = data_dir / "demo.toml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(demo_config_toml(secrets or DemoSecrets()))
    return path
