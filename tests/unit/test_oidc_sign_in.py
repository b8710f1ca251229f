"""Sign-in through an OpenID Connect provider (a fake one behind httpx's MockTransport): the
authorization code flow with PKCE, state and nonce; the ID token verified against the
provider's keys; and only enabled users of `touchpoint users` get a session."""

from __future__ import annotations

import re
import secrets
import time
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from argon2 import PasswordHasher
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey

from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.users.store import UserStore
from services.projector.web.oidc import OidcProvider
from services.projector.web.ui import WebUi
from shared.config import Auth, FileConfig, OidcSignIn, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import InMemoryPublisher

ISSUER = "https://id.example.com"
CLIENT_ID, CLIENT_SECRET = "touchpoint", "client-secret-for-tests"


class FakeProvider:
    """Discovery, JWKS and a token endpoint that checks the code, PKCE verifier and secret."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.codes: dict[str, dict] = {}
        self.claims_override: dict = {}
        self.other_key: RSAKey | None = None

    def approve(self, authorize_url: str, user: str) -> tuple[str, str]:
        """The user signs in at the provider: returns (code, state) for the callback."""
        params = {k: v[0] for k, v in parse_qs(urlparse(authorize_url).query).items()}
        assert params["client_id"] == CLIENT_ID and params["code_challenge_method"] == "S256"
        assert "openid" in params["scope"].split()
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"user": user, "nonce": params["nonce"], "challenge": params["code_challenge"],
                            "redirect_uri": params["redirect_uri"]}
        return code, params["state"]

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/authorize",
                                             "token_endpoint": f"{ISSUER}/token", "jwks_uri": f"{ISSUER}/jwks"})
        if request.url.path == "/jwks":
            return httpx.Response(200, json={"keys": [self.key.as_dict(private=False)]})
        if request.url.path == "/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            grant = self.codes.pop(form.get("code", ""), None)
            if (grant is None or form.get("client_secret") != CLIENT_SECRET or form.get("redirect_uri") != grant["redirect_uri"]
                    or create_s256_code_challenge(form.get("code_verifier", "")) != grant["challenge"]):
                return httpx.Response(400, json={"error": "invalid_grant"})
            now = int(time.time())
            claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": f"sub-{grant['user']}", "preferred_username": grant["user"],
                      "nonce": grant["nonce"], "iat": now, "exp": now + 300, **self.claims_override}
            token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.other_key or self.key)
            return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer", "id_token": token})
        return httpx.Response(404)


@pytest.fixture
async def site(tmp_path):
    oidc = OidcSignIn(issuer=ISSUER, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, label="Contoso ID")
    config = Settings(data_dir=tmp_path, file=FileConfig(auth=Auth(
        session_secret="session-secret-for-oidc-tests-0123456789", oidc=oidc)))
    await upgrade_async(config.db_url)
    engine = make_engine(config.db_url)
    publisher = InMemoryPublisher()
    provider = FakeProvider()
    web = WebUi(config, engine, publisher, Authorizer(config))
    web.users = UserStore(engine, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    web.oidc = OidcProvider(oidc, httpx.MockTransport(provider.handle))
    app = create_app(config, engine=engine, publisher=publisher)
    web.install(app)
    await web.users.add("lena", "lead", "22", "correct horse battery")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://agent.test") as client:
        client.provider, client.web = provider, web  # type: ignore[attr-defined]
        yield client
    await engine.dispose()


async def sign_on(site, user: str, next_page: str = "/") -> httpx.Response:
    start = await site.get("/login/oidc", params={"next": next_page})
    assert start.status_code == 303 and start.headers["location"].startswith(f"{ISSUER}/authorize?")
    code, state = site.provider.approve(start.headers["location"], user)
    return await site.get("/login/oidc/callback", params={"code": code, "state": state})


async def test_an_enabled_user_signs_on_at_the_provider_and_gets_their_role(site):
    login = await site.get("/login")
    assert "Log in with Contoso ID" in login.text and 'href="/login/oidc?next=/"' in login.text
    done = await sign_on(site, "Lena", "/complaints")
    assert done.status_code == 303 and done.headers["location"] == "/complaints"
    home = await site.get("/")
    assert home.status_code == 200 and "lena (lead)" in home.text


async def test_someone_unknown_here_or_disabled_gets_no_session(site):
    done = await sign_on(site, "mallory")
    assert done.status_code == 303 and "failed=oidc" in done.headers["location"]
    assert (await site.get("/", follow_redirects=False)).status_code == 303
    await site.web.users.disable("lena")
    done = await sign_on(site, "lena")
    assert "failed=oidc" in done.headers["location"]


@pytest.mark.parametrize("tamper", [
    {"aud": "another-client"}, {"iss": "https://evil.example.com"}, {"nonce": "replayed"}, {"exp": 1_000_000},
])
async def test_an_id_token_for_another_client_issuer_flow_or_time_is_refused(site, tamper):
    site.provider.claims_override = tamper
    done = await sign_on(site, "lena")
    assert "failed=oidc" in done.headers["location"]
    assert (await site.get("/", follow_redirects=False)).status_code == 303


async def test_an_id_token_signed_with_another_key_is_refused(site):
    site.provider.other_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    assert "failed=oidc" in (await sign_on(site, "lena")).headers["location"]


async def test_a_callback_whose_state_does_not_match_the_browsers_flow_is_refused(site):
    start = await site.get("/login/oidc")
    code, _ = site.provider.approve(start.headers["location"], "lena")
    done = await site.get("/login/oidc/callback", params={"code": code, "state": "forged"})
    assert "failed=oidc" in done.headers["location"]
    site.cookies.clear()  # a callback in a browser that never started the flow
    start_elsewhere = await httpx.AsyncClient(transport=site._transport, base_url="https://agent.test").get("/login/oidc")
    code, state = site.provider.approve(start_elsewhere.headers["location"], "lena")
    done = await site.get("/login/oidc/callback", params={"code": code, "state": state})
    assert "failed=oidc" in done.headers["location"]


async def test_the_provider_saying_no_is_a_failed_login(site):
    await site.get("/login/oidc")
    state = re.search(r"state=([^&]+)", (await site.get("/login/oidc")).headers["location"]).group(1)
    done = await site.get("/login/oidc/callback", params={"error": "access_denied", "state": state})
    assert "failed=oidc" in done.headers["location"]
    page = await site.get(done.headers["location"])
    assert "Sign-on did not succeed" in page.text
