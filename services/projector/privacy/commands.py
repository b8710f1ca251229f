"""`touchpoint customers erase REF | --email ADDR | --phone NUMBER`."""

from __future__ import annotations

import asyncio
import getpass
import sys

from events.envelope import ActorRef
from services.projector.privacy.erasure import NothingToErase, Target, erase, scope_of
from shared.config import ConfigError, Settings
from shared.contacts import normalise_email, normalise_phone
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import KafkaPublisher
from shared.privacy.runtime import master_key


def target_for(settings: Settings, ref: str | None, email: str | None, phone: str | None) -> Target:
    given = [value for value in (ref, email, phone) if value]
    if len(given) != 1:
        raise ConfigError("give exactly one of REF, --email or --phone")
    if ref:
        return Target(customer_ref=ref.strip())
    if email:
        found = normalise_email(email)
        if found is None:
            raise ConfigError(f"--email {email!r} is not an address")
        return Target(identifier=("email", found))
    found = normalise_phone(phone, settings.default_region)
    if found is None:
        raise ConfigError(f"--phone {phone!r} is not a phone number (write it as +4930123456)")
    return Target(identifier=("phone", found))


async def erase_command(settings: Settings, ref: str | None, email: str | None, phone: str | None) -> None:
    target = target_for(settings, ref, email, phone)
    await upgrade_async(settings.db_url)
    engine = make_engine(settings.db_url)
    master = master_key(settings)
    try:
        await scope_of(engine, master, target)  # an unknown subject fails before anything is touched
    except NothingToErase as exc:
        await engine.dispose()
        raise ConfigError(str(exc)) from None
    publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-erase")
    try:
        await publisher.start()
        event = await erase(engine, master, publisher, target, ActorRef(kind="system", name=f"cli:{getpass.getuser()}"))
    except KafkaUnavailable as exc:
        raise ConfigError(f"customer.erased could not be published ({exc}); run the erasure again once Kafka "
                          "is reachable") from None
    finally:
        await publisher.stop()
        await engine.dispose()
    p = event.payload
    print(f"erased: {p.keys_destroyed} key(s) destroyed, {len(p.timeline_ids)} timeline(s) to redact, "
          f"erasure {p.erasure_id}")
    for r in p.restricted:
        print(f"restricted (legal hold): {r.retention_class} of {r.year} until {r.until.date().isoformat()}")
    if not settings.encrypts_personal_data:
        print("warning: [privacy] encrypt is off: the read models are redacted, but events already in the log "
              "keep their plaintext", file=sys.stderr)


def run(settings: Settings, ref: str | None, email: str | None, phone: str | None) -> None:
    asyncio.run(erase_command(settings, ref, email, phone))
