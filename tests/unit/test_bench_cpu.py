"""The bench's CPU accounting reads real processes from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cpu import CpuMeter, process_seconds, with_descendants

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")

# burns CPU until the process itself has used `seconds` of it, however busy the machine is
BURN = "import time,sys\nwhile time.process_time() < float(sys.argv[1]): pass\n"


def test_a_busy_child_is_found_below_its_parent_and_its_cpu_seconds_counted() -> None:
    parent = subprocess.Popen([sys.executable, "-c",
                               "import subprocess,sys; subprocess.run([sys.executable,'-c',sys.argv[1],'5'])", BURN])
    try:
        family: set[int] = set()
        for _ in range(200):
            family = with_descendants([parent.pid])
            if len(family) > 1:
                break
            subprocess.run(["sleep", "0.02"])
        assert parent.pid in family and len(family) == 2
        (child,) = family - {parent.pid}
        meter = CpuMeter({"burner": lambda: {child}})
        meter.start()
        at_start = process_seconds(child)
        while process_seconds(child) < at_start + 0.3 and parent.poll() is None:
            subprocess.run(["sleep", "0.02"])
        spent = meter.stop()
    finally:
        for pid in with_descendants([parent.pid]) - {parent.pid}:
            os.kill(pid, signal.SIGKILL)
        parent.wait(30)
    assert spent["burner"] >= 0.3
    assert spent["machine"] >= spent["burner"] - 0.05  # the whole machine was at least as busy as the child


def test_a_process_that_is_gone_has_no_seconds() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert process_seconds(gone.pid) == 0.0
