"""Complaint work in a real browser against the real stack: an agent responds to and then
resolves a complaint from the customer page; a lead reads why a clock is breached from its
segments (the demo's overdue complaint mail, on the office calendar)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.demo.data import demo_customers
from services.demo.traffic import MailStep, overdue_complaint
from services.projector.timeline.rows import customer_id_for
from tests.e2e import traffic
from tests.e2e.stack import LEAD
from tests.e2e.test_agent_pages import log_in
from tests.e2e.test_boards import wait_for_complaint

pytestmark = [pytest.mark.integration, pytest.mark.browser]
DAN, JONAS = demo_customers()[11], demo_customers()[1]


async def test_an_agent_responds_to_and_then_resolves_a_complaint_from_the_customer_page(stack, context, artifacts):
    subject = f"Complaint {uuid.uuid4().hex[:6]}: lamp broken"
    await traffic.form(stack, "complaint", {"name": DAN.name, "email": DAN.emails[0], "subject": subject,
                                            "message": "The lamp arrived broken."})
    complaint = await wait_for_complaint(stack, subject)
    page = await context.new_page()
    await log_in(page, stack, target=f"/customers/{customer_id_for(DAN.customer_ref)}")
    card = page.locator(f"article[data-complaint='{complaint['complaint_id']}']")
    await card.wait_for()
    assert await card.get_attribute("data-status") == "open"

    await card.locator("input[name=note]").first.fill("Called Dan, replacement on its way")
    await card.get_by_role("button", name="Record response").click()
    await page.wait_for_url("**complaint_done=respond**")
    card = page.locator(f"article[data-complaint='{complaint['complaint_id']}']")
    assert await card.get_by_role("status").inner_text() == "The response is recorded."
    first_response = card.locator(".clock[data-clock='first_response']")
    assert await first_response.locator(".state").inner_text() == "met"
    assert await first_response.locator("li.segment-stopped, li.segment-running").count() >= 1
    assert await card.get_by_role("button", name="Record response").count() == 0
    await artifacts.capture(page, "complaint-responded.png", full_page=True)

    await card.get_by_role("button", name="Resolve").click()
    await page.wait_for_url("**complaint_done=resolve**")
    card = page.locator(f"article[data-complaint='{complaint['complaint_id']}']")
    assert await card.get_attribute("data-status") == "resolved"
    assert await card.get_by_role("status").inner_text() == "The complaint is resolved."
    assert await card.get_by_role("button", name="Reopen").count() == 1
    await artifacts.capture(page, "complaint-resolved.png", full_page=True)


async def test_a_lead_reads_why_a_clock_is_breached_from_its_segments(stack, context, artifacts):
    [step] = overdue_complaint(JONAS, datetime.now(UTC)).steps
    assert isinstance(step, MailStep)
    await traffic.send_mail(stack, step.raw, "incoming", step.received_at)
    complaint = await wait_for_complaint(stack, "Beschwerde: Erstattung seit einer Woche offen")
    assert (complaint["state"], complaint["policy"]) == ("breached", "office-hours")

    page = await context.new_page()
    await log_in(page, stack, token=LEAD, target=f"/customers/{customer_id_for(JONAS.customer_ref)}")  # reads German
    card = page.locator(f"article[data-complaint='{complaint['complaint_id']}']")
    await card.wait_for()
    clock = card.locator(".clock[data-clock='first_response']")
    assert await clock.locator("h4 .state").inner_text() == "überschritten"
    assert "Richtlinie office-hours (Version 1) mit Kalender office, Europe/Berlin" in await card.locator(".made-by").inner_text()
    figures = await clock.locator(".clock-figures").inner_text()
    assert "Ziel 4h 00m Geschäftszeit" in figures and "über dem Ziel" in figures and "überschritten um" in figures
    kinds = await clock.locator("li.segment").evaluate_all("items => items.map(i => i.dataset.kind)")
    assert {"running", "outside_hours", "overdue"} <= set(kinds)  # the nights and the weekend did not count
    assert kinds.index("running") < kinds.index("overdue")
    assert "läuft, über dem Ziel" in await clock.locator("li.segment-overdue").first.inner_text()
    assert "außerhalb der Geschäftszeit" in await clock.locator("li.segment-outside_hours").first.inner_text()
    assert await clock.locator("svg.clock-bar rect.seg-outside_hours").count() == kinds.count("outside_hours")
    await clock.scroll_into_view_if_needed()
    await artifacts.capture(page, "complaint-breached-clock.png", full_page=True)

    await page.goto(f"{stack.api}/complaints")
    row = page.locator(f"tr[data-complaint-work='{complaint['complaint_id']}']")
    await row.locator("details.board-clocks > summary").click()
    assert await row.locator(".clock[data-clock='first_response'] li.segment-outside_hours").count() >= 1
    assert await row.get_by_role("button", name="Priorität setzen").count() == 1  # leads change priority
    await artifacts.capture(page, "complaints-board-clocks.png", full_page=True)
