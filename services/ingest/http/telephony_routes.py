"""`/webhooks/telephony/cti` and `/webhooks/telephony/twilio`: authenticate → parse → publish → answer."""

from __future__ import annotations


from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.ingest.http.body import (
    FORM, JSON, fields_of, form_fields, form_pairs, json_object, read_body, require_media_type,
)
from services.ingest.http.context import context_of, refuse
from services.ingest.http.metrics import metrics_of
from services.ingest.http.openapi import FORM_OR_JSON_BODY, TWILIO_BODY, WEBHOOK_RESPONSES
from services.ingest.problems import InvalidPayload
from services.ingest.telephony.cti import parse_cti
from services.ingest.telephony.signatures import verify_sipgate, verify_twilio
from services.ingest.telephony.twilio import parse_twilio_status
from shared.config import CtiWebhook
from shared.digests import same_secret

router = APIRouter(prefix="/webhooks/telephony", tags=["telephony"])

TOKEN_HEADER = "X-Touchpoint-Token"
SIPGATE_HEADER = "X-Sipgate-Signature"
TWILIO_HEADER = "X-Twilio-Signature"


@router.post("/cti", summary="sipgate.io / Zammad-style CTI call event", responses=WEBHOOK_RESPONSES,
             openapi_extra=FORM_OR_JSON_BODY)
async def cti_webhook(request: Request) -> JSONResponse:
    source = "cti"
    metrics_of(source).received.inc()
    ctx = context_of(request)
    config = ctx.settings.file.webhooks.cti
    if config is None or (config.token is None and not config.sipgate_public_key):
        raise refuse(source, 404, "not_configured", "the CTI webhook is not configured: set [webhooks.cti] token")
    body = await read_body(request, ctx.max_body_bytes)
    _authenticate_cti(request, config, body)
    fields = fields_of(request, body)
    try:
        events = parse_cti(fields, ctx.clock(), ctx.settings.default_region)
    except InvalidPayload as exc:
        raise refuse(source, 422, "invalid_payload", "; ".join(exc.problems)) from None
    await ctx.publish(source, events)
    return JSONResponse(ctx.accepted(source, events))


def _authenticate_cti(request: Request, config: CtiWebhook, body: bytes) -> None:
    # sipgate.io signs its pushes; a PBX that cannot sign sends the shared token instead
    if config.require_sipgate_signature or config.token is None:
        signature = request.headers.get(SIPGATE_HEADER)
        if not signature:
            raise refuse("cti", 401, "missing_signature", f"the {SIPGATE_HEADER} header is required")
        if not verify_sipgate(config.sipgate_public_key or "", signature, body):
            raise refuse("cti", 403, "bad_signature",
                         f"{SIPGATE_HEADER} does not match the body and sipgate's public key")
        return
    given = request.query_params.get("token") or request.headers.get(TOKEN_HEADER)
    if not given:
        raise refuse("cti", 401, "missing_token", f"send the CTI token as ?token= or in the {TOKEN_HEADER} header")
    expected = config.token.get_secret_value() if config.token else ""
    if not expected or not same_secret(expected, given):
        raise refuse("cti", 403, "bad_token", "the CTI token is wrong")


@router.post("/twilio", summary="Twilio voice status callback", responses=WEBHOOK_RESPONSES, openapi_extra=TWILIO_BODY)
async def twilio_webhook(request: Request) -> JSONResponse:
    source = "twilio"
    metrics_of(source).received.inc()
    ctx = context_of(request)
    config = ctx.settings.file.webhooks.twilio
    if config is None:
        raise refuse(source, 404, "not_configured", "the Twilio webhook is not configured: set [webhooks.twilio]")
    body = await read_body(request, ctx.max_body_bytes)
    signature = request.headers.get(TWILIO_HEADER)
    if not signature:
        raise refuse(source, 401, "missing_signature", f"the {TWILIO_HEADER} header is required")
    kind = require_media_type(request, FORM, JSON)
    if kind == JSON and "bodySHA256" not in request.query_params:
        # without the body hash in the signed URL nothing would bind the signature to this body
        raise refuse(source, 403, "bad_signature", "a JSON body needs Twilio's bodySHA256 in the webhook URL")
    pairs = form_pairs(body) if kind == FORM else []
    if not verify_twilio(config.auth_token.get_secret_value(), signature, public_url(config.public_base_url, request),
                         pairs, body):
        raise refuse(source, 403, "bad_signature",
                     f"{TWILIO_HEADER} does not match; check webhooks.twilio.auth_token and that public_base_url "
                     "is the address configured at Twilio")
    fields = form_fields(pairs) if kind == FORM else json_object(body)
    try:
        events = parse_twilio_status(fields, ctx.clock(), ctx.settings.default_region)
    except InvalidPayload as exc:
        raise refuse(source, 422, "invalid_payload", "; ".join(exc.problems)) from None
    await ctx.publish(source, events)
    return JSONResponse(ctx.accepted(source, events))


def public_url(base_url: str, request: Request) -> str:
    """The URL Twilio called: the configured public base (scheme, host, any path prefix a
    proxy strips) with the path and query string as this app received them."""
    query = request.url.query
    return base_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")
