"""`touchpoint customers erase` and `export` as a user meets them: bad usage is exit 2, an
unknown customer or a customer's own address is exit 1 with a one-line reason; nothing is
destroyed or published then."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def touchpoint(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    env.update(TOUCHPOINT_DATA_DIR=str(tmp_path / "var"), TOUCHPOINT_KAFKA_BOOTSTRAP="127.0.0.1:1")
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


def test_erase_needs_exactly_one_of_a_reference_an_address_or_a_number(tmp_path):
    for args in ([], ["K-1", "--email", "a@example.org"]):
        done = touchpoint(tmp_path, "customers", "erase", *args)
        assert done.returncode == 2 and "exactly one of REF, --email or --phone" in done.stderr


def test_erasing_an_unknown_customer_fails_with_a_reason_and_publishes_nothing(tmp_path):
    done = touchpoint(tmp_path, "customers", "erase", "K-404")
    assert done.returncode == 1
    assert done.stderr.strip() == "touchpoint: no customer with reference 'K-404'"


def test_an_address_that_is_not_one_is_refused(tmp_path):
    done = touchpoint(tmp_path, "customers", "erase", "--email", "not-an-address")
    assert done.returncode == 1 and "--email 'not-an-address' is not an address" in done.stderr


def test_exporting_an_unknown_customer_fails_with_a_reason(tmp_path):
    done = touchpoint(tmp_path, "customers", "export", "K-404", "--out", str(tmp_path / "x.zip"))
    assert done.returncode == 1 and "no customer with reference 'K-404'" in done.stderr
    assert not (tmp_path / "x.zip").exists()


def retention(tmp_path: Path, monkeypatch, *args: str, database: Path | None = None):  # type: ignore[no-untyped-def]
    """`touchpoint privacy retention ...` in this process (no interpreter start per call)."""
    from typer.testing import CliRunner

    from shared.cli import app

    config = tmp_path / "touchpoint.toml"
    if not config.exists():
        config.write_text('[privacy.retention]\n"email.*" = "6y"\n')
    for name in [k for k in os.environ if k.startswith("TOUCHPOINT_")]:
        monkeypatch.delenv(name)
    env = {"TOUCHPOINT_DATA_DIR": str(tmp_path / "var"), "TOUCHPOINT_CONFIG": str(config)}
    if database is not None:
        env["TOUCHPOINT_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    return CliRunner().invoke(app, ["privacy", "retention", *args], env=env)


def test_retention_dry_run_lists_what_would_expire_at_the_given_date_and_shreds_nothing(tmp_path, monkeypatch):
    import sqlite3

    from shared.db.migrate import upgrade

    database = tmp_path / "keys.db"
    upgrade(f"sqlite+aiosqlite:///{database}")
    with sqlite3.connect(database) as conn:
        conn.executemany("INSERT INTO privacy_keys VALUES (?, ?, ?, ?, '2026-01-01 00:00:00')",
                         [(f"k{n}", f"contact:{n}", period, b"wrapped")
                          for n, period in enumerate(["2019|email.*", "2019|email.*", "2024|email.*", "2019"])])
    done = retention(tmp_path, monkeypatch, "--dry-run", "--now", "2026-06-01", database=database)
    assert done.exit_code == 0, done.output
    assert "would shred" in done.output and "email.*" in done.output and "2019" in done.output
    assert "2024" not in done.output.replace("2026-06-01", "")
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM privacy_keys").fetchone() == (4,)


def test_retention_refuses_a_date_it_cannot_read(tmp_path, monkeypatch):
    done = retention(tmp_path, monkeypatch, "--dry-run", "--now", "next tuesday")
    assert done.exit_code == 1 and "--now 'next tuesday' is not an ISO date" in done.output
