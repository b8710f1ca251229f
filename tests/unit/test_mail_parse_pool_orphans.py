"""A service killed outright (SIGKILL) does not leave its parser processes behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).parents[2]

SERVICE = """
import asyncio, sys
from pathlib import Path
from services.ingest.imap.parsing import ProcessPoolParser

async def main():
    parser = ProcessPoolParser(Path(sys.argv[1]), workers=2)
    await parser.start()
    print(" ".join(str(pid) for pid in parser._pool._processes), flush=True)
    await asyncio.sleep(600)

if __name__ == "__main__":
    asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_parser_processes_exit_when_the_service_is_killed(tmp_path):
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    service = subprocess.Popen([sys.executable, str(script), str(tmp_path / "blobs")], cwd=REPO,
                               stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        workers = [int(pid) for pid in service.stdout.readline().split()]  # type: ignore[union-attr]
        assert len(workers) == 2 and all(alive(pid) for pid in workers)
    finally:
        service.send_signal(signal.SIGKILL)
        service.wait(10)
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers)
