"""Real-world mail corpora that packages ship, fetched once per machine and pinned by hash.

flufl.bounce's wheel carries no test data; its source distribution holds 117 mails collected by
GNU Mailman over the years: 115 bounces in the formats of many mail servers, one auto-reply and
one ordinary mail. `python -m tests.corpora` fetches it (scripts/setup --test does)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

CACHE = Path.home() / ".cache" / "touchpoint" / "corpora"
FLUFL_BOUNCE = "flufl.bounce==6.0.0"
FLUFL_BOUNCE_SDIST = "flufl_bounce-6.0.0.tar.gz"
FLUFL_BOUNCE_SHA256 = "a1df16b9d1877ae4536f7d76c00d8421fcefbe694f80f5285d05c45a2547b1bc"
# In the corpus, but no bounces (the package's own tests say so).
FLUFL_NOT_BOUNCES = {"groupwise_03.txt": "a reply from a person", "qmail_08.txt": "an auto-reply"}


def flufl_bounce_corpus() -> Path:
    """The directory of the corpus' mails, fetched from PyPI when missing."""
    target = CACHE / "flufl_bounce-6.0.0" / "data"
    if not (target / "dsn_01.txt").exists():
        _fetch_flufl_bounce(target)
    return target


def _fetch_flufl_bounce(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", tmp, FLUFL_BOUNCE],
            check=True,
        )
        sdist = Path(tmp) / FLUFL_BOUNCE_SDIST
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != FLUFL_BOUNCE_SHA256:
            raise RuntimeError(f"{FLUFL_BOUNCE_SDIST} has sha256 {digest}, expected {FLUFL_BOUNCE_SHA256}")
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                if member.isfile() and "/tests/data/" in member.name and member.name.endswith(".txt"):
                    data = archive.extractfile(member)
                    assert data is not None
                    (target / Path(member.name).name).write_bytes(data.read())


if __name__ == "__main__":
    print(flufl_bounce_corpus())
