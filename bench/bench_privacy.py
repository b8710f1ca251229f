"""What sealing personal data costs, as ratios of privacy on to privacy off in the same run
(target: at least 0.85 for both; printed as verdicts, never asserted):

- ingest requests/s: the CTI webhook route publishing to the real broker with acks=all, one
  server with privacy off and one with it on (key store in PostgreSQL), the same load (16
  keep-alive connections, callers drawn from 1000 numbers, so keys are mostly cached as with
  real traffic, and the first call of each number makes its key);
- rebuild events/s: `rebuild_timeline` into PostgreSQL over the same generated events, once
  published plain and once sealed (every event opened with its subject's key).

Runs alternate between off and on, and each side reports its best run, so that other load on
the machine during one run does not decide the ratio.

Sizes: TOUCHPOINT_BENCH_PRIVACY_EVENTS (default 50000), TOUCHPOINT_BENCH_PRIVACY_REQUESTS
(default 4000 per server, over 4 alternating rounds)."""

from __future__ import annotations

import os
import time
import uuid

from bench.bench_projector import generate, publish
from bench.bench_webhooks import PATH, TOKEN, _start, _stop, _wait_for_port
from bench.harness import BenchContext, Measurement, rate
from events.codec import use_protection
from shared.config import Settings
from shared.db.migrate import upgrade_async
from tests.infra.ports import free_port
from shared.kafka.topics import ensure_for

EVENTS = int(os.environ.get("TOUCHPOINT_BENCH_PRIVACY_EVENTS", "50000"))
REQUESTS = int(os.environ.get("TOUCHPOINT_BENCH_PRIVACY_REQUESTS", "4000"))
CALLERS = 1000
CONCURRENCY = 16
ROUNDS = 4
REBUILD_ROUNDS = 2
TARGET = 0.85


def _serve(port: int, bootstrap: str, prefix: str, data_dir: str, database_url: str, encrypt: bool) -> None:
    import uvloop

    uvloop.run(_ingest(port, bootstrap, prefix, data_dir, database_url, encrypt))


async def _ingest(port: int, bootstrap: str, prefix: str, data_dir: str, database_url: str, encrypt: bool) -> None:
    import uvicorn

    from services.ingest.http.app import create_app
    from shared.config import FileConfig, Webhooks
    from shared.kafka.publisher import KafkaPublisher
    from shared.privacy.runtime import install

    settings = Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix, default_region="DE", data_dir=data_dir,
                        database_url=database_url, privacy_encrypt=encrypt,
                        file=FileConfig(webhooks=Webhooks.model_validate({"cti": {"token": TOKEN}})))
    install(settings)
    app = create_app(settings, KafkaPublisher(bootstrap, prefix, client_id="bench-privacy"))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http="httptools", log_level="warning", access_log=False)
    await uvicorn.Server(config).serve()


def request_bytes(n: int) -> bytes:
    payload = (f"event=newCall&from=49151{n % CALLERS:08d}&to=4930555000100&direction=in&callId=priv{n:012d}"
               "&user%5B%5D=Anna+Agent&userId%5B%5D=w1").encode()
    head = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"X-Touchpoint-Token: {TOKEN}\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


async def load(port: int, count: int, first: int) -> tuple[float, int]:
    import bench.bench_webhooks as webhooks

    original = webhooks.request_bytes
    webhooks.request_bytes = request_bytes  # the same client, with varying callers
    try:
        per_second, _, failures = await webhooks.load(port, CONCURRENCY, count, first)
    finally:
        webhooks.request_bytes = original
    return per_second, len(failures)


async def ingest_ratio(ctx: BenchContext, database_url: str) -> tuple[float, float, dict[str, object]]:
    bootstrap = ctx.kafka_bootstrap()
    prefix = f"benchpriv{uuid.uuid4().hex[:6]}."
    await ensure_for(Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix))
    ports = {False: free_port(), True: free_port()}
    servers = {encrypt: _start(_serve, port, bootstrap, prefix, str(ctx.work_dir / "var-privacy"), database_url, encrypt)
               for encrypt, port in ports.items()}
    for process in servers.values():
        ctx.add_cleanup(lambda process=process: _stop(process))
    for encrypt, port in ports.items():
        await _wait_for_port(port, servers[encrypt])
    number, rates, failures = 0, {False: [], True: []}, {False: 0, True: 0}  # type: ignore[var-annotated]
    for encrypt, port in ports.items():  # warm-up, and the first call of every caller makes its key
        await load(port, max(CALLERS, REQUESTS // 4), number)
        number += max(CALLERS, REQUESTS // 4)
    for _ in range(ROUNDS):  # alternate, so that drift of the machine's load hits both alike
        for encrypt, port in ports.items():
            per_second, failed = await load(port, REQUESTS // ROUNDS, number)
            number += REQUESTS // ROUNDS
            rates[encrypt].append(per_second)
            failures[encrypt] += failed
    for process in servers.values():
        _stop(process)
    return max(rates[True]), max(rates[False]), {
        "requests": REQUESTS, "callers": CALLERS, "concurrency": CONCURRENCY, "rounds": ROUNDS, "best_of": "rounds",
        "non_200_on": failures[True], "non_200_off": failures[False],
        "rates_on": [round(r, 1) for r in rates[True]], "rates_off": [round(r, 1) for r in rates[False]]}


async def rebuild_ratio(ctx: BenchContext, cluster) -> tuple[float, float, dict[str, object]]:  # type: ignore[no-untyped-def]
    from services.projector.rebuild import rebuild_timeline
    from shared.privacy.runtime import install, uninstall
    from tests.infra.postgres import create_database

    events = generate(EVENTS, EVENTS // 10)
    prepared: dict[bool, Settings] = {}
    for encrypt in (False, True):
        url = await create_database(cluster)
        await upgrade_async(url)
        prepared[encrypt] = Settings(
            kafka_bootstrap=ctx.kafka_bootstrap(), topic_prefix=f"benchreb{uuid.uuid4().hex[:6]}.", topic_partitions=4,
            data_dir=ctx.work_dir / "var-rebuild", database_url=url, privacy_encrypt=encrypt)
        await ensure_for(prepared[encrypt])
        install(prepared[encrypt])
        try:
            await publish(prepared[encrypt], events)  # sealed when on: the keys go to this database
        finally:
            uninstall()
    seconds: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(REBUILD_ROUNDS):  # alternate, best of each
        for encrypt, settings in prepared.items():
            install(settings)  # a fresh process's key store: nothing cached
            try:
                started = time.perf_counter()
                await rebuild_timeline(settings)
                seconds[encrypt].append(time.perf_counter() - started)
            finally:
                uninstall()
    use_protection(None)
    return rate(len(events), min(seconds[True])), rate(len(events), min(seconds[False])), {
        "events": len(events), "rounds": REBUILD_ROUNDS, "seconds_on": [round(x, 2) for x in seconds[True]],
        "seconds_off": [round(x, 2) for x in seconds[False]]}


def verdict(name: str, ratio: float) -> str:
    return f"{name}: privacy on / off = {ratio:.2f} -> {'meets' if ratio >= TARGET else 'MISSES'} the target {TARGET}"


async def run(ctx: BenchContext) -> list[Measurement]:
    from tests.infra.postgres import create_database, start_cluster

    cluster = start_cluster(ctx.work_dir / "pg")
    ctx.add_cleanup(cluster.stop)
    keys_url = await create_database(cluster)
    await upgrade_async(keys_url)
    on, off, notes = await ingest_ratio(ctx, keys_url)
    ingest = Measurement("CTI ingest, privacy on", "req/s", on, "privacy off", off, notes=notes)
    on, off, notes = await rebuild_ratio(ctx, cluster)
    rebuild = Measurement("timeline rebuild into PostgreSQL, privacy on", "events/s", on, "privacy off", off,
                          notes=notes)
    for m in (ingest, rebuild):
        print(verdict(m.name, m.ratio or 0.0))
    return [ingest, rebuild]
