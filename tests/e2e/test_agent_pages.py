"""The agent's screen in a real browser against the real stack: login, search, a cross-channel
timeline, the screen pop on an incoming call, live entries, and a hostile mail kept inert."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import sqlalchemy as sa

from services.demo.data import demo_customers
from services.projector.audit.tables import access_audit
from services.projector.timeline.rows import contact_id_for, customer_id_for
from tests.e2e import traffic
from shared.db.engine import make_engine
from tests.e2e.stack import AGENT

pytestmark = [pytest.mark.integration, pytest.mark.browser]
ERIKA = demo_customers()[0]
ERIKA_ID = customer_id_for(ERIKA.customer_ref)
BOB = demo_customers()[9]
BOB_ID = customer_id_for(BOB.customer_ref)


async def log_in(page, stack, token: str = AGENT, target: str = "/") -> None:
    await page.goto(f"{stack.api}{target}")
    await page.wait_for_url("**/login**")
    await page.fill("#token", token)
    await page.press("#token", "Enter")
    await page.wait_for_load_state()


async def live(page) -> None:
    """The page's event stream is open (subscribed before anything is sent)."""
    await page.wait_for_selector("body[data-live='on']")


async def test_agent_logs_in_searches_and_reads_a_cross_channel_timeline(stack, context, artifacts):
    call_id = f"x-{uuid.uuid4().hex[:8]}"
    await traffic.send_mail(stack, traffic.plain_mail(ERIKA.emails[0], ERIKA.name, "Frage zur Bestellung A-2001",
                                                      "Hallo,\nwo bleibt meine Bestellung?\nErika"))
    await traffic.cti(stack, "newCall", call_id, ERIKA.phones[0], **{"user[]": "22"})
    await traffic.cti(stack, "answer", call_id, ERIKA.phones[0], user="22")
    await traffic.cti(stack, "hangup", call_id, ERIKA.phones[0], cause="normalClearing")
    await traffic.form(stack, "contact", {"name": ERIKA.name, "email": ERIKA.emails[0], "subject": "Adressänderung",
                                          "message": "Neue Adresse: Musterweg 1", "customer_no": ERIKA.customer_ref})
    tracking = f"0034{uuid.uuid4().int % 10**12:012d}"
    await traffic.parcel(stack, tracking, "in_transit", ERIKA.customer_ref, ERIKA.emails[0])
    await traffic.parcel(stack, tracking, "delivered", ERIKA.customer_ref, ERIKA.emails[0])
    await traffic.wait_for_entry(stack, ERIKA_ID, lambda e: e["channel"] == "shipping" and e["details"]["status"] == "delivered")
    await traffic.wait_for_entry(stack, ERIKA_ID, lambda e: e["channel"] == "phone" and e["type"] == "call.ended")
    await traffic.wait_for_entry(stack, ERIKA_ID, lambda e: e["channel"] == "webform")
    await traffic.wait_for_entry(stack, ERIKA_ID, lambda e: e["channel"] == "email")

    page = await context.new_page()
    await page.goto(f"{stack.api}/")
    await page.wait_for_url("**/login**")
    await artifacts.capture(page, "login.png")
    await log_in(page, stack)
    await page.fill("#q", "Erika Muster")
    await page.press("#q", "Enter")
    await artifacts.capture(page, "search.png")
    await page.click(f"a[href='/customers/{ERIKA_ID}']")
    await page.wait_for_url(f"**/customers/{ERIKA_ID}")
    assert await page.inner_text("h1") == ERIKA.name
    channels = set(await page.eval_on_selector_all("#timeline li.entry", "els => els.map(e => e.dataset.channel)"))
    assert {"email", "phone", "webform", "shipping"} <= channels

    mail_entry = page.locator("#timeline li.entry[data-channel='email']").first
    await mail_entry.locator("summary").click()
    await mail_entry.locator("pre", has_text="wo bleibt meine Bestellung?").wait_for()
    parcel_entry = page.locator("#timeline li.entry[data-channel='shipping']").first
    await parcel_entry.locator("summary").focus()
    await page.keyboard.press("Enter")  # entries open from the keyboard too
    await parcel_entry.locator("td", has_text="in_transit").wait_for()
    await artifacts.capture(page, "customer-timeline.png", full_page=True)

    await page.click("nav.channels a[href$='channel=phone']")
    channels = set(await page.eval_on_selector_all("#timeline li.entry", "els => els.map(e => e.dataset.channel)"))
    assert channels == {"phone"}


async def test_incoming_call_pops_the_callers_customer_page(stack, context, artifacts):
    page = await context.new_page()
    await log_in(page, stack)
    await live(page)
    call_id = f"p-{uuid.uuid4().hex[:8]}"
    await traffic.cti(stack, "newCall", call_id, BOB.phones[0], **{"user[]": "21"})
    await traffic.wait_for_entry(stack, BOB_ID, lambda e: e["details"].get("call_id") == call_id)
    # projected: the page must show the caller within one second
    await page.wait_for_url(f"**/customers/{BOB_ID}?pop=1", timeout=1000)
    assert await page.inner_text("h1") == BOB.name
    await page.locator(".pop-note").wait_for()
    await artifacts.capture(page, "screen-pop.png", full_page=True)


async def test_unknown_caller_pops_as_new_caller_with_quick_search(stack, context, artifacts):
    page = await context.new_page()
    await log_in(page, stack)
    await live(page)
    stranger = f"+49157{uuid.uuid4().int % 10**7:07d}"
    contact = contact_id_for(("phone", stranger))
    call_id = f"u-{uuid.uuid4().hex[:8]}"
    await traffic.cti(stack, "newCall", call_id, stranger, **{"user[]": "21"})
    await traffic.wait_for_entry(stack, contact, lambda e: e["details"].get("call_id") == call_id)
    await page.wait_for_url(f"**/customers/{contact}?pop=1", timeout=1000)
    assert "New caller" in await page.inner_text("h1")
    assert await page.is_visible("#quick-q") and await page.is_visible("form.link-form")
    await artifacts.capture(page, "new-caller.png", full_page=True)


async def test_new_mail_appears_on_the_open_timeline_without_reload(stack, context):
    page = await context.new_page()
    await log_in(page, stack, target=f"/customers/{BOB_ID}")
    await live(page)
    marker = page.locator("body")
    await marker.evaluate("b => b.dataset.sameDocument = 'yes'")
    subject = f"Live test {uuid.uuid4().hex[:6]}"
    await traffic.send_mail(stack, traffic.plain_mail(BOB.emails[0], BOB.name, subject, "Hello, any news?"))
    fresh = page.locator("#timeline li.entry.fresh", has_text=subject)
    await fresh.wait_for(timeout=30_000)
    assert await marker.get_attribute("data-same-document") == "yes"  # no reload happened
    # the pushed entry is a read of Bob's data by this agent, in the access log like any other
    entry_id = (await fresh.get_attribute("id")).removeprefix("entry-")
    engine = make_engine(stack.settings.db_url)
    try:
        deadline = time.monotonic() + 30
        while True:
            async with engine.connect() as conn:
                recorded = (await conn.execute(sa.select(access_audit.c.user_name, access_audit.c.customer_id).where(
                    access_audit.c.resource == "entry", access_audit.c.entry_id == entry_id))).all()
            if recorded:
                break
            assert time.monotonic() < deadline, "the pushed entry is not in the access log"
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    assert {tuple(row) for row in recorded} == {("anna", BOB_ID)}


async def test_a_call_while_the_agent_reads_another_customer_shows_a_banner_instead_of_leaving_the_page(stack, context):
    page = await context.new_page()
    await log_in(page, stack, target=f"/customers/{ERIKA_ID}")
    await live(page)
    call_id = f"b-{uuid.uuid4().hex[:8]}"
    await traffic.cti(stack, "newCall", call_id, BOB.phones[0], **{"user[]": "21"})
    await traffic.wait_for_entry(stack, BOB_ID, lambda e: e["details"].get("call_id") == call_id)
    banner = page.locator("#pop")
    await banner.get_by_role("link").wait_for(timeout=1000)
    assert BOB.name in await banner.inner_text()
    assert page.url.endswith(f"/customers/{ERIKA_ID}")
    await page.keyboard.press("Enter")  # the banner's link has the focus
    await page.wait_for_url(f"**/customers/{BOB_ID}?pop=1")
