"""A throwaway PostgreSQL cluster for the test session, from Debian's packages.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` user."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from shared.kafka.local_broker import port_open
from tests.infra.ports import free_port


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresCluster:
    data_dir: Path
    port: int
    bin_dir: Path

    @property
    def admin_url(self) -> str:
        return f"postgresql+asyncpg://postgres:postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres:postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, *cmd: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *cmd]
        return list(cmd)

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")
            shutil.chown(self.data_dir.parent, "postgres", "postgres")
        subprocess.run(
            self._as_owner(str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                           "--auth=trust", "-E", "UTF8", "--no-sync"),
            check=True, capture_output=True,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir} -c fsync=off -c max_connections=200"
        subprocess.run(
            self._as_owner(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l",
                           str(self.data_dir / "server.log"), "-w", "-o", options, "start"),
            check=True, capture_output=True,
        )
        deadline = time.monotonic() + 30
        while not port_open(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not listen on {self.port}; see {self.data_dir}/server.log")
            time.sleep(0.1)

    def stop(self) -> None:
        subprocess.run(
            self._as_owner(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"),
            capture_output=True,
        )


def start_cluster(base_dir: Path) -> PostgresCluster:
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: run scripts/test (it installs it) or apt-get install -y postgresql")
    cluster = PostgresCluster(data_dir=base_dir / "pgdata", port=free_port(), bin_dir=bin_dir)
    cluster.start()
    return cluster


async def create_database(cluster: PostgresCluster) -> str:
    """A fresh, uniquely named database; returns its SQLAlchemy URL."""
    import uuid

    import asyncpg

    name = f"tp_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(host="127.0.0.1", port=cluster.port, user="postgres", database="postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return cluster.url(name)
