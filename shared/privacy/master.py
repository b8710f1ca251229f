"""The master key and the secrets derived from it.

The file holds 32 random bytes as base64. Two independent secrets are derived from it with
HKDF: the key-encryption key that wraps every data key, and the secret of the blind indexes
(HMACs of identifiers used as Kafka keys and lookups). Losing the file loses every key it
wraps; a copy of it plus a copy of the key store restores what was erased since that copy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32


class MasterKeyError(ValueError):
    """The master key file is missing or unusable; the message says which file and why."""


@dataclass(frozen=True)
class MasterKey:
    wrapping_key: bytes
    blind_secret: bytes

    @classmethod
    def from_bytes(cls, material: bytes) -> MasterKey:
        if len(material) != KEY_BYTES:
            raise MasterKeyError(f"a master key is {KEY_BYTES} bytes, got {len(material)}")
        return cls(_derive(material, b"touchpoint key wrapping"), _derive(material, b"touchpoint blind index"))

    def blind_index(self, kind: str, value: str) -> str:
        """A stable pseudonym of `kind:value` that reveals nothing without the master key."""
        digest = hmac.new(self.blind_secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
        return digest[:32]


def _derive(material: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose).derive(material)


def read_master_key(path: Path) -> MasterKey:
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise MasterKeyError(f"privacy.master_key_file: cannot read {path}: {exc.strerror}") from None
    try:
        material = base64.b64decode(text, validate=True)
    except ValueError:
        raise MasterKeyError(f"privacy.master_key_file: {path} is not base64 (make one with "
                             "`head -c 32 /dev/urandom | base64`)") from None
    try:
        return MasterKey.from_bytes(material)
    except MasterKeyError as exc:
        raise MasterKeyError(f"privacy.master_key_file: {path}: {exc}") from None


def load_or_create_master_key(path: Path, create: bool) -> MasterKey:
    """Reads the key; when absent and `create` (development), writes a new one readable by the
    owner only. Creation is atomic (a complete file is linked into place), so processes starting together agree on one key."""
    path = Path(path)
    if not path.exists() and create:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".master-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                out.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.link(tmp, path)  # fails when another process made one meanwhile: theirs wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return read_master_key(path)
