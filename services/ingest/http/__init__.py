"""The ingest HTTP service (`touchpoint ingest`): providers' webhooks in, events to Kafka.

Pointing providers at it (public address `https://hub.example.com`, see CONTRACT.md):
- sipgate.io push / Zammad-style CTI: `https://hub.example.com/webhooks/telephony/cti?token=…`
  for every call event (newCall, answer, hangup); or, with
  `webhooks.cti.require_sipgate_signature`, no token and sipgate's signature instead.
- Twilio: the number's or call's status callback URL `…/webhooks/telephony/twilio`, with
  `webhooks.twilio.public_base_url` set to exactly the scheme and host given to Twilio.
- Web forms: `<form method="post" action="…/webhooks/forms/contact">` with a hidden `_next`
  for the thank-you page and an invisible honeypot field (default name `website`).
- AfterShip / EasyPost: their webhook URL `…/webhooks/shipping/aftership` (or `easypost`),
  with the webhook secret from their dashboard in `webhooks.shipping.<provider>.secret`.
"""
