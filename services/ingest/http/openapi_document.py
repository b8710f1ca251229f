"""The ingest service's OpenAPI document as the configuration fixes it: one path per configured
form (its required fields, its consent field, how it authenticates) and per configured
shipping provider (the provider's native payload and signature header), with the
credentials each route takes, so that a schema-driven client or fuzzer reaches the real
handlers instead of the "not configured" answers."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.ingest.http.openapi import SHIPPING_PAYLOADS
from services.ingest.shipping import aftership, easypost, generic
from shared.config import FormWebhook, Settings

FORMS_TEMPLATE = "/webhooks/forms/{form_id}"
SHIPPING_TEMPLATE = "/webhooks/shipping/{provider}"
KNOWN_FORM_FIELDS = ("name", "email", "phone", "subject", "message", "topic", "_next")
SIGNATURE_HEADERS = {
    "aftership": aftership.SIGNATURE_HEADER, "easypost": easypost.SIGNATURE_HEADER, "generic": generic.SIGNATURE_HEADER,
}
SECURITY_SCHEMES: dict[str, Any] = {
    "ctiToken": {"type": "apiKey", "in": "query", "name": "token", "description": "[webhooks.cti] token"},
    "ctiTokenHeader": {"type": "apiKey", "in": "header", "name": "X-Touchpoint-Token"},
    "sipgateSignature": {"type": "apiKey", "in": "header", "name": "X-Sipgate-Signature",
                         "description": "base64 RSA-SHA256 signature of the body by sipgate"},
    "twilioSignature": {"type": "apiKey", "in": "header", "name": "X-Twilio-Signature",
                        "description": "base64 HMAC-SHA1 of the public URL and the sorted form parameters"},
    "formSignature": {"type": "apiKey", "in": "header", "name": "X-Touchpoint-Signature",
                      "description": "hex HMAC-SHA256 of the body with the form's secret"},
    "formToken": {"type": "apiKey", "in": "header", "name": "X-Touchpoint-Token"},
    **{f"{provider}Signature": {"type": "apiKey", "in": "header", "name": header}
       for provider, header in SIGNATURE_HEADERS.items()},
}


def install_openapi(app: FastAPI, settings: Settings) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            base = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            app.openapi_schema = configured_document(base, settings)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def configured_document(base: dict[str, Any], settings: Settings) -> dict[str, Any]:
    document = copy.deepcopy(base)
    paths: dict[str, Any] = document["paths"]
    webhooks = settings.file.webhooks
    if webhooks.forms and FORMS_TEMPLATE in paths:
        template = paths.pop(FORMS_TEMPLATE)
        for form_id, form in webhooks.forms.items():
            paths[f"/webhooks/forms/{form_id}"] = _form_path(template, form_id, form)
    if webhooks.shipping and SHIPPING_TEMPLATE in paths:
        template = paths.pop(SHIPPING_TEMPLATE)
        for provider in webhooks.shipping:
            paths[f"/webhooks/shipping/{provider}"] = _shipping_path(template, provider)
    _secure(paths, settings)
    document.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    return document


def _form_path(template: dict[str, Any], form_id: str, form: FormWebhook) -> dict[str, Any]:
    operation = copy.deepcopy(template["post"])
    operation["operationId"] = f"form_{form_id}"
    operation["summary"] = f"Web form {form_id!r}"
    operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("name") != "form_id"]
    names = [*KNOWN_FORM_FIELDS, *form.required]
    if form.consent_field:
        names.append(form.consent_field)
    properties: dict[str, Any] = {name: {"type": "string"} for name in dict.fromkeys(names)}
    properties["email"] = {"type": "string", "format": "email"}
    properties["_next"] = {"type": "string", "description": "a path such as /thanks, or a URL on an allowed origin"}
    schema = {"type": "object", "required": list(form.required), "properties": properties,
              "additionalProperties": {"type": "string"}}
    for media in operation["requestBody"]["content"].values():
        media["schema"] = schema
    if form.secret.get_secret_value():
        operation["security"] = [{"formSignature": []}, {"formToken": []}]
    return {"post": operation}


def _shipping_path(template: dict[str, Any], provider: str) -> dict[str, Any]:
    operation = copy.deepcopy(template["post"])
    operation["operationId"] = f"shipping_{provider}"
    operation["summary"] = f"{provider} tracking update"
    operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("name") != "provider"]
    operation["requestBody"]["content"] = {"application/json": {"schema": SHIPPING_PAYLOADS[provider]}}
    operation["security"] = [{f"{provider}Signature": []}]
    return {"post": operation}


def _secure(paths: dict[str, Any], settings: Settings) -> None:
    cti = settings.file.webhooks.cti
    if "/webhooks/telephony/cti" in paths and cti is not None:
        schemes = [{"ctiToken": []}, {"ctiTokenHeader": []}] if cti.token and not cti.require_sipgate_signature \
            else [{"sipgateSignature": []}]
        paths["/webhooks/telephony/cti"]["post"]["security"] = schemes
    if "/webhooks/telephony/twilio" in paths:
        paths["/webhooks/telephony/twilio"]["post"]["security"] = [{"twilioSignature": []}]
