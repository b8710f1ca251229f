"""The customer page's time control in a real browser: stepping back one recorded change
hides the entry recorded last, the API agrees, and "Now" brings it back."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.demo.data import demo_customers
from services.projector.timeline.rows import customer_id_for
from tests.e2e import traffic
from tests.e2e.stack import AGENT
from tests.e2e.test_agent_pages import log_in

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CUSTOMER = demo_customers()[4]
CUSTOMER_ID = customer_id_for(CUSTOMER.customer_ref)


async def test_stepping_the_time_control_back_hides_the_entry_recorded_last(stack, context, artifacts):
    first, second = f"Delivery address {uuid.uuid4().hex[:6]}", f"Invoice copy {uuid.uuid4().hex[:6]}"
    email = CUSTOMER.emails[0]
    await traffic.send_mail(stack, traffic.plain_mail(email, CUSTOMER.name, first, "Please use my new address."))
    await traffic.wait_for_entry(stack, CUSTOMER_ID, lambda e: first in e["summary"])
    await traffic.send_mail(stack, traffic.plain_mail(email, CUSTOMER.name, second, "Could you send the invoice again?"))
    await traffic.wait_for_entry(stack, CUSTOMER_ID, lambda e: second in e["summary"])

    page = await context.new_page()
    await log_in(page, stack, target=f"/customers/{CUSTOMER_ID}")
    await page.wait_for_url(f"**/customers/{CUSTOMER_ID}")
    timeline = page.locator("#timeline li.entry")
    assert await timeline.filter(has_text=second).count() == 1
    now_count = await timeline.count()

    await page.click("a.as-of-back")
    await page.wait_for_url("**as_of=**")
    assert await timeline.filter(has_text=second).count() == 0  # recorded after the instant shown
    assert await timeline.filter(has_text=first).count() == 1
    assert await timeline.count() == now_count - 1
    note = await page.inner_text(".as-of-note")
    assert "later entries and changes are hidden" in note
    await artifacts.capture(page, "time-control-step-back.png", full_page=True)

    shown = await page.get_attribute("#as-of", "data-as-of")
    async with httpx.AsyncClient(base_url=stack.api, headers={"Authorization": f"Bearer {AGENT}"}) as client:
        answer = await client.get(f"/api/customers/{CUSTOMER_ID}/timeline", params={"as_of": shown, "limit": 200})
    assert not any(second in e["summary"] for e in answer.json()["entries"])
    assert any(first in e["summary"] for e in answer.json()["entries"])

    await page.click("a.as-of-now")
    await page.wait_for_url(f"**/customers/{CUSTOMER_ID}")
    assert await timeline.filter(has_text=second).count() == 1
