"""`/webhooks/shipping/{provider}`: AfterShip and EasyPost native webhooks and Touchpoint's
generic JSON, each signed with the provider's scheme."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.ingest.http.body import JSON, json_object, read_body, require_media_type
from services.ingest.http.context import context_of, refuse
from services.ingest.http.metrics import metrics_of
from services.ingest.http.openapi import SHIPPING_BODY, WEBHOOK_RESPONSES
from services.ingest.problems import InvalidPayload
from services.ingest.shipping import aftership, easypost, generic

router = APIRouter(prefix="/webhooks/shipping", tags=["shipping"])


@dataclass(frozen=True)
class ShippingProvider:
    signature_header: str
    verify: Callable[[str, str | None, bytes], bool]
    parse: Callable[[Mapping[str, Any], datetime], list]
    signature_hint: str


PROVIDERS: dict[str, ShippingProvider] = {
    "aftership": ShippingProvider(aftership.SIGNATURE_HEADER, aftership.verify_aftership, aftership.parse_aftership,
                                  "base64 HMAC-SHA256 of the raw body with the webhook secret"),
    "easypost": ShippingProvider(easypost.SIGNATURE_HEADER, easypost.verify_easypost, easypost.parse_easypost,
                                 "hmac-sha256-hex=<hex HMAC-SHA256 of the body, keyed with the NFKD-normalised secret>"),
    "generic": ShippingProvider(generic.SIGNATURE_HEADER, generic.verify_generic, generic.parse_generic,
                                "hex HMAC-SHA256 of the raw body with the secret"),
}


@router.post("/{provider}", summary="Parcel tracking update", responses=WEBHOOK_RESPONSES, openapi_extra=SHIPPING_BODY)
async def shipping_webhook(provider: str, request: Request) -> JSONResponse:
    handler = PROVIDERS.get(provider)
    source = provider if handler else "shipping"
    metrics_of(source).received.inc()
    if handler is None:
        raise refuse(source, 404, "unknown_provider",
                     f"no shipping provider {provider!r}; use one of {', '.join(PROVIDERS)}")
    ctx = context_of(request)
    config = ctx.settings.file.webhooks.shipping.get(provider)  # type: ignore[call-overload]
    if config is None:
        raise refuse(source, 404, "not_configured",
                     f"set [webhooks.shipping.{provider}] secret to accept {provider} webhooks")
    body = await read_body(request, ctx.max_body_bytes)
    signature = request.headers.get(handler.signature_header)
    if not signature:
        raise refuse(source, 401, "missing_signature", f"the {handler.signature_header} header is required")
    if not handler.verify(config.secret.get_secret_value(), signature, body):
        raise refuse(source, 403, "bad_signature", f"{handler.signature_header} must be the {handler.signature_hint}")
    require_media_type(request, JSON)
    payload = json_object(body)
    try:
        events = handler.parse(payload, ctx.clock())
    except InvalidPayload as exc:
        raise refuse(source, 422, "invalid_payload", "; ".join(exc.problems)) from None
    await ctx.publish(source, events)
    return JSONResponse(ctx.accepted(source, events))
