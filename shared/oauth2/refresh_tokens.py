"""A user's refresh token, in the file named by `refresh_token_file`: read before every
refresh (another process may have stored a newer one), replaced atomically and readable by
the owner only."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class RefreshTokenMissing(Exception):
    """No consent yet: `touchpoint mailbox authorize NAME` stores the refresh token."""


def read_refresh_token(path: Path) -> str:
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        raise RefreshTokenMissing(f"no refresh token in {path} yet") from None
    if not value:
        raise RefreshTokenMissing(f"{path} is empty")
    return value


def store_refresh_token(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(value + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
