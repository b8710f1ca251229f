"""Shared fixtures: one real Kafka broker and one throwaway PostgreSQL cluster per test
session; every test gets its own topic prefix and database, so tests never see each other."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from events.codec import protection, use_protection
from shared.config import Settings
from shared.kafka.topics import ensure_for
from shared.privacy.runtime import uninstall
from tests.infra.kafka import start_test_broker
from tests.infra.postgres import PostgresCluster, create_database, start_cluster


# `.ci/run` spreads the suite over two workers (pytest-xdist, `--dist loadgroup`); a worker starts
# the session's broker, database and stack only when one of its tests needs them. Tests that run
# clusters, whole hubs or kill -9 of their own go one after another to one worker: side by side on
# two cores they would starve each other's timers. The browser tests share one stack and chromium.
# The groups are named here by file rather than with xdist_group marks, which pytest 9.2 no longer
# lets xdist 3.8 apply (it renames a node id that pytest now derives).
ONE_AT_A_TIME = frozenset({
    "tests/integration/test_scale_out.py",
    "tests/integration/test_kafka_cluster.py",
    "tests/integration/test_kafka_sasl.py",
    "tests/integration/test_kafka_cli.py",
    "tests/integration/test_kill_mid_batch.py",
    "tests/integration/test_safe_start.py",
    "tests/e2e/test_demo_smoke.py",
})


def work_unit(nodeid: str) -> str:
    """What one worker runs as a whole: a group, or else the single test."""
    path = nodeid.split("::", 1)[0]
    if path in ONE_AT_A_TIME:
        return "one-at-a-time"
    if path.startswith("tests/e2e/"):
        return "browser"
    return nodeid


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SuiteScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return SuiteScheduling(config, log)


@pytest.fixture(autouse=True)
def privacy_of_this_test() -> Iterator[None]:
    """A test that runs a command in this process (it switches privacy on, as every command does)
    leaves the process as it found it: the next test does not seal with its keys."""
    before = protection()
    yield
    if protection() is not before:
        uninstall()
        use_protection(before)


@pytest.fixture(scope="session", autouse=True)
def quiet_status_ports() -> Iterator[None]:
    """Services started by tests serve /metrics only where a test asks for a free port;
    the fixed default ports could be taken on a developer's machine."""
    import os

    names = [f"TOUCHPOINT_{name}_METRICS_PORT" for name in ("PROJECTOR", "SLA", "NOTIFIER", "IMAP")]
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ.setdefault(name, "0")
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def session_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="touchpoint-tests-") as tmp:
        # services running as other users (postgres, dovecot) need to traverse it
        Path(tmp).chmod(0o755)
        yield Path(tmp)


@pytest.fixture(scope="session")
def kafka_bootstrap(session_dir: Path) -> Iterator[str]:
    bootstrap, broker = start_test_broker(session_dir)
    yield bootstrap
    if broker is not None:
        broker.stop(wait_seconds=0)  # throwaway data: no controlled shutdown to wait for


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def settings_factory(tmp_path: Path):
    """Settings for a test; keyword arguments override fields."""

    def make(**overrides) -> Settings:
        base = {"data_dir": tmp_path / "var", "topic_prefix": f"t{uuid.uuid4().hex[:10]}."}
        return Settings(**{**base, **overrides})

    return make


@pytest.fixture
async def kafka_settings(kafka_bootstrap: str, settings_factory, topic_prefix: str) -> Settings:
    """Settings pointing at the session broker, with this test's topics created."""
    settings = settings_factory(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, topic_partitions=2)
    await ensure_for(settings)
    return settings


@pytest.fixture(scope="session")
def postgres(session_dir: Path) -> Iterator[PostgresCluster]:
    cluster = start_cluster(session_dir / "pg")
    yield cluster
    cluster.stop()


@pytest.fixture
async def postgres_url(postgres: PostgresCluster) -> str:
    return await create_database(postgres)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request, tmp_path: Path) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'touchpoint.db'}"
    return await create_database(request.getfixturevalue("postgres"))
