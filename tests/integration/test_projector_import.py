"""`touchpoint customers import FILE.csv` against real Kafka: good rows are published as
customer.registered and projected; bad rows are reported with their line and skipped."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from services.projector.catchup import catch_up
from services.projector.consume import BatchProjector
from services.projector.timeline.tables import TIMELINE
from services.projector.timeline.writer import TimelineWriter
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import KafkaPublisher
from shared.privacy.runtime import install
from tests.integration.test_projector_live import ROOT

pytestmark = pytest.mark.integration

CSV = """customer_ref,name,email,phone,segment
K-1,Erika Muster,erika@example.org;Erika.Work@Example.com,+49 151 12345678,gold
K-2,,max@example.org,,
K-3,Max Mustermann,max@example.org,not-a-phone,
K-4,Eva Beispiel,eva@example.org,+4930123456,
"""


def import_cli(settings, path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOUCHPOINT_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
           "TOUCHPOINT_TOPIC_PREFIX": settings.topic_prefix, "TOUCHPOINT_DATA_DIR": str(settings.data_dir)}
    return subprocess.run([sys.executable, "-m", "shared.cli", "customers", "import", str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


async def test_import_publishes_good_rows_and_reports_bad_ones_by_line(kafka_settings, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CSV)
    done = import_cli(kafka_settings, path)
    assert done.returncode == 0, done.stderr
    assert f"{path}:line 3: customer_ref and name must not be empty" in done.stderr.replace("\n", "")
    assert "line 4: phone 'not-a-phone'" in done.stderr.replace("\n", "")
    assert "imported 2 customer(s), skipped 2 row(s)" in done.stderr.replace("\n", " ")

    install(kafka_settings)  # opens what the command sealed, with the keys of its data folder
    url = f"sqlite+aiosqlite:///{tmp_path / 'tp.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    try:
        await catch_up(kafka_settings, BatchProjector(TimelineWriter(engine), publisher, kafka_settings.topic_prefix), {})
        async with engine.connect() as conn:
            rows = (await conn.execute(select(TIMELINE.customers.c.customer_ref, TIMELINE.customers.c.emails,
                                              TIMELINE.customers.c.segment).order_by(TIMELINE.customers.c.customer_ref))).all()
        assert [tuple(r) for r in rows] == [
            ("K-1", ["erika.work@example.com", "erika@example.org"], "gold"), ("K-4", ["eva@example.org"], None)]
    finally:
        await publisher.stop()
        await engine.dispose()


def test_a_file_without_valid_rows_fails_with_a_one_line_reason(kafka_settings, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,email\nErika,erika@example.org\n")
    done = import_cli(kafka_settings, path)
    assert done.returncode == 1 and "customer_ref" in done.stderr and len(done.stderr.strip().splitlines()) == 1
