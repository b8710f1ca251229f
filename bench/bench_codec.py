"""Event codec: encode+decode of a realistic event against a raw orjson round trip of the
same dict (the floor any validating codec pays on top of)."""

from __future__ import annotations

import json
import time

import orjson

from bench.harness import BenchContext, Measurement, rate
from events import decode, encode
from events.schema_files import EXAMPLES_DIR

ROUNDS = 20_000


async def run(ctx: BenchContext) -> list[Measurement]:
    example = (EXAMPLES_DIR / "email.received" / "1" / "basic.json").read_bytes()
    event = decode(example)
    raw = json.loads(example)

    start = time.perf_counter()
    for _ in range(ROUNDS):
        decode(encode(event))
    codec_rate = rate(ROUNDS, time.perf_counter() - start)

    start = time.perf_counter()
    for _ in range(ROUNDS):
        orjson.loads(orjson.dumps(raw))
    raw_rate = rate(ROUNDS, time.perf_counter() - start)

    return [Measurement("email.received encode+decode", "events/s", codec_rate, "orjson dumps+loads", raw_rate)]
