"""Switching privacy on in a process: the master key, the key store, and the codec layer.

Every service process calls `install(settings)` at start (the command line does, for every
command); with `[privacy] encrypt` off it does nothing, and events stay plaintext."""

from __future__ import annotations

from events.codec import protection, use_protection
from shared.privacy.master import MasterKey, load_or_create_master_key
from shared.privacy.retention import RetentionRules
from shared.privacy.sealing import FieldSealer
from shared.privacy.store import SyncKeyStore


def master_key(settings) -> MasterKey:  # type: ignore[no-untyped-def]
    """The master key; in development one is generated (mode 0600) where it is missing."""
    return load_or_create_master_key(settings.master_key_path, create=settings.environment != "production")


def retention_rules(settings) -> RetentionRules:  # type: ignore[no-untyped-def]
    return RetentionRules.from_config(settings.file.privacy.retention)


def install(settings) -> FieldSealer | None:  # type: ignore[no-untyped-def]
    """Seals and opens personal data in this process when the settings say so."""
    if not settings.encrypts_personal_data:
        return None
    current = protection()
    if isinstance(current, FieldSealer):
        return current
    sealer = FieldSealer(master_key(settings), SyncKeyStore(settings.db_url, master_key(settings)),
                         retention_rules(settings))
    use_protection(sealer)
    return sealer


def uninstall() -> None:
    current = use_protection(None)
    if isinstance(current, FieldSealer) and isinstance(current.store, SyncKeyStore):
        current.store.close()


def active_sealer() -> FieldSealer | None:
    current = protection()
    return current if isinstance(current, FieldSealer) else None
