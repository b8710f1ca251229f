"""A user's consent, once, at the terminal (`touchpoint mailbox authorize`): the device-code
flow (RFC 8628) where the provider offers it, else the authorization code flow with PKCE.
Both end with the refresh token stored in the configured file. Authlib makes every token
request; this module only walks the user through the steps."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from shared.config import OAuth2SignIn
from shared.oauth2.diagnosis import first_line, token_error_advice
from shared.oauth2.errors import SignInError, TokenEndpointUnavailable, TokenRefused
from shared.oauth2.providers import Endpoints, endpoints_for
from shared.oauth2.refresh_tokens import store_refresh_token

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

Show = Callable[[str], None]
Ask = Callable[[str], str]


class NoConsentFlow(SignInError):
    """The configuration names neither a device-code nor an authorization endpoint."""


def obtain_consent(config: OAuth2SignIn, show: Show, ask: Ask, sleep: Callable[[float], None] = time.sleep) -> None:
    """Runs the flow and stores the refresh token in `config.refresh_token_file`."""
    assert config.refresh_token_file is not None
    endpoints = endpoints_for(config)
    with _client(config, endpoints) as client:
        try:
            if endpoints.device_authorization_url:
                token = _device_flow(client, endpoints, show, sleep)
            elif endpoints.authorize_url:
                token = _code_flow(client, endpoints, show, ask)
            else:
                raise NoConsentFlow("set authorize_url or device_authorization_url: the provider's consent endpoint")
        except OAuthError as exc:
            raise TokenRefused(exc.error, first_line(exc.description), token_error_advice(exc.error, exc.description or "")) from None
        except requests.RequestException as exc:
            raise TokenEndpointUnavailable(f"{type(exc).__name__}: {first_line(str(exc))}") from None
    refresh_token = token.get("refresh_token")
    if not refresh_token:
        raise SignInError("the provider issued no refresh token: request offline access (Microsoft: the offline_access scope)")
    store_refresh_token(config.refresh_token_file, refresh_token)


def _client(config: OAuth2SignIn, endpoints: Endpoints) -> OAuth2Session:
    secret = config.client_secret.get_secret_value() if config.client_secret else None
    return OAuth2Session(
        client_id=config.client_id, client_secret=secret, scope=" ".join(endpoints.scopes),
        redirect_uri=config.redirect_uri, code_challenge_method="S256",
        token_endpoint_auth_method=endpoints.client_auth if secret else "none", default_timeout=30,
    )


def _device_flow(client: OAuth2Session, endpoints: Endpoints, show: Show, sleep: Callable[[float], None]) -> dict:
    assert endpoints.device_authorization_url is not None
    answer = client.post(endpoints.device_authorization_url, withhold_token=True,
                         data={"client_id": client.client_id, "scope": " ".join(endpoints.scopes)})
    grant = answer.json()
    if answer.status_code != 200 or "device_code" not in grant:
        raise OAuthError(error=grant.get("error", f"HTTP {answer.status_code}"), description=grant.get("error_description"))
    show(grant.get("message") or f"Open {grant['verification_uri']} and enter the code {grant['user_code']}")
    interval = float(grant.get("interval", 5))
    deadline = time.monotonic() + float(grant.get("expires_in", 900))
    while time.monotonic() < deadline:
        try:
            return dict(client.fetch_token(endpoints.token_url, grant_type=DEVICE_CODE_GRANT,
                                           device_code=grant["device_code"]))
        except OAuthError as exc:
            if exc.error == "slow_down":
                interval += 5
            elif exc.error != "authorization_pending":
                raise
        sleep(interval)
    raise SignInError("the code expired before sign-in finished: run the command again")


def _code_flow(client: OAuth2Session, endpoints: Endpoints, show: Show, ask: Ask) -> dict:
    assert endpoints.authorize_url is not None
    verifier = generate_token(64)
    url, state = client.create_authorization_url(endpoints.authorize_url, code_verifier=verifier,
                                                 **endpoints.authorize_params)
    show(f"Open this address, sign in as the mailbox's user and allow access:\n\n  {url}\n")
    show("The browser is then sent to an address (it may not load); copy that whole address.")
    answer = ask("Paste the address (or only its code): ").strip()
    if "code=" in answer:
        return dict(client.fetch_token(endpoints.token_url, authorization_response=answer, state=state,
                                       code_verifier=verifier))
    return dict(client.fetch_token(endpoints.token_url, grant_type="authorization_code", code=answer,
                                   code_verifier=verifier))
