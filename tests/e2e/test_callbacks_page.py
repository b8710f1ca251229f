"""The callback queue in a real browser against the real stack: a missed call waits in
`/callbacks` (and on the customer's page) until an agent calls the number back through the
telephony webhook, or closes it with an outcome note."""

from __future__ import annotations

import uuid

import pytest

from services.demo.data import demo_customers
from services.projector.timeline.rows import customer_id_for
from tests.e2e import traffic
from tests.e2e.stack import LEAD, OPS
from tests.e2e.test_agent_pages import log_in

pytestmark = [pytest.mark.integration, pytest.mark.browser]
PAUL = demo_customers()[5]
PAUL_ID = customer_id_for(PAUL.customer_ref)


def new_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


async def test_a_missed_call_waits_in_the_queue_until_the_agent_calls_back(stack, context, artifacts):
    number = PAUL.phones[0]
    await traffic.missed_call(stack, new_id("cb"), number, "cancel")
    await traffic.missed_call(stack, new_id("cb"), number, "busy")
    waiting = await traffic.wait_for_callback(stack, lambda c: c["phone"] == number and c["attempts"] == 2)
    assert waiting["customer"]["name"] == PAUL.name

    page = await context.new_page()
    await log_in(page, stack, target="/callbacks")
    row = page.locator(f"tr[data-callback='{waiting['callback_id']}']")
    await row.wait_for()
    cells = await row.locator("td").all_inner_texts()
    assert cells[0] == number and PAUL.name in cells[1] and cells[2] == "2"
    await artifacts.capture(page, "callbacks-queue.png", full_page=True)

    await row.get_by_role("link", name=PAUL.name).click()
    await page.wait_for_url(f"**/customers/{PAUL_ID}")
    note = page.locator(f".callback-note[data-callback='{waiting['callback_id']}']")
    await note.wait_for()
    assert number in await note.inner_text()
    await artifacts.capture(page, "customer-callback.png", full_page=True)

    await traffic.call_back(stack, new_id("back"), number)
    closed = await traffic.wait_for_callback(stack, lambda c: c["callback_id"] == waiting["callback_id"], "closed")
    assert (closed["close_reason"], closed["closed_by"]) == ("called_back", "21")
    await page.goto(f"{stack.api}/callbacks")
    assert await page.locator(f"tr[data-callback='{waiting['callback_id']}']").count() == 0
    await artifacts.capture(page, "callbacks-after-call-back.png", full_page=True)
    await page.goto(f"{stack.api}/customers/{PAUL_ID}")
    await page.wait_for_load_state("networkidle")
    assert await page.locator(".callback-note").count() == 0


async def test_an_agent_closes_a_callback_with_an_outcome_note(stack, context, artifacts):
    stranger = f"+49157{uuid.uuid4().int % 10**7:07d}"
    await traffic.missed_call(stack, new_id("cb"), stranger, "noAnswer")
    waiting = await traffic.wait_for_callback(stack, lambda c: c["phone"] == stranger)
    page = await context.new_page()
    await log_in(page, stack, target="/callbacks")
    row = page.locator(f"tr[data-callback='{waiting['callback_id']}']")
    await row.locator("input[name=note]").fill("Left a voicemail; the customer will write")
    await row.get_by_role("button", name="Close").click()
    await page.wait_for_url("**/callbacks?closed=*")
    await page.locator("p.ok").wait_for()
    closed = await traffic.wait_for_callback(stack, lambda c: c["callback_id"] == waiting["callback_id"], "closed")
    assert (closed["close_reason"], closed["closed_by"], closed["close_note"]) == (
        "agent", "anna", "Left a voicemail; the customer will write")
    await page.goto(f"{stack.api}/callbacks")
    assert await page.locator(f"tr[data-callback='{waiting['callback_id']}']").count() == 0
    await artifacts.capture(page, "callbacks-closed-by-agent.png", full_page=True)


async def test_leads_see_the_queue_and_ops_may_not(stack, context):
    page = await context.new_page()
    await log_in(page, stack, LEAD, target="/callbacks")
    assert "Rückrufe" in await page.inner_text("h1")  # the lead reads German
    other = await context.browser.new_context(locale="en-GB")
    try:
        ops = await other.new_page()
        await log_in(ops, stack, OPS, target="/callbacks")
        assert "Not allowed" in await ops.inner_text("h1")
    finally:
        await other.close()
