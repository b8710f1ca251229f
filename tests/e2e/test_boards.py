"""The team lead's SLA board and the ops page in a real browser against the real stack:
a complaint from a web form appears with its clocks and links to the timeline; a poisoned
record shows as a dead letter and the Replay button republishes it, recording who did it."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from events.topics import Topic, topic_name
from services.demo.data import demo_customers
from services.projector.ops.deadletters import read_dead_letters
from services.projector.timeline.rows import customer_id_for
from tests.e2e import traffic
from tests.e2e.stack import LEAD, OPS, Stack
from tests.e2e.test_agent_pages import log_in

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CAROL = demo_customers()[10]
CAROL_ID = customer_id_for(CAROL.customer_ref)


async def wait_for_complaint(stack: Stack, subject: str, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=stack.api, headers={"Authorization": f"Bearer {LEAD}"}) as client:
        while True:
            response = await client.get("/api/complaints")
            found = [c for c in response.json()["complaints"] if c["subject"] == subject]
            if found:
                return found[0]
            stack.check_alive()
            assert time.monotonic() < deadline, f"no complaint {subject!r} on the board after {seconds} s"
            await asyncio.sleep(0.2)


async def test_complaint_from_a_form_shows_on_the_sla_board_with_a_link_to_the_timeline(stack, context, artifacts):
    subject = f"Beschwerde {uuid.uuid4().hex[:6]}: Ware beschädigt"
    await traffic.form(stack, "complaint", {"name": CAROL.name, "email": CAROL.emails[0], "subject": subject,
                                            "message": "Die Lieferung kam beschädigt an."})
    complaint = await wait_for_complaint(stack, subject)

    page = await context.new_page()
    await log_in(page, stack, token=LEAD, target="/complaints")
    assert await page.inner_text("h1") == "Beschwerden nach Dringlichkeit"  # the lead reads German
    row = page.locator(f"tr[data-complaint='{complaint['complaint_id']}']")
    assert await row.locator(".state").inner_text() in ("ok", "Warnung", "überschritten")
    assert "1h" in await row.locator("td.num").inner_text() or "59m" in await row.locator("td.num").inner_text()
    assert await row.locator("time").count() >= 2  # first response and resolution due
    await artifacts.capture(page, "complaints-board.png", full_page=True)

    await page.select_option("#f-prio", "urgent")
    await page.click(".filters button")
    assert await page.locator(f"tr[data-complaint='{complaint['complaint_id']}']").count() == 0
    await page.select_option("#f-prio", "")
    await page.click(".filters button")

    await page.locator(f"tr[data-complaint='{complaint['complaint_id']}'] a").click()
    await page.wait_for_url(f"**/customers/{CAROL_ID}")
    await page.locator("#timeline li.entry", has_text=subject[:20]).first.wait_for()


async def test_ops_page_shows_streams_and_replays_a_dead_letter(stack, context, artifacts):
    email_topic = topic_name(stack.settings.topic_prefix, Topic.EMAIL)
    poison = f'{{"poison": "{uuid.uuid4().hex}"'.encode()
    producer = AIOKafkaProducer(bootstrap_servers=stack.settings.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(email_topic, poison, key=b"poison")
    finally:
        await producer.stop()
    letter = await wait_for_letter(stack, poison)

    page = await context.new_page()
    await log_in(page, stack, token=OPS, target="/ops")
    assert await page.inner_text("h1") == "Event streams"
    assert await page.locator("table.throughput tbody tr").count() >= 5
    email_row = page.locator("table.throughput tr", has_text="email").first
    assert int(await email_row.locator("td.num").last.inner_text()) >= 1  # events on the topic so far
    await page_shows_lag(page)  # consumer groups and their lag
    row = page.locator(f"tr[data-letter='{letter.id}']")
    assert "projector" in await row.inner_text()
    assert poison.decode()[:20] in await row.locator("pre.preview").inner_text()
    await artifacts.capture(page, "ops.png", full_page=True)

    await row.get_by_role("button", name="Replay").click()
    await page.wait_for_url("**/ops?done=**")
    assert "replayed by olaf" in await page.locator(f"tr[data-letter='{letter.id}']").inner_text()
    headers = await replayed_headers(stack, email_topic, poison)
    assert headers["replayed_by"] == b"olaf" and headers["replayed_from"] == letter.id.encode()


async def page_shows_lag(page, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    """The groups show once a member has mirrored its positions, which follows its batch's
    dead letter: reload until they do, as someone watching the page would."""
    deadline = time.monotonic() + seconds
    while await page.locator("#lag-title + table tbody tr").count() == 0:
        assert time.monotonic() < deadline, f"no consumer group on /ops after {seconds} s"
        await asyncio.sleep(0.5)
        await page.reload()


async def wait_for_letter(stack: Stack, original: bytes, seconds: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        letters = await read_dead_letters(stack.settings.bootstrap_servers, stack.settings.topic_prefix)
        found = [v for v in letters if v.letter.original == original and v.letter.service == "projector"]
        if found:
            return found[0]
        assert time.monotonic() < deadline, "the poisoned record did not reach the projector's dead letters"
        await asyncio.sleep(0.3)


async def replayed_headers(stack: Stack, topic: str, original: bytes) -> dict[str, bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.settings.bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    headers = dict(record.headers)
                    if record.value == original and "replayed_by" in headers:
                        return headers
        raise AssertionError("the replayed record is not on its source topic")
    finally:
        await consumer.stop()
