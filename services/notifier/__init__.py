"""The notifier: tells the right people, once, when a complaint needs a human now.

Configuration (TOML named by `TOUCHPOINT_CONFIG`), for example:

```toml
[smtp]
host = "smtp.example.com"
port = 587
security = "starttls"            # tls | starttls | plain
username = "touchpoint"
password_file = "/run/secrets/smtp"
sender = "touchpoint@example.com"

[notifier]                       # all optional
unanswered_contacts = 3          # contacts.unanswered: the 3rd inbound contact ...
unanswered_within = "24h"        # ... within 24 hours without a response
shipment_statuses = ["exception", "failed_attempt", "returned"]
max_trigger_age = "2d"           # older triggers (e.g. a first start reading history): no one is told
max_attempts = 8                 # then escalation.failed and a dead letter
retry_initial = 5                # seconds, doubled per attempt, with jitter
retry_max = 600

[[sla.calendars]]
name = "office"
timezone = "Europe/Berlin"
[sla.calendars.hours]
mon = ["08:00-17:00"]
tue = ["08:00-17:00"]
fri = ["08:00-15:00"]

[[routing.rules]]                # warning -> team
name = "warn-team"
match = { type = "sla.warning" }
email = ["team@example.com"]
level = 1

[[routing.rules]]                # breach -> lead, by mail and in Slack
name = "breach-lead"
match = { type = "sla.breached" }
email = ["lead@example.com"]
webhook = ["https://hooks.slack.com/services/..."]
level = 2
calendar = "office"              # one of [[sla.calendars]]
outside_hours = "on_call"        # send | hold | on_call
on_call_email = ["oncall@example.com"]

[[routing.rules]]                # still breached 2h later -> manager
name = "breach-manager"
match = { type = "sla.breached", priority = ["high", "urgent"] }
email = ["manager@example.com"]
level = 3
delay = "2h"
language = "de"

[[routing.rules]]                # a callback waiting longer than [callbacks] escalate_after
match = { type = "callback.overdue" }
email = ["team-lead@example.com"]

[[routing.rules]]                # key accounts: every new complaint
match = { type = "complaint.opened", segment = "key_account" }
email = ["kam@example.com"]
```

Match keys: `type` (sla.warning, sla.breached, complaint.opened, shipment.exception,
call.missed, contacts.unanswered, callback.overdue), `kind` (first_response | resolution), `priority`,
`segment`, `channel`, `team`; a list means any of them. The address `customer` in `email`
sends to the customer; nothing else ever does, and not when the customer withdrew consent to
`[consent] notifier_purpose` (default `contact`): that notification fails, saying so. Delayed and held notifications of a complaint
that is resolved (or, for first-response clocks, answered) before they are due are cancelled.
"""
