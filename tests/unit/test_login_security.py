"""Login and logout of the web pages: failed logins are throttled per client with a growing
lockout (429 with Retry-After), logout revokes the session on the server so a copied cookie
stops working, and the cookie holds an HMAC of the token under the session secret."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import httpx
import pytest

from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.web.session import SessionCodec
from services.projector.web.throttle import LoginThrottle
from services.projector.web.ui import WebUi
from shared.config import Auth, AuthToken, FileConfig, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import InMemoryPublisher

TOKEN = "agent-token-for-login-tests-0123456789"
SECRET = "session-secret-for-login-tests-0123456789"


def settings(tmp_path, **extra) -> Settings:
    return Settings(data_dir=tmp_path, file=FileConfig(auth=Auth(
        session_secret=SECRET, tokens=[AuthToken(token=TOKEN, user="anna", role="agent")])), **extra)


@pytest.fixture
async def site(tmp_path):
    config = settings(tmp_path)
    await upgrade_async(config.db_url)
    engine = make_engine(config.db_url)
    publisher = InMemoryPublisher()
    web = WebUi(config, engine, publisher, Authorizer(config))
    app = create_app(config, engine=engine, publisher=publisher)
    web.install(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://agent.test") as client:
        yield client
    await engine.dispose()


async def try_login(client: httpx.AsyncClient, token: str) -> httpx.Response:
    form = (await client.get("/login")).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    return await client.post("/login", data={"token": token, "csrf_token": csrf, "next": "/"})


def test_the_lockout_starts_after_the_free_failures_and_doubles():
    now = [0.0]
    throttle = LoginThrottle(free_failures=3, base_wait=1.0, max_wait=10.0, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait("ip:1") == 0
        throttle.failed("ip:1")
    assert throttle.wait("ip:1") == 1.0
    throttle.failed("ip:1")
    assert throttle.wait("ip:1") == 2.0
    for _ in range(10):
        throttle.failed("ip:1")
    assert throttle.wait("ip:1") == 10.0  # capped
    now[0] += 10.0
    assert throttle.wait("ip:1") == 0
    throttle.succeeded("ip:1")
    throttle.failed("ip:1")
    assert throttle.wait("ip:1") == 0  # a success forgot the failures
    assert throttle.wait("ip:2") == 0


def test_the_throttle_forgets_the_oldest_clients_beyond_its_bound():
    throttle = LoginThrottle(free_failures=1, max_clients=2)
    for client in ("a", "b", "c"):
        throttle.failed(client)
    assert throttle.wait("a") == 0 and throttle.wait("c") > 0


async def test_repeated_failed_logins_get_a_429_with_retry_after(site):
    statuses = [(await try_login(site, "guess")).status_code for _ in range(5)]
    assert statuses == [303] * 5
    throttled = await try_login(site, "guess")
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1
    assert "Too many failed logins" in throttled.text
    # even the right token waits out the lockout
    assert (await try_login(site, TOKEN)).status_code == 429


async def test_logout_revokes_the_session_so_a_copied_cookie_is_refused(site):
    assert (await try_login(site, TOKEN)).status_code == 303
    stolen = site.cookies.get("touchpoint_session")
    assert (await site.get("/api/customers", params={"q": "erika"})).status_code == 200
    page = (await site.get("/")).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert (await site.post("/logout", data={"csrf_token": csrf})).status_code == 303
    site.cookies.clear()
    replayed = await site.get("/", cookies={"touchpoint_session": stolen})
    assert replayed.status_code == 303 and replayed.headers["location"].startswith("/login")
    api = await site.get("/api/customers", params={"q": "erika"}, cookies={"touchpoint_session": stolen})
    assert api.status_code == 401


async def test_logging_in_again_after_logout_works(site):
    assert (await try_login(site, TOKEN)).status_code == 303
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', (await site.get("/")).text).group(1)
    await site.post("/logout", data={"csrf_token": csrf})
    assert (await try_login(site, TOKEN)).status_code == 303
    assert (await site.get("/")).status_code == 200


def test_the_cookie_holds_an_hmac_of_the_token_not_a_plain_hash(tmp_path):
    codec = SessionCodec(settings(tmp_path))
    cookie = codec.issue(TOKEN)
    body = cookie.split(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    plain = hashlib.sha256(TOKEN.encode()).hexdigest()
    assert payload["t"] != plain[:32] and payload["t"] not in plain
    assert payload["t"] == codec.fingerprint(TOKEN)
    other = SessionCodec(Settings(data_dir=tmp_path, file=FileConfig(auth=Auth(
        session_secret="another-secret-0123456789abcdefghijkl", tokens=[AuthToken(token=TOKEN, user="anna")]))))
    assert other.fingerprint(TOKEN) != payload["t"]  # keyed: useless without the session secret
