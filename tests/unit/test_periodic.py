import asyncio

from shared.periodic import Periodic


async def test_a_failing_round_is_logged_and_the_next_round_runs(caplog):
    rounds = []

    async def step():
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("database hiccup")

    periodic = Periodic(step, 0.01, "test polling")
    periodic.start()
    periodic.start()  # idempotent: still one task
    while len(rounds) < 3:
        await asyncio.sleep(0.01)
    await periodic.stop()
    await periodic.stop()
    stopped_at = len(rounds)
    await asyncio.sleep(0.05)
    assert len(rounds) == stopped_at
    assert "test polling failed: RuntimeError('database hiccup')" in caplog.text
