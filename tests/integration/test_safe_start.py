"""Services started at once against an empty PostgreSQL database all come up: each runs the
migrations at start, and they take turns (an advisory lock) instead of racing to create
`alembic_version` and the same tables."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.infra.postgres import create_database

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SERVICES = 4
ROUNDS = 5
# each process waits at the barrier, then migrates as a service does at start
MIGRATE_AT_BARRIER = """
import os, sys, time
barrier = sys.argv[2]
while not os.path.exists(barrier):
    time.sleep(0.005)
from shared.db.migrate import upgrade
upgrade(sys.argv[1])
"""


async def heads_and_tables(url: str) -> tuple[set[str], int]:
    parsed = make_url(url)
    conn = await asyncpg.connect(host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database)
    try:
        versions = {row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")}
        tables = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        return versions, tables
    finally:
        await conn.close()


def expected_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    from shared.db.migrate import alembic_config

    return set(ScriptDirectory.from_config(alembic_config("sqlite:///unused.db")).get_heads())


async def test_four_services_migrating_one_empty_database_at_once_all_come_up(postgres, tmp_path):
    heads = expected_heads()
    for round_ in range(ROUNDS):
        url = await create_database(postgres)
        barrier = tmp_path / f"go-{round_}"
        processes = [
            subprocess.Popen([sys.executable, "-c", MIGRATE_AT_BARRIER, url, str(barrier)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(SERVICES)
        ]
        time.sleep(1.5)  # every interpreter started and is polling the barrier
        barrier.touch()
        outputs = [(process.wait(120), process.stdout.read().decode(errors="replace")) for process in processes]
        failed = [output[-1500:] for status, output in outputs if status != 0]
        assert failed == [], f"round {round_ + 1}: {len(failed)} of {SERVICES} failed to migrate:\n{failed[0]}"
        versions, tables = await heads_and_tables(url)
        assert versions == heads
        assert tables > 10
