"""`touchpoint users add|passwd|disable` against PostgreSQL: the password comes from stdin
(never argv), mistakes end with status 1 or 2 and a one-line reason, and what the commands
did is what the login checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.projector.users.store import UserStore
from shared.db.engine import make_engine
from tests.integration.test_projector_live import ROOT

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"


def users(db_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOUCHPOINT_")}
    env["TOUCHPOINT_DATABASE_URL"] = db_url
    return subprocess.run([sys.executable, "-m", "shared.cli", "users", *args], input=stdin, env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
async def store(postgres_url):
    engine = make_engine(postgres_url)
    yield UserStore(engine)
    await engine.dispose()


async def test_a_user_added_from_the_command_line_signs_in_with_the_password_from_stdin(postgres_url, store):
    done = users(postgres_url, "add", "Anna", "--role", "agent", "--extension", "21", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "user anna added (agent, extension 21)"
    account = await store.check("anna", PASSWORD)
    assert account is not None and (account.role, account.extension) == ("agent", "21")


async def test_a_duplicate_a_weak_or_an_empty_password_is_refused_with_the_reason(postgres_url, store):
    assert users(postgres_url, "add", "anna", "--role", "lead", stdin=PASSWORD).returncode == 0
    duplicate = users(postgres_url, "add", "ANNA", "--role", "agent", stdin="another long passphrase\n")
    assert duplicate.returncode == 1
    assert duplicate.stderr.strip() == ("touchpoint: user 'anna' exists already; change the password with "
                                        "'touchpoint users passwd anna'")
    weak = users(postgres_url, "add", "bert", "--role", "agent", stdin="secret\n")
    assert weak.returncode == 1 and "too weak: use at least 10 characters" in weak.stderr
    empty = users(postgres_url, "add", "bert", "--role", "agent", stdin="")
    assert empty.returncode == 1 and "the password is empty" in empty.stderr
    assert await store.check("bert", "secret") is None
    assert (await store.check("anna", PASSWORD)).role == "lead"


def test_bad_usage_is_status_2_and_a_password_is_never_taken_from_argv(postgres_url):
    role = users(postgres_url, "add", "carl", "--role", "boss", stdin=PASSWORD)
    assert role.returncode == 2 and "choose one of agent, lead, ops, admin" in role.stderr
    argv = users(postgres_url, "add", "carl", "--role", "agent", "--password", PASSWORD)
    assert argv.returncode == 2 and "--password" in argv.stderr


async def test_passwd_replaces_the_password_and_disable_locks_the_user_out(postgres_url, store):
    assert users(postgres_url, "add", "dora", "--role", "ops", stdin=PASSWORD).returncode == 0
    before = await store.check("dora", PASSWORD)
    changed = users(postgres_url, "passwd", "dora", stdin="a brand new passphrase\n")
    assert changed.returncode == 0, changed.stderr
    assert await store.check("dora", PASSWORD) is None
    after = await store.check("dora", "a brand new passphrase")
    assert after is not None and await store.account("dora", before.epoch) is None
    disabled = users(postgres_url, "disable", "dora")
    assert disabled.returncode == 0 and "disabled" in disabled.stdout
    assert await store.check("dora", "a brand new passphrase") is None
    assert await store.account("dora", after.epoch) is None


def test_an_unknown_user_is_named_in_the_error(postgres_url):
    for args, stdin in ((("passwd", "ghost"), PASSWORD), (("disable", "ghost"), "")):
        done = users(postgres_url, *args, stdin=stdin)
        assert done.returncode == 1
        assert done.stderr.strip() == "touchpoint: no user named 'ghost'; add one with 'touchpoint users add ghost --role agent'"
