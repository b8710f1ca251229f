"""A test-only ASGI wrapper that signs every webhook request the way its provider would, so a
schema-driven fuzzer, which cannot compute HMACs over the bodies it invents, still passes
authentication and reaches the parsers and the publish step."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.ingest.shipping.easypost import easypost_signature
from services.ingest.telephony.signatures import twilio_signature


class SigningProxy:
    def __init__(self, app: ASGIApp, *, cti_token: str, twilio_token: str, public_base: str,
                 shipping_secrets: dict[str, str], form_secrets: dict[str, str]) -> None:
        self.app = app
        self.cti_token, self.twilio_token, self.public_base = cti_token, twilio_token, public_base
        self.shipping_secrets, self.form_secrets = shipping_secrets, form_secrets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        scope = dict(scope)
        extra = self._signature(scope, body)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k.decode().lower() not in {
            name.lower() for name, _ in extra}] + [(name.lower().encode(), value.encode()) for name, value in extra]
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _signature(self, scope: Scope, body: bytes) -> list[tuple[str, str]]:
        path: str = scope["path"]
        if path == "/webhooks/telephony/cti":
            return [("X-Touchpoint-Token", self.cti_token)]
        if path == "/webhooks/telephony/twilio":
            return [("X-Twilio-Signature", self._twilio(scope, body))]
        if path.startswith("/webhooks/shipping/"):
            provider = path.rsplit("/", 1)[1]
            secret = self.shipping_secrets.get(provider, "")
            digest = hmac.new(secret.encode(), body, hashlib.sha256)
            return [{
                "aftership": ("aftership-hmac-sha256", base64.b64encode(digest.digest()).decode()),
                "easypost": ("X-Hmac-Signature", easypost_signature(secret, body)),
            }.get(provider, ("X-Touchpoint-Signature", digest.hexdigest()))]
        if path.startswith("/webhooks/forms/"):
            secret = self.form_secrets.get(path.rsplit("/", 1)[1])
            if secret:
                return [("X-Touchpoint-Signature", hmac.new(secret.encode(), body, hashlib.sha256).hexdigest())]
        return []

    def _twilio(self, scope: Scope, body: bytes) -> str:
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.public_base + scope["path"] + (f"?{query}" if query else "")
        content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
        if content_type.startswith("application/x-www-form-urlencoded"):
            try:
                params = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            except (UnicodeDecodeError, ValueError):
                params = []
            return twilio_signature(self.twilio_token, url, params)
        return twilio_signature(self.twilio_token, url)
