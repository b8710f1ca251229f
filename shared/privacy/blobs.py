"""Sealed blobs: attachments, oversized bodies and raw messages encrypted at rest.

Each blob gets a fresh AES-256-GCM key. The key travels only inside the event's `StoredBlob`,
a personal-data field, so it is sealed under the subject's key with the rest of the event: when
the subject's keys are destroyed, the blob key is lost with them and the file on disk is
noise. The file is addressed by the sha256 of what is stored (the ciphertext), so the folder
reveals nothing about the content; the same attachment received twice is stored twice."""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.envelope import StoredBlob
from shared.blobs import BlobNotFound, BlobStore

MAGIC = b"TPB1"
NONCE_BYTES = 12


def seal_blob(data: bytes) -> tuple[bytes, str]:
    """The bytes to store and the base64 key that opens them."""
    key, nonce = secrets.token_bytes(32), secrets.token_bytes(NONCE_BYTES)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, data, MAGIC), base64.b64encode(key).decode()


def open_blob(stored: bytes, key: str | None) -> bytes:
    """The plaintext of a stored blob; plain (unsealed) blobs come back as they are."""
    if not stored.startswith(MAGIC):
        return stored
    if key is None:
        raise BlobNotFound("this blob is sealed and its key is gone (erased) or was not given")
    nonce, sealed = stored[len(MAGIC):len(MAGIC) + NONCE_BYTES], stored[len(MAGIC) + NONCE_BYTES:]
    try:
        return AESGCM(base64.b64decode(key)).decrypt(nonce, sealed, MAGIC)
    except (InvalidTag, ValueError):
        raise BlobNotFound("this blob does not open with the key given") from None


class SealedBlobStore(BlobStore):
    """A `BlobStore` that seals what it stores; `read_open(sha256, key)` gives the plaintext."""

    def put(self, data: bytes, content_type: str = "application/octet-stream", filename: str | None = None) -> StoredBlob:
        stored, key = seal_blob(data)
        blob = super().put(stored, content_type, filename)
        return blob.model_copy(update={"key": key})

    def read_open(self, sha256: str, key: str | None) -> bytes:
        return open_blob(self.read(sha256), key)


def blob_store(root, sealed: bool) -> BlobStore:  # type: ignore[no-untyped-def]
    return SealedBlobStore(root) if sealed else BlobStore(root)
