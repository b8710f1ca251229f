"""People who sign in with a name and a password: the rules for names, roles and passwords,
the store (argon2 hashes, duplicates, disable, password change, rehash on new parameters) and
the login form with a password next to the token login."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.users import rules
from services.projector.users.commands import read_password
from services.projector.users.rules import UserError
from services.projector.users.store import UserStore
from services.projector.users.tables import users
from services.projector.web.ui import WebUi
from shared.config import Auth, AuthToken, FileConfig, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import InMemoryPublisher

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # fast hashes for tests
STRONGER = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
PASSWORD = "correct horse battery"


@pytest.fixture
async def engine(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/users.db"
    await upgrade_async(url)
    engine = make_engine(url)
    yield engine
    await engine.dispose()


@pytest.fixture
def store(engine) -> UserStore:
    return UserStore(engine, CHEAP)


# ---- rules ----------------------------------------------------------------------------------


def test_user_names_are_trimmed_and_lower_case():
    assert rules.user_name("  Anna ") == "anna"
    assert rules.user_name("lena.berg@team-2") == "lena.berg@team-2"


@pytest.mark.parametrize("name", ["", " ", "-anna", "anna smith", "a" * 65, "anna;drop"])
def test_a_malformed_user_name_is_refused(name):
    with pytest.raises(UserError, match="user name"):
        rules.user_name(name)


def test_roles_are_those_of_the_agent_api():
    assert [rules.role(r) for r in ("agent", "lead", "ops", "admin")] == ["agent", "lead", "ops", "admin"]
    with pytest.raises(UserError, match="choose one of agent, lead, ops, admin"):
        rules.role("boss")


def test_an_extension_is_digits_or_nothing():
    assert rules.extension("21") == "21" and rules.extension(None) is None and rules.extension("") is None
    with pytest.raises(UserError, match="extension"):
        rules.extension("twenty-one")


@pytest.mark.parametrize("password, problem", [
    ("", "empty"),
    ("short1!", "at least 10 characters"),
    ("my-name-is-anna", "contains the user name"),
    ("abababababab", "more than three different characters"),
    ("x" * 1025, "too long"),
])
def test_weak_or_empty_passwords_are_refused_with_the_reason(password, problem):
    with pytest.raises(UserError, match=problem):
        rules.password("anna", password)


def test_a_long_password_of_varied_characters_is_accepted():
    assert rules.password("anna", PASSWORD) == PASSWORD


# ---- the store ------------------------------------------------------------------------------


async def test_an_added_user_signs_in_with_their_password_only(store):
    added = await store.add("Anna", "agent", "21", PASSWORD)
    assert (added.name, added.role, added.extension) == ("anna", "agent", "21")
    assert await store.check("anna", PASSWORD) == added
    assert await store.check("ANNA", PASSWORD) == added
    assert await store.check("anna", PASSWORD + "x") is None
    assert await store.check("nobody", PASSWORD) is None
    assert await store.check("not a name!", PASSWORD) is None


async def test_the_password_is_stored_as_an_argon2id_hash(store, engine):
    await store.add("anna", "agent", None, PASSWORD)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(users.c.password_hash))).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_adding_a_user_twice_is_refused(store):
    await store.add("anna", "agent", None, PASSWORD)
    with pytest.raises(UserError, match="exists already"):
        await store.add("Anna", "lead", None, "another good password")


async def test_a_weak_password_adds_nobody(store):
    with pytest.raises(UserError, match="at least 10"):
        await store.add("anna", "agent", None, "secret")
    assert await store.check("anna", "secret") is None


async def test_changing_the_password_of_an_unknown_user_says_so(store):
    with pytest.raises(UserError, match="no user named 'ghost'"):
        await store.set_password("ghost", PASSWORD)
    with pytest.raises(UserError, match="no user named 'ghost'"):
        await store.disable("ghost")


async def test_a_new_password_replaces_the_old_and_ends_existing_sessions(store):
    before = await store.add("anna", "agent", None, PASSWORD)
    await store.set_password("anna", "a brand new passphrase")
    assert await store.check("anna", PASSWORD) is None
    after = await store.check("anna", "a brand new passphrase")
    assert after is not None and after.epoch > before.epoch
    assert await store.account("anna", before.epoch) is None
    assert await store.account("anna", after.epoch) == after


async def test_a_disabled_user_can_neither_sign_in_nor_keep_a_session(store):
    added = await store.add("anna", "agent", None, PASSWORD)
    assert await store.account("anna", added.epoch) == added
    await store.disable("anna")
    assert await store.check("anna", PASSWORD) is None
    assert await store.account("anna", added.epoch) is None


async def test_a_hash_made_under_older_parameters_is_replaced_at_the_next_login(engine):
    await UserStore(engine, CHEAP).add("anna", "agent", None, PASSWORD)
    upgraded = UserStore(engine, STRONGER)
    async with engine.connect() as conn:
        old = (await conn.execute(select(users.c.password_hash))).scalar_one()
    assert STRONGER.check_needs_rehash(old)
    assert await upgraded.check("anna", "wrong password!") is None
    async with engine.connect() as conn:
        assert (await conn.execute(select(users.c.password_hash))).scalar_one() == old  # not on a failure
    account = await upgraded.check("anna", PASSWORD)
    async with engine.connect() as conn:
        new = (await conn.execute(select(users.c.password_hash))).scalar_one()
    assert account is not None and new != old and not STRONGER.check_needs_rehash(new)
    assert await upgraded.account("anna", account.epoch) == account  # a rehash does not end sessions


# ---- reading the password -------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_terminal_the_password_is_the_first_line_of_stdin():
    assert read_password(io.StringIO(PASSWORD + "\nignored\n")) == PASSWORD


def test_at_a_terminal_the_password_is_asked_twice_and_must_match():
    answers = iter([PASSWORD, PASSWORD])
    assert read_password(Terminal(), lambda _: next(answers)) == PASSWORD
    answers = iter([PASSWORD, PASSWORD + "!"])
    with pytest.raises(UserError, match="differ"):
        read_password(Terminal(), lambda _: next(answers))


# ---- the login form -------------------------------------------------------------------------


TOKEN = "agent-token-for-user-tests-0123456789"


@pytest.fixture
async def site(tmp_path):
    config = Settings(data_dir=tmp_path, file=FileConfig(auth=Auth(
        session_secret="session-secret-for-user-tests-0123456789",
        tokens=[AuthToken(token=TOKEN, user="robot", role="agent")])))
    await upgrade_async(config.db_url)
    engine = make_engine(config.db_url)
    publisher = InMemoryPublisher()
    web = WebUi(config, engine, publisher, Authorizer(config))
    web.users = UserStore(engine, CHEAP)
    app = create_app(config, engine=engine, publisher=publisher)
    web.install(app)
    await web.users.add("lena", "lead", "22", PASSWORD)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://agent.test") as client:
        client.web = web  # type: ignore[attr-defined]
        yield client
    await engine.dispose()


async def log_in(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    form = (await client.get("/login")).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    return await client.post("/login", data={**fields, "csrf_token": csrf, "next": "/"})


async def test_a_user_logs_in_with_name_and_password_and_sees_who_they_are(site):
    answer = await log_in(site, name="Lena", password=PASSWORD)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    home = await site.get("/")
    assert home.status_code == 200 and "lena (lead)" in home.text and "22" in home.text
    api = await site.get("/api/customers", params={"q": "x"})
    assert api.status_code == 200  # the cookie authenticates the JSON API too


async def test_a_wrong_password_is_refused_and_counts_as_a_failed_login(site):
    answer = await log_in(site, name="lena", password="not the password")
    assert answer.status_code == 303 and "failed=password" in answer.headers["location"]
    assert (await site.get("/", follow_redirects=False)).status_code == 303
    page = await site.get(answer.headers["location"])
    assert "Name or password is wrong" in page.text
    for _ in range(10):
        answer = await log_in(site, name="lena", password="still not it")
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1


async def test_disabling_a_user_ends_their_open_session(site):
    await log_in(site, name="lena", password=PASSWORD)
    assert (await site.get("/")).status_code == 200
    await site.web.users.disable("lena")
    answer = await site.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert (await site.get("/api/customers", params={"q": "x"})).status_code == 401


async def test_logout_ends_a_password_session_on_the_server(site):
    await log_in(site, name="lena", password=PASSWORD)
    copied = site.cookies.get("touchpoint_session")
    home = await site.get("/")
    assert home.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
    assert (await site.post("/logout", data={"csrf_token": csrf})).status_code == 303
    site.cookies.clear()
    replayed = await site.get("/", cookies={"touchpoint_session": copied}, follow_redirects=False)
    assert replayed.status_code == 303 and replayed.headers["location"].startswith("/login")


async def test_machines_still_log_in_with_a_token(site):
    answer = await log_in(site, token=TOKEN)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert "robot (agent)" in (await site.get("/")).text
    bearer = await site.get("/api/customers", params={"q": "x"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200
