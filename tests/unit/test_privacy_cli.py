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
