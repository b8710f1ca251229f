"""Sign-in through the company's OpenID Connect provider (authorization code flow with PKCE).

The provider proves who someone is; Touchpoint's users table (`touchpoint users`) says whether
they may sign in and with which role and extension. So a user must exist and be enabled here:
the ID token's `user_claim` (default `preferred_username`) names them.

`OidcProvider` talks to the provider (discovery, token exchange, ID token verification against
its JWKS) through an httpx transport that tests replace with a fake provider; the routes only
keep the flow's state in a short-lived signed cookie, call it, and issue the session."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from services.projector.users.rules import UserError, user_name
from services.projector.web.pages import safe_next
from services.projector.web.session import COOKIE, MAX_AGE
from shared.client_address import client_address
from shared.config import OidcSignIn
from shared.digests import same_secret

log = logging.getLogger("touchpoint.web")
FLOW_COOKIE = "touchpoint_oidc"
CALLBACK = "/login/oidc/callback"


class OidcError(Exception):
    """The provider refused, or its answer cannot be trusted; the message says which."""


class OidcProvider:
    def __init__(self, config: OidcSignIn, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config, self.transport = config, transport
        self._metadata: dict[str, Any] | None = None

    async def _get(self, url: str) -> dict[str, Any]:
        async with httpx.AsyncClient(transport=self.transport, timeout=10) as client:
            answer = await client.get(url)
        if answer.status_code != 200:
            raise OidcError(f"{url} answered {answer.status_code}")
        return answer.json()

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            found = await self._get(self.config.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if found.get("issuer") != self.config.issuer:
                raise OidcError(f"the discovery document names issuer {found.get('issuer')!r}, not {self.config.issuer!r}")
            self._metadata = found
        return self._metadata

    async def authorize_url(self, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        params = {"response_type": "code", "client_id": self.config.client_id, "redirect_uri": redirect_uri,
                  "scope": " ".join(self.config.scopes), "state": state, "nonce": nonce,
                  "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"}
        return f"{(await self.metadata())['authorization_endpoint']}?{urlencode(params)}"

    async def user(self, code: str, redirect_uri: str, nonce: str, verifier: str) -> str:
        """The user the provider vouches for: the verified ID token's `user_claim`."""
        meta = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": self.config.client_id, "code_verifier": verifier}
        if self.config.client_secret is not None:
            form["client_secret"] = self.config.client_secret.get_secret_value()
        async with httpx.AsyncClient(transport=self.transport, timeout=10) as client:
            answer = await client.post(meta["token_endpoint"], data=form)
        if answer.status_code != 200:
            raise OidcError(f"the token endpoint refused the code ({answer.status_code})")
        id_token = answer.json().get("id_token")
        if not id_token:
            raise OidcError("the token endpoint gave no ID token (is 'openid' among the scopes?)")
        keys = KeySet.import_key_set(await self._get(meta["jwks_uri"]))
        try:
            claims = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "PS256"]).claims
            jwt.JWTClaimsRegistry(leeway=60, iss={"essential": True, "value": self.config.issuer},
                                  aud={"essential": True, "value": self.config.client_id},
                                  nonce={"essential": True, "value": nonce}, exp={"essential": True}).validate(claims)
        except (JoseError, ValueError) as exc:
            raise OidcError(f"the ID token is not valid: {exc}") from None
        name = claims.get(self.config.user_claim)
        if not isinstance(name, str) or not name:
            raise OidcError(f"the ID token has no {self.config.user_claim!r} claim")
        return name


def oidc_router(ui, provider: OidcProvider) -> APIRouter:  # type: ignore[no-untyped-def]
    router = APIRouter(include_in_schema=False)

    def redirect_uri(request: Request) -> str:
        base = (ui.settings.public_url or str(request.base_url)).rstrip("/")
        return base + CALLBACK

    def failed(target: str, reason: str) -> Response:
        response = RedirectResponse(f"/login?failed=oidc&next={quote(target)}", status_code=303)
        response.delete_cookie(FLOW_COOKIE)
        log.warning("company sign-on failed: %s", reason)
        return response

    @router.get("/login/oidc")
    async def start(request: Request, next: str = "/") -> Response:
        flow = {"state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24),
                "verifier": secrets.token_urlsafe(48), "next": safe_next(next)}
        try:
            url = await provider.authorize_url(redirect_uri(request), flow["state"], flow["nonce"], flow["verifier"])
        except (OidcError, httpx.HTTPError, KeyError, ValueError) as exc:
            return failed(flow["next"], f"provider unavailable: {exc}")
        response = RedirectResponse(url, status_code=303)
        # Lax: the provider sends the browser back with a top-level GET
        response.set_cookie(FLOW_COOKIE, ui.sessions.sign(json.dumps(flow).encode()), max_age=600, httponly=True,
                            secure=True, samesite="lax")
        return response

    @router.get(CALLBACK)
    async def callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
        data = ui.sessions.unsign(request.cookies.get(FLOW_COOKIE) or "")
        flow = json.loads(data) if data else {}
        target = safe_next(flow.get("next"))
        client = "ip:" + client_address(request, ui.settings.proxy_networks)
        if ui.throttle.wait(client) > 0:
            return failed(target, "throttled")
        if not flow or not state or not same_secret(flow["state"], state):
            return failed(target, "the sign-in's state does not match (expired, or started elsewhere)")
        if error or not code:
            return failed(target, f"the provider answered {error or 'without a code'}")
        try:
            name = user_name(await provider.user(code, redirect_uri(request), flow["nonce"], flow["verifier"]))
        except (OidcError, UserError, httpx.HTTPError, KeyError, ValueError) as exc:
            ui.throttle.failed(client)
            return failed(target, str(exc))
        account = await ui.users.enabled(name)
        if account is None:
            ui.throttle.failed(client)
            return failed(target, f"{name!r} is no enabled user of 'touchpoint users'")
        ui.throttle.succeeded(client)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, ui.sessions.issue_for_account(account.name, account.epoch), max_age=MAX_AGE,
                            httponly=True, secure=True, samesite="lax")
        response.delete_cookie(FLOW_COOKIE)
        return response

    return router
