"""`/webhooks/forms/{form_id}`: web forms posted by browsers (public forms: origin check, CORS,
honeypot, per-IP rate limit) or by servers holding the form's secret."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from services.ingest.http.body import fields_of, read_body
from services.ingest.http.context import IngestContext, context_of, refuse
from services.ingest.http.metrics import WEBHOOK_ERRORS, metrics_of
from services.ingest.http.openapi import WEBFORM_BODY, WEBHOOK_RESPONSES
from services.ingest.problems import InvalidPayload
from services.ingest.webforms.guards import origin_allowed, request_origin
from services.ingest.webforms.parse import is_spam, parse_webform, redirect_target
from shared.client_address import client_address
from shared.config import FormWebhook
from shared.digests import same_secret

router = APIRouter(prefix="/webhooks/forms", tags=["forms"])

SOURCE = "forms"
TOKEN_HEADER = "X-Touchpoint-Token"
SIGNATURE_HEADER = "X-Touchpoint-Signature"
PREFLIGHT_MAX_AGE = "600"


@router.post("/{form_id}", summary="Web form submission", responses={
    **WEBHOOK_RESPONSES, 303: {"description": "accepted; redirect to _next"},
    429: {"description": "too many submissions from this address; retry after Retry-After seconds"},
}, openapi_extra=WEBFORM_BODY)
async def form_webhook(form_id: str, request: Request) -> Response:
    metrics_of(SOURCE).received.inc()
    ctx = context_of(request)
    config = _form_config(ctx, form_id)
    origin = request_origin(request.headers.get("origin"), request.headers.get("referer"))
    cors = _cors_headers(origin, config)
    body = await read_body(request, ctx.max_body_bytes)
    if config.secret.get_secret_value():
        _authenticate(request, config, body)
    else:
        _guard_public_form(ctx, request, form_id, config, origin)
    fields = fields_of(request, body)
    try:
        target = redirect_target(fields, config)
        spam = is_spam(fields, config)
        events = [] if spam else parse_webform(form_id, fields, config, ctx.clock(), ctx.settings.default_region, origin)
    except InvalidPayload as exc:
        raise refuse(SOURCE, 422, "invalid_fields", "; ".join(exc.problems), cors) from None
    if spam:
        # a bot filled the honeypot: answer as if accepted so it learns nothing, and store nothing
        WEBHOOK_ERRORS.labels(SOURCE, "honeypot").inc()
        answer: dict[str, object] = {"status": "accepted", "event_ids": []}
    else:
        await ctx.publish(SOURCE, events)
        answer = ctx.accepted(SOURCE, events)
    if target is not None:
        return RedirectResponse(target, status_code=303, headers=cors)
    return JSONResponse(answer, headers=cors)


@router.options("/{form_id}", include_in_schema=False)
async def form_preflight(form_id: str, request: Request) -> Response:
    config = _form_config(context_of(request), form_id)
    origin = request_origin(request.headers.get("origin"), None)
    if not origin_allowed(origin, config):
        raise refuse(SOURCE, 403, "origin_not_allowed", f"origin {origin!r} may not post to form {form_id!r}")
    headers = {
        **_cors_headers(origin, config),
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
    }
    return Response(status_code=204, headers=headers)


def _form_config(ctx: IngestContext, form_id: str) -> FormWebhook:
    config = ctx.settings.file.webhooks.forms.get(form_id)
    if config is None:
        raise refuse(SOURCE, 404, "unknown_form", f"no form {form_id!r} is configured ([webhooks.forms.{form_id}])")
    return config


def _authenticate(request: Request, config: FormWebhook, body: bytes) -> None:
    secret = config.secret.get_secret_value().encode()
    signature = request.headers.get(SIGNATURE_HEADER)
    token = request.headers.get(TOKEN_HEADER)
    if signature:
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not same_secret(expected, signature.strip().removeprefix("sha256=").lower()):
            raise refuse(SOURCE, 403, "bad_signature", f"{SIGNATURE_HEADER} is not the HMAC-SHA256 of the body")
    elif token:
        if not same_secret(secret, token):
            raise refuse(SOURCE, 403, "bad_token", f"{TOKEN_HEADER} is wrong")
    else:
        raise refuse(SOURCE, 401, "missing_signature",
                     f"this form has a secret: send {SIGNATURE_HEADER} (HMAC-SHA256 hex of the body) or {TOKEN_HEADER}")


def _guard_public_form(ctx: IngestContext, request: Request, form_id: str, config: FormWebhook,
                       origin: str | None) -> None:
    if not origin_allowed(origin, config):
        raise refuse(SOURCE, 403, "origin_not_allowed",
                     f"origin {origin!r} may not post to form {form_id!r}; add it to allowed_origins")
    client = client_address(request, ctx.settings.proxy_networks)
    wait = ctx.rate_limiter.allow(form_id, client, config.rate_limit_per_minute)
    if wait is not None:
        retry = str(max(1, int(wait + 0.999)))
        raise refuse(SOURCE, 429, "rate_limited",
                     f"more than {config.rate_limit_per_minute} submissions per minute from this address",
                     {"Retry-After": retry, **_cors_headers(origin, config)})


def _cors_headers(origin: str | None, config: FormWebhook) -> dict[str, str]:
    if not config.allowed_origins or origin is None or not origin_allowed(origin, config):
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
