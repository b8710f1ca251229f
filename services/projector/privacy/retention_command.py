"""`touchpoint privacy retention [--dry-run] [--now ISO-DATE]`: what expires (dry run) or expired
(shredded now), as a table: class, year, when it expired, keys, restrictions ended. `--now`
pretends another instant (to see what a date will shred, or in tests)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from services.projector.privacy.retention_job import due, run_retention
from shared.config import ConfigError, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import KafkaPublisher
from shared.privacy.runtime import master_key, retention_rules


def parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--now {text!r} is not an ISO date or time, e.g. 2027-01-01 or 2027-01-01T00:00:00Z") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def retention_command(settings: Settings, dry_run: bool, now_text: str | None) -> None:
    now = parse_now(now_text)
    rules = retention_rules(settings)
    if not rules.rules:
        print("no [privacy.retention] rules: nothing is shredded by retention")
        return
    await upgrade_async(settings.db_url)
    engine = make_engine(settings.db_url)
    master = master_key(settings)
    try:
        if dry_run:
            rows = [(e.retention_class, e.year, e.expires_at, e.keys, None) for e in await due(engine, rules, now)]
        else:
            publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-retention")
            try:
                await publisher.start()
                done = await run_retention(engine, master, publisher, rules, now)
            except KafkaUnavailable as exc:
                raise ConfigError(f"privacy.expired could not be published ({exc}); nothing was shredded that "
                                  "was not announced; run it again once Kafka is reachable") from None
            finally:
                await publisher.stop()
            rows = [(s.expiry.retention_class, s.expiry.year, s.expiry.expires_at, s.keys_destroyed,
                     s.restrictions_ended) for s in done]
    finally:
        await engine.dispose()
    print_table(rows, dry_run, now)


def print_table(rows, dry_run: bool, now: datetime) -> None:  # type: ignore[no-untyped-def]
    verb = "would shred" if dry_run else "shredded"
    table = Table(title=f"retention at {now.isoformat()}: {verb}")
    columns = ("class", "year", "expired at", "keys") + (() if dry_run else ("restrictions ended",))
    for column in columns:
        table.add_column(column)
    for retention_class, year, expires_at, keys, ended in rows:
        table.add_row(retention_class, str(year), expires_at.isoformat(), str(keys),
                      *(() if dry_run else (str(ended),)))
    console = Console(width=120)
    if rows:
        console.print(table)
    else:
        console.print(f"nothing expired at {now.isoformat()}")


def run(settings: Settings, dry_run: bool, now: str | None) -> None:
    asyncio.run(retention_command(settings, dry_run, now))
