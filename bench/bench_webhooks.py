"""Webhook throughput and latency: the CTI route (token check, parse, publish with acks=all
to the real broker, answer) against a plain Starlette route that only reads the same form
body (`await request.form()`) and answers; the same route with an in-memory publisher shows
how much of the difference is the route and how much the wait for Kafka's acknowledgement. Both run in their own process with the same
uvicorn settings (one worker, uvloop, httptools) on 127.0.0.1, in the same run; the load
comes from keep-alive connections in this process, a fixed number of requests per
concurrency, each run bounded in time."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid

from bench.harness import BenchContext, Measurement, percentile, rate
from shared.kafka.local_broker import port_open
from tests.infra.ports import free_port

CONCURRENCIES = (1, 16, 64)
REQUESTS = 2000
# enough for uvicorn, the producer and the route to warm up; each server gets the same
WARMUP = 1000
# a broker that has run for a while: its JIT needs tens of thousands of records before its
# cost per produce request settles (a fresh JVM spends several times as much CPU on each)
BROKER_WARMUP = 40_000
RUN_TIMEOUT_S = 90.0
TOKEN = "bench-token-0123456789"
PATH = "/webhooks/telephony/cti"


def _serve_webhooks(port: int, bootstrap: str | None, prefix: str) -> None:
    import uvloop

    uvloop.run(_webhooks(port, bootstrap, prefix))


async def _webhooks(port: int, bootstrap: str | None, prefix: str) -> None:
    # the same serving path as `touchpoint ingest` (services.ingest.http.main.serve); without a
    # bootstrap the events go to an in-memory publisher, which isolates the route's own cost
    import uvicorn

    from services.ingest.http.app import create_app
    from shared.config import FileConfig, Settings, Webhooks
    from shared.kafka.publisher import InMemoryPublisher, KafkaPublisher

    settings = Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix, default_region="DE",
                        file=FileConfig(webhooks=Webhooks.model_validate({"cti": {"token": TOKEN}})))
    publisher = KafkaPublisher(bootstrap, prefix, client_id="bench-ingest") if bootstrap else InMemoryPublisher()
    app = create_app(settings, publisher)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http="httptools", log_level="warning", access_log=False)
    await uvicorn.Server(config).serve()


def _serve_baseline(port: int) -> None:
    import uvicorn
    import uvloop
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def form(request: Request) -> JSONResponse:
        fields = await request.form()
        return JSONResponse({"status": "accepted", "fields": len(fields)})

    app = Starlette(routes=[Route(PATH, form, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http="httptools", log_level="warning", access_log=False)
    uvloop.run(uvicorn.Server(config).serve())


def body(n: int) -> bytes:
    # a sipgate.io newCall as it arrives: ~300 bytes, a distinct call id per request
    return (f"event=newCall&from=4915112345678&to=4930555000100&direction=in&callId=bench{n:012d}"
            "&origCallId=&user%5B%5D=Anna+Agent&user%5B%5D=Ben+Agent&userId%5B%5D=w1&userId%5B%5D=w2"
            "&fullUserId%5B%5D=1234567w1&fullUserId%5B%5D=1234567w2&xcid=3F5A9C1B&diversion=&queue=support"
            "&answeringNumber=").encode()


def request_bytes(n: int) -> bytes:
    payload = body(n)
    head = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"X-Touchpoint-Token: {TOKEN}\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


async def _connection(port: int, numbers: list[int], latencies: list[float], failures: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for n in numbers:
            started = time.perf_counter()
            writer.write(request_bytes(n))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures.append(status)
    finally:
        writer.close()


async def load(port: int, concurrency: int, count: int, first: int) -> tuple[float, list[float], list[int]]:
    """Sends `count` requests over `concurrency` keep-alive connections; returns (req/s, latencies, failures)."""
    latencies: list[float] = []
    failures: list[int] = []
    numbers = list(range(first, first + count))
    shares = [numbers[i::concurrency] for i in range(concurrency)]
    started = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(_connection(port, share, latencies, failures) for share in shares)), RUN_TIMEOUT_S)
    return rate(count, time.perf_counter() - started), latencies, failures


def _start(target, *args) -> multiprocessing.Process:  # type: ignore[no-untyped-def]
    process = multiprocessing.get_context("spawn").Process(target=target, args=args, daemon=True)
    process.start()
    return process


def _stop(process: multiprocessing.Process) -> None:
    if process.is_alive():
        process.terminate()
        process.join(10)
    if process.is_alive():
        process.kill()
        process.join(5)


async def _wait_for_port(port: int, process: multiprocessing.Process, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not port_open(port):
        if not process.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the bench server on port {port} did not start")
        await asyncio.sleep(0.1)


async def warm_broker(bootstrap: str, prefix: str, count: int) -> None:
    """Produces `count` call events (as the route makes them) in large batches, before any clock runs."""
    from datetime import UTC, datetime

    from services.ingest.http.body import form_fields, form_pairs
    from services.ingest.telephony.cti import parse_cti
    from shared.kafka.publisher import KafkaPublisher

    publisher = KafkaPublisher(bootstrap, prefix, client_id="bench-warmup")
    try:
        for start in range(-count, 0, 1000):
            events = [event for n in range(start, start + 1000)
                      for event in parse_cti(form_fields(form_pairs(body(n))), datetime.now(UTC), "DE")]
            await publisher.publish(events)
    finally:
        await publisher.stop()


async def run(ctx: BenchContext) -> list[Measurement]:
    from shared.config import Settings
    from shared.kafka.topics import ensure_for

    bootstrap = ctx.kafka_bootstrap()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    await ensure_for(Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix))
    await warm_broker(bootstrap, prefix, BROKER_WARMUP)
    webhook_port, memory_port, baseline_port = free_port(), free_port(), free_port()
    servers = [_start(_serve_webhooks, webhook_port, bootstrap, prefix), _start(_serve_baseline, baseline_port),
               _start(_serve_webhooks, memory_port, None, prefix)]
    for process in servers:
        ctx.add_cleanup(lambda process=process: _stop(process))
    for port, process in zip((webhook_port, baseline_port, memory_port), servers, strict=True):
        await _wait_for_port(port, process)

    measurements: list[Measurement] = []
    next_number = 0
    for port in (webhook_port, baseline_port, memory_port):
        await load(port, 16, WARMUP, next_number)
        next_number += WARMUP
    for concurrency in CONCURRENCIES:
        base_rate, base_lat, base_fail = await load(baseline_port, concurrency, REQUESTS, next_number)
        hook_rate, hook_lat, hook_fail = await load(webhook_port, concurrency, REQUESTS, next_number + REQUESTS)
        memory_rate, _, memory_fail = await load(memory_port, concurrency, REQUESTS, next_number + 2 * REQUESTS)
        next_number += 3 * REQUESTS
        notes = {"concurrency": concurrency, "requests": REQUESTS, "non_200_webhook": len(hook_fail),
                 "non_200_in_memory": len(memory_fail), "non_200_baseline": len(base_fail),
                 "uvicorn": "1 worker, uvloop, httptools, keep-alive"}
        measurements += [
            Measurement(f"CTI webhook acks=all, c={concurrency}", "req/s", hook_rate,
                        "Starlette request.form()", base_rate, notes=notes),
            Measurement(f"CTI webhook in-memory publisher, c={concurrency}", "req/s", memory_rate,
                        "Starlette request.form()", base_rate, notes=notes),
            Measurement(f"CTI webhook p50, c={concurrency}", "ms", percentile(hook_lat, 50) * 1000,
                        "Starlette request.form()", percentile(base_lat, 50) * 1000, higher_is_better=False, notes=notes),
            Measurement(f"CTI webhook p99, c={concurrency}", "ms", percentile(hook_lat, 99) * 1000,
                        "Starlette request.form()", percentile(base_lat, 99) * 1000, higher_is_better=False, notes=notes),
        ]
    for process in servers:
        _stop(process)
    return measurements
