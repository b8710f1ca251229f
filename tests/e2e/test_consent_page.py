"""Consent on the customer page in a real browser against the real stack: a newsletter form
posted with its consent box ticked shows as marketing consent given (form and consent text
version), and the agent records its withdrawal on the page, which then shows who did it."""

from __future__ import annotations

import pytest

from services.demo.data import demo_customers
from services.projector.timeline.rows import customer_id_for
from tests.e2e import traffic
from tests.e2e.test_agent_pages import log_in

pytestmark = [pytest.mark.integration, pytest.mark.browser]
FELIX = demo_customers()[7]
FELIX_ID = customer_id_for(FELIX.customer_ref)


async def test_an_agent_sees_form_consent_and_records_its_withdrawal(stack, context, artifacts):
    await traffic.form(stack, "newsletter", {"email": FELIX.emails[0], "newsletter_optin": "on"})
    page = await context.new_page()
    await log_in(page, stack, target=f"/customers/{FELIX_ID}")
    marketing = page.locator("#consent tr[data-purpose='marketing']")
    for _ in range(60):  # the projection may still be on its way: the card is read afresh per visit
        await marketing.wait_for()
        if await marketing.get_attribute("data-state") == "given":
            break
        await page.wait_for_timeout(500)
        await page.reload()
    assert await marketing.get_attribute("data-state") == "given"
    assert "web form newsletter" in await marketing.inner_text() and "2026-01" in await marketing.inner_text()
    assert await page.locator("#consent tr[data-purpose='contact']").get_attribute("data-state") == "unknown"
    await artifacts.capture(page, "consent-given.png", full_page=True)

    form = page.locator("form.consent-form")
    await form.locator("select[name='purpose']").select_option("marketing")
    await form.locator("select[name='state']").select_option("withdrawn")
    await form.locator("input[name='note']").fill("asked on the phone to stop the newsletter")
    await form.get_by_role("button", name="Record consent").click()
    await page.wait_for_url(f"**/customers/{FELIX_ID}?consent_note=*")
    assert "Recorded: marketing: consent withdrawn" in await page.locator("#consent").inner_text()
    withdrawn = page.locator("#consent tr[data-purpose='marketing'][data-state='withdrawn']")
    await withdrawn.wait_for()
    assert "recorded by anna" in await withdrawn.inner_text()
    history = page.locator("#consent details.consent-history")
    await history.locator("summary").click()
    items = await history.locator("li").all_inner_texts()
    assert len(items) == 2 and "withdrawn" in items[0] and "given" in items[1]
    await artifacts.capture(page, "consent-withdrawn.png", full_page=True)

    await form.locator("select[name='purpose']").select_option("marketing")
    await page.locator("form.consent-form select[name='state']").select_option("withdrawn")
    await page.locator("form.consent-form").get_by_role("button", name="Record consent").click()
    await page.wait_for_url(f"**/customers/{FELIX_ID}?consent_error=*")
    assert "already withdrawn" in await page.locator("#consent [role='alert']").inner_text()
