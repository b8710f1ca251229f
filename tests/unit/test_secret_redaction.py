"""The database password is never printed: not in the settings' repr, not in log lines, not in
the command line's errors, not in the hub's start-up output."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

from shared.config import Settings
from shared.logging import JsonFormatter
from shared.redaction import safe_url

PASSWORD = "Tr0ub4dor-and-3"
URL = f"postgresql://touchpoint:{PASSWORD}@db.internal:5432/touchpoint"
REPO = Path(__file__).resolve().parents[2]


def test_the_settings_repr_does_not_show_the_database_url():
    settings = Settings(database_url=URL)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert settings.db_url == URL


def test_a_log_line_that_mentions_the_url_masks_the_password():
    Settings(database_url=URL)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("touchpoint.test.redaction")
    logger.addHandler(handler)
    try:
        logger.error("cannot connect to %s", URL)
        try:
            raise ConnectionError(f"refused: {URL}")
        except ConnectionError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert PASSWORD not in stream.getvalue()
    assert "touchpoint:***@db.internal" in stream.getvalue()


def test_a_percent_encoded_password_is_masked_as_written_and_decoded():
    Settings(database_url="postgresql://tp:p%40ss%2Fw0rd-x@db/tp")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("touchpoint.test.redaction")
    logger.addHandler(handler)
    logger.error("url postgresql://tp:p%40ss%2Fw0rd-x@db/tp, password p@ss/w0rd-x")
    logger.removeHandler(handler)
    assert "p%40ss%2Fw0rd-x" not in stream.getvalue() and "p@ss/w0rd-x" not in stream.getvalue()


def test_the_url_as_shown_by_the_hub_hides_the_password():
    assert safe_url(URL) == "postgresql://touchpoint:***@db.internal:5432/touchpoint"


def test_a_malformed_database_url_is_a_config_error_that_does_not_repeat_it(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")},
           "TOUCHPOINT_DATA_DIR": str(tmp_path),
           "TOUCHPOINT_DATABASE_URL": f"postgresql://touchpoint:{PASSWORD}@db.internal:notaport/touchpoint"}
    done = subprocess.run([sys.executable, "-m", "shared.cli", "rebuild", "timeline"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "database_url" in done.stderr and "not a database URL" in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
