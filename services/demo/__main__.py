"""`python -m services.demo` (started by `touchpoint up --demo`): imports the demo customers,
runs a mail sink for notifications and sends gentle traffic on every channel until stopped."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

from services.demo.config import DemoSecrets
from services.demo.data import CALLBACK_CUSTOMER, demo_customers, merge_candidate, write_customers_csv
from services.demo.mailsink import start_mail_sink
from services.demo.mail import MailPublisher
from services.demo.traffic import HttpStep, MailStep, Scenario, next_scenario, overdue_complaint, waiting_callback
from services.projector.customers_csv import parse_customers
from services.projector.customers_import import publish_all
from services.projector.timeline.rows import customer_id_for
from shared.config import Settings, load_settings
from shared.logging import configure_logging

log = logging.getLogger("touchpoint.demo")


async def wait_ready(client: httpx.AsyncClient, url: str, seconds: float = 180) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        try:
            if (await client.get(url)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(1)
    raise RuntimeError(f"{url} did not become ready in {seconds:.0f} s")


async def send_step(step: HttpStep | MailStep, client: httpx.AsyncClient, settings: Settings, secrets: DemoSecrets,
                    mail_sender) -> None:
    if isinstance(step, MailStep):
        await mail_sender(step.raw, step.direction, step.received_at)
        return
    params = {"token": secrets.cti_token} if step.path.startswith("/webhooks/telephony/cti") else None
    response = await client.post(step.path, data=step.form, content=step.body, headers=step.headers, params=params)
    if response.status_code >= 400:
        log.warning("demo request %s answered %s: %s", step.path, response.status_code, response.text[:200])


async def play(scenario: Scenario, *args) -> None:
    for step in scenario.steps:
        await asyncio.sleep(step.delay)
        try:
            await send_step(step, *args)
        except Exception:  # the demo keeps going; the services log their side
            log.exception("demo step of %s failed", scenario.name)


async def import_customers(settings: Settings, csv_path: Path) -> None:
    """The same parsing and publishing `touchpoint customers import` does, inside this loop."""
    events, problems = parse_customers(csv_path.read_text(encoding="utf-8"), datetime.now(UTC), settings.default_region)
    for problem in problems:
        log.warning("demo customers: %s", problem)
    await publish_all(settings, events)


def zero_delays(scenario: Scenario) -> Scenario:
    return Scenario(scenario.name, tuple(replace(step, delay=0) for step in scenario.steps))


async def seed_history(rng: random.Random, customers, client: httpx.AsyncClient, settings: Settings,
                       secrets: DemoSecrets, mail_sender, per_customer: int = 3) -> int:
    """A short history for every customer before the gentle live traffic starts, so the first
    page an agent opens is not empty: the same scenarios, their steps sent without pauses."""
    seq = 0
    for customer in customers:
        for _ in range(per_customer):
            seq += 1
            scenario = next_scenario(rng, [customer], datetime.now(UTC), seq, secrets.shipping_secret)
            await play(zero_delays(scenario), client, settings, secrets, mail_sender)
    return seq


async def main(settings: Settings) -> None:
    secrets = DemoSecrets()
    sink = start_mail_sink(settings.data_dir / "demo-mail", secrets.smtp_port)
    ingest = f"http://{settings.ingest_host}:{settings.ingest_port}"
    api = f"http://{settings.api_host}:{settings.api_port}"
    customers = demo_customers()
    rng = random.Random()
    mail_sender = MailPublisher(settings)
    tasks: set[asyncio.Task] = set()
    async with httpx.AsyncClient(base_url=ingest, timeout=30) as client:
        try:
            await wait_ready(client, f"{ingest}/readyz")
            await wait_ready(client, f"{api}/readyz")
            csv_path = write_customers_csv(settings.data_dir / "demo-customers.csv", customers)
            await import_customers(settings, csv_path)
            print(f"demo: {len(customers)} customers imported; open {api}/ and log in with token "
                  f"'{secrets.agent_token}' (agent), '{secrets.lead_token}' (lead) or '{secrets.ops_token}' (ops)", flush=True)
            first, second = merge_candidate()
            print(f"demo: {first.name} is registered twice ({first.customer_ref}, {second.customer_ref}): "
                  f"merge them from {api}/customers/{customer_id_for(first.customer_ref)}", flush=True)
            # something to explain on the board from the start: a complaint long past its due time
            await play(overdue_complaint(customers[1], datetime.now(UTC)), client, settings, secrets, mail_sender)
            seq = await seed_history(rng, customers, client, settings, secrets, mail_sender)
            # one customer keeps waiting for a callback: the queue is never empty in the demo
            caller = customers[CALLBACK_CUSTOMER]
            await play(zero_delays(waiting_callback(rng, caller, seq + 1)), client, settings, secrets, mail_sender)
            seq += 2
            waiting = frozenset(caller.phones)
            while True:
                seq += 1
                scenario = next_scenario(rng, customers, datetime.now(UTC), seq, secrets.shipping_secret, waiting)
                task = asyncio.create_task(play(scenario, client, settings, secrets, mail_sender))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                await asyncio.sleep(rng.uniform(3, 8))
        finally:
            # the scenarios still playing stop first: the services are going away with the demo
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await mail_sender.stop()
            sink.stop()


if __name__ == "__main__":
    demo_settings = load_settings()
    configure_logging("demo", demo_settings.log_level)
    from shared.privacy.runtime import install

    install(demo_settings)  # the demo's traffic is sealed like the services' when privacy is on
    try:
        asyncio.run(main(demo_settings))
    except KeyboardInterrupt:
        pass
