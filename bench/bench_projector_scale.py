"""Projection throughput with 1, 2 and 4 `touchpoint projector` processes on a 4-partition
topic into PostgreSQL, in one run: the same events, a fresh database per run. The rate is
taken from the moment the group is stable, every process a member with its partitions (and
at least 5 % of the events applied), to 95 % applied, so process start-up and the group's
rebalances do not count. Each count runs twice, in the order 1, 2, 4, 2, 1, and the better
run counts: whichever ran first on the fresh broker and database was up to twice as slow as a
later run of the same count. Target: two processes reach at least 1.6 times one.

In the same window the bench reads the CPU seconds of the projector processes, of PostgreSQL
and of the local broker. One process leaves part of the cores idle while it waits for
PostgreSQL and the other way round; a second process can only fill that idle part. So the
most N processes can reach on this machine is cores / (CPU seconds all three spend per
event), and the bench prints that ceiling beside the measured ratio.

Size: TOUCHPOINT_BENCH_SCALE_EVENTS (default 40000)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from sqlalchemy import func, select

from bench.bench_projector import ROOT, generate, publish
from bench.cpu import CpuMeter, with_descendants
from bench.harness import BenchContext, Measurement
from services.projector.catchup import interaction_topics
from services.projector.main import group_id
from services.projector.timeline.tables import TIMELINE
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.lag import members_of
from shared.kafka.topics import ensure_for

EVENTS = int(os.environ.get("TOUCHPOINT_BENCH_SCALE_EVENTS", "40000"))
PROCESSES = (1, 2, 4)
ORDER = (1, 2, 4, 2, 1)
TIMEOUT_S = 900.0
ATTEMPTS = 3  # per round, when the group settles too late to measure


def start_projectors(count: int, settings: Settings, url: str, work: Path) -> list[subprocess.Popen]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOUCHPOINT_")}
    env.update(TOUCHPOINT_KAFKA_BOOTSTRAP=settings.bootstrap_servers, TOUCHPOINT_TOPIC_PREFIX=settings.topic_prefix,
               TOUCHPOINT_DATABASE_URL=url, TOUCHPOINT_DATA_DIR=str(work), TOUCHPOINT_PROJECTOR_METRICS_PORT="0",
               TOUCHPOINT_LOG_LEVEL="WARNING",
               TOUCHPOINT_PRIVACY_ENCRYPT="false")  # the events are plaintext; `bench privacy` measures sealing
    work.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen([sys.executable, "-m", "shared.cli", "projector"], cwd=ROOT, env=env,
                             stdout=open(work / f"projector-{n}.log", "wb"), stderr=subprocess.STDOUT)
            for n in range(count)]


MEASURED = ("projectors", "postgres", "broker")  # the processes whose CPU seconds a window reads
PARTS = (*MEASURED, "machine")  # and all busy cores


class SettledLate(RuntimeError):
    """The group settled after half the events: too little was left to measure."""


@dataclass
class Window:
    events: int
    seconds: float
    cpu: dict[str, float]  # CPU seconds in the window, by PARTS

    @property
    def rate(self) -> float:  # events/s
        return self.events / self.seconds

    def per_event_us(self, part: str) -> float:
        return self.cpu.get(part, 0.0) / max(self.events, 1) * 1e6


async def group_settled(admin: AIOKafkaAdminClient, group: str, members: int, partitions: int) -> bool:
    """Every one of `members` processes is in the group and the partitions are all handed out."""
    try:
        rows = [row for response in await admin.describe_consumer_groups([group]) for row in response.groups]
    except KafkaError:
        return False
    if not rows or rows[0][2] != "Stable":
        return False
    found = members_of(rows)
    owned = {tp for member in found for tp in member.partitions}
    return len(found) == members and all(member.partitions for member in found) and len(owned) >= partitions


async def applied_rate(url: str, total: int, processes: list[subprocess.Popen], work: Path,
                       settings: Settings, meter: CpuMeter) -> Window:
    engine = make_engine(url)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    group = group_id(settings)
    partitions = len(interaction_topics(settings)) * settings.topic_partitions
    settled = False
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + TIMEOUT_S
    last_group_check = 0.0
    try:
        while True:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"projectors stopped or timed out; their logs are in {work}")
            now = time.monotonic()
            if not settled and now - last_group_check >= 0.5:
                last_group_check = now
                settled = await group_settled(admin, group, len(processes), partitions)
            async with engine.connect() as conn:
                done = await conn.scalar(select(func.count()).select_from(TIMELINE.applied))
            now = time.monotonic()
            if first is None and settled and done >= 0.05 * total:
                if done >= 0.5 * total:  # settled too late for a fair window: the group's start counts
                    raise SettledLate(f"the group took until {done} of {total} events to settle")
                first = (now, done)
                meter.start()
            if first is not None and done >= 0.95 * total:
                cpu = meter.stop()
                seconds = max(now - first[0], 1e-6)
                return Window(events=done - first[1], seconds=seconds, cpu=cpu)
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
        await engine.dispose()


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def postgres_pids(data_dir: Path) -> set[int]:
    """The postmaster (first line of its pid file) and its backends."""
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return set()
    return with_descendants([postmaster])


def ceiling(window: Window, cores: int) -> float | None:
    """Events/s the cores allow when projectors, PostgreSQL and the broker keep them all busy,
    at the CPU per event this window measured; None without readings."""
    spent = sum(window.cpu.get(part, 0.0) for part in MEASURED)
    return cores * window.events / spent if spent > 0 else None


async def run(ctx: BenchContext) -> list[Measurement]:
    from tests.infra.postgres import create_database, start_cluster

    cluster = start_cluster(ctx.work_dir / "pg-scale")
    ctx.add_cleanup(cluster.stop)
    settings = Settings(kafka_bootstrap=ctx.kafka_bootstrap(), topic_prefix=f"bench.scale.{uuid.uuid4().hex[:8]}.",
                        topic_partitions=4, data_dir=ctx.work_dir / "scale")  # topics of this run only
    await ensure_for(settings)
    events = generate(EVENTS, min(1000, EVENTS // 20))
    await publish(settings, events)
    broker = ctx.kafka_pid()
    cores = os.cpu_count() or 1
    runs: dict[int, list[Window]] = {count: [] for count in PROCESSES}
    for round_number, count in enumerate(ORDER):
        for attempt in range(1, ATTEMPTS + 1):
            url = await create_database(cluster)
            await upgrade_async(url)
            work = ctx.work_dir / f"scale-{round_number}-{count}-{attempt}"
            processes = start_projectors(count, settings, url, work)
            meter = CpuMeter({
                "projectors": lambda processes=processes: {p.pid for p in processes},
                "postgres": lambda: postgres_pids(cluster.data_dir),
                "broker": lambda: {broker} if broker else set(),
            })
            try:
                window = await applied_rate(url, len(events), processes, work, settings, meter)
                break
            except SettledLate as late:
                if attempt == ATTEMPTS:
                    raise SettledLate(f"{late} in {ATTEMPTS} attempts; set TOUCHPOINT_BENCH_SCALE_EVENTS higher") from None
                print(f"{count} projector process(es): {late}; measuring again on a fresh database")
            finally:
                stop(processes)
        runs[count].append(window)
        print(f"{count} projector process(es): {window.rate:,.0f} events/s over {window.seconds:.1f} s; CPU per event: "
              + ", ".join(f"{part} {window.per_event_us(part):.0f} us" for part in PARTS))
    best = {count: max(found, key=lambda w: w.rate) for count, found in runs.items()}
    rates = {count: window.rate for count, window in best.items()}
    verdict = "met" if rates[2] >= 1.6 * rates[1] else "NOT met"
    bound = ceiling(best[1], cores)
    print(f"two processes reach {rates[2] / rates[1]:.2f} times one (target 1.6: {verdict}); "
          f"four reach {rates[4] / rates[1]:.2f} times one; {cores} CPU cores here")
    if bound is not None:
        print(f"at the CPU per event of the best single-process run, these {cores} cores allow at most "
              f"{bound:,.0f} events/s: {bound / rates[1]:.2f} times one process, for any number of processes")
    notes = {
        "events": len(events), "partitions": 4, "cpu_cores": cores,
        "runs": {str(count): [round(w.rate) for w in found] for count, found in runs.items()},
        "cpu_us_per_event": {str(count): {part: round(w.per_event_us(part)) for part in PARTS}
                             for count, w in best.items()},
        "ceiling_times_one": round(bound / rates[1], 2) if bound is not None else None,
    }
    return [Measurement(f"projection with {count} processes", "events/s", rates[count], "1 process", rates[1],
                        notes=notes) for count in PROCESSES[1:]]
