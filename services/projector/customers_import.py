"""`touchpoint customers import FILE.csv`: publishes master data as `customer.registered`
events, with a progress bar. Bad rows are reported with their line number and skipped; the
good rows go through. Importing the same file again publishes the same event ids, which the
projector skips as applied."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from services.projector.customers_csv import BadFile, parse_customers
from shared.config import ConfigError, Settings
from shared.kafka.publisher import KafkaPublisher, Publisher
from shared.kafka.topics import ensure_for

CHUNK = 500
console = Console(stderr=True)


def run(settings: Settings, path: Path) -> None:
    text = read_csv(path)
    try:
        events, problems = parse_customers(text, datetime.now(UTC), settings.default_region)
    except BadFile as exc:
        raise ConfigError(f"{path}: {exc}") from None
    for problem in problems:
        console.print(f"[yellow]skipped[/] {path}:{problem}")
    if not events:
        raise ConfigError(f"{path}: no valid rows to import ({len(problems)} skipped)")
    asyncio.run(publish_all(settings, events))
    console.print(f"imported {len(events)} customer(s), skipped {len(problems)} row(s)")


def read_csv(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; give a UTF-8 CSV file") from None


async def publish_all(settings: Settings, events: list, publisher: Publisher | None = None) -> None:
    if publisher is None:
        await ensure_for(settings)
        publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-import")
    await publisher.start()
    try:
        with Progress(TextColumn("importing customers"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
            task = bar.add_task("publish", total=len(events))
            for start in range(0, len(events), CHUNK):
                chunk = events[start : start + CHUNK]
                await publisher.publish(chunk)
                bar.advance(task, len(chunk))
    finally:
        await publisher.stop()
