"""Identity work in a real browser against the real stack: merge the demo's second record of
one person into the first (found by search, confirmed), see the timelines combine, unmerge and
see them separate; and an opened mail shows why it was filed and threaded as it was."""

from __future__ import annotations

import uuid

import pytest

from services.demo.data import merge_candidate
from services.projector.timeline.rows import customer_id_for
from tests.e2e import traffic
from tests.e2e.test_agent_pages import log_in

pytestmark = [pytest.mark.integration, pytest.mark.browser]
FIRST, SECOND = merge_candidate()
FIRST_ID, SECOND_ID = customer_id_for(FIRST.customer_ref), customer_id_for(SECOND.customer_ref)


async def summaries(page) -> list[str]:
    return await page.eval_on_selector_all("#timeline li.entry .summary", "els => els.map(e => e.textContent)")


async def test_merge_then_unmerge_combines_and_separates_the_timelines(stack, context, artifacts):
    tag = uuid.uuid4().hex[:6]
    first_subject, second_subject = f"First address {tag}", f"Second address {tag}"
    await traffic.send_mail(stack, traffic.plain_mail(FIRST.emails[0], FIRST.name, first_subject, "Hallo"))
    await traffic.send_mail(stack, traffic.plain_mail(SECOND.emails[0], SECOND.name, second_subject, "Hallo"))
    await traffic.wait_for_entry(stack, FIRST_ID, lambda e: first_subject in e["summary"])
    await traffic.wait_for_entry(stack, SECOND_ID, lambda e: second_subject in e["summary"])

    page = await context.new_page()
    await log_in(page, stack, target=f"/customers/{FIRST_ID}")
    assert not any(second_subject in s for s in await summaries(page))
    await page.fill("#merge-q", SECOND.emails[0])
    await page.press("#merge-q", "Enter")
    await page.click(f"a[data-merge-with='{SECOND_ID}']")
    await page.locator("#merge-confirm").wait_for()
    assert SECOND.customer_ref in await page.inner_text(".merge-confirm")
    await artifacts.capture(page, "merge-confirm.png", full_page=True)
    await page.click("#merge-confirm")
    await page.wait_for_url("**identity_note=merged")
    combined = await summaries(page)
    assert any(first_subject in s for s in combined) and any(second_subject in s for s in combined)
    assert await page.locator(f"li[data-merged='{SECOND_ID}']").is_visible()
    await artifacts.capture(page, "merged.png", full_page=True)

    await page.goto(f"{stack.api}/customers/{SECOND_ID}")  # the merged record's page leads here
    await page.wait_for_url(f"**/customers/{FIRST_ID}?merged_from={SECOND_ID}")
    await page.locator("#merged-from").wait_for()

    await page.locator(f"li[data-merged='{SECOND_ID}'] button").click()
    await page.wait_for_url("**identity_note=unmerged")
    separated = await summaries(page)
    assert any(first_subject in s for s in separated) and not any(second_subject in s for s in separated)
    await artifacts.capture(page, "unmerged.png", full_page=True)
    await page.goto(f"{stack.api}/customers/{SECOND_ID}")
    assert page.url.endswith(f"/customers/{SECOND_ID}") and await page.inner_text("h1") == SECOND.name
    assert any(second_subject in s for s in await summaries(page))


async def test_an_opened_mail_shows_its_class_and_threading(stack, context, artifacts):
    subject = f"Evidence {uuid.uuid4().hex[:6]}"
    await traffic.send_mail(stack, traffic.plain_mail(FIRST.emails[0], FIRST.name, subject, "Hallo,\nwo bleibt das Paket?"))
    await traffic.wait_for_entry(stack, FIRST_ID, lambda e: subject in e["summary"])
    page = await context.new_page()
    await log_in(page, stack, target=f"/customers/{FIRST_ID}")
    entry = page.locator("#timeline li.entry", has_text=subject)
    await entry.locator("summary").click()
    evidence = entry.locator(".mail-evidence")
    await evidence.wait_for()
    assert "human" in await evidence.inner_text()
    assert await evidence.locator(".thread-evidence").get_attribute("data-evidence") == "message_id"
    await artifacts.capture(page, "mail-evidence.png", full_page=True)
