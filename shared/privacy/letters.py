"""Sealed dead letters: a dead letter whose bytes hold personal data that no sealed event protects
(a mail the IMAP parser could not turn into an event) is encrypted like an event's fields.

The bytes are sealed with AES-256-GCM under the data key of a subject and period (the same keys
events use, see `subjects.py`), and the key's id travels in the letter's `dlq.sealed_key` header.
Erasing the subject or expiring the period destroys the key, and the letter turns into noise
where it lies in Kafka: `open_letter` then raises `LetterErased`. Letters of other services hold
already sealed events and need nothing of this."""

from __future__ import annotations

import secrets
from dataclasses import replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.kafka.deadletter import DeadLetter
from shared.privacy.sealing import FieldSealer

MAGIC = b"TPL1"
NONCE_BYTES = 12


class LetterErased(LookupError):
    """The letter's key was destroyed (erasure, retention) or is restricted: it opens no more."""


def seal_letter(sealer: FieldSealer, letter: DeadLetter, subject: str, period: str) -> DeadLetter:
    """`letter` with its bytes sealed under the key of `subject` in `period` (may wait for the key store)."""
    key_id, key = sealer.store.key_for(subject, period)
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = MAGIC + nonce + AESGCM(key).encrypt(nonce, letter.original, _aad(key_id))
    return replace(letter, original=sealed, sealed_key=key_id)


def open_letter(sealer: FieldSealer | None, letter: DeadLetter) -> DeadLetter:
    """The letter with its bytes in plaintext (a letter that was never sealed comes back as it is);
    LetterErased when its key is gone, or this process has no key store to ask."""
    if letter.sealed_key is None:
        return letter
    key = sealer.store.key_by_id(letter.sealed_key) if sealer is not None else None
    if key is None or not letter.original.startswith(MAGIC):
        raise LetterErased("this dead letter held personal data that was erased (its key is destroyed, or kept "
                           "restricted under a legal hold); it cannot be read or replayed any more")
    body = letter.original[len(MAGIC):]
    try:
        original = AESGCM(key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], _aad(letter.sealed_key))
    except InvalidTag:
        raise LetterErased(f"this dead letter does not open with key {letter.sealed_key} (altered)") from None
    return replace(letter, original=original, sealed_key=None)


def _aad(key_id: str) -> bytes:
    return f"deadletter|{key_id}".encode()
