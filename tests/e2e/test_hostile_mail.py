"""A mail written to attack the agent's browser renders inert: nothing runs, no dialog opens,
nothing is fetched from elsewhere (every request is intercepted), and its links are safe."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from services.demo.data import demo_customers
from services.projector.timeline.rows import customer_id_for
from tests.e2e import traffic
from tests.e2e.test_agent_pages import log_in
from tests.fixtures import raw

pytestmark = [pytest.mark.integration, pytest.mark.browser]
ALICE = demo_customers()[8]
ALICE_ID = customer_id_for(ALICE.customer_ref)


async def test_hostile_mail_renders_inert(stack, context, artifacts):
    await traffic.send_mail(stack, raw("mail/hostile_html.eml"))
    entry = await traffic.wait_for_entry(stack, ALICE_ID, lambda e: "hostile HTML" in e["summary"])

    dialogs: list[str] = []
    foreign: list[str] = []

    async def only_our_origin(route):  # type: ignore[no-untyped-def]
        if urlsplit(route.request.url).hostname != "127.0.0.1":
            foreign.append(route.request.url)
            await route.abort()
        else:
            await route.continue_()

    await context.route("**/*", only_our_origin)
    page = await context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    await log_in(page, stack, target=f"/customers/{ALICE_ID}")

    item = page.locator(f"#entry-{entry['id']}")
    async with page.expect_response(lambda r: r.url.endswith(f"/entries/{entry['id']}/mail")) as mail_response:
        await item.locator("summary").click()
    response = await mail_response.value
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    frame_element = item.locator("iframe")
    await frame_element.wait_for()
    assert await frame_element.get_attribute("sandbox") == "allow-popups allow-popups-to-escape-sandbox"
    frame = await (await frame_element.element_handle()).content_frame()
    await frame.wait_for_load_state("load")
    await page.wait_for_load_state("networkidle")

    html = (await frame.inner_html("body")).lower()
    for trace in ("<script", "onerror", "onload", "javascript:", "expression(", "<iframe", "<object", "<form",
                  "tracker.invalid", "evil.invalid", "<style", "<meta", "<base", "<link"):
        assert trace not in html, trace
    assert 'href="http://example.com/help"' in html and 'rel="noopener noreferrer"' in html
    await frame.get_by_text("click me").click()  # its javascript: URL was removed: nothing happens

    assert dialogs == []
    assert foreign == []
    assert await page.evaluate("window.__pwned === undefined")
    await artifacts.capture(item, "hostile-mail.png")

    async with page.expect_download() as download:
        await item.get_by_text("invoice.html").click()
    assert (await download.value).suggested_filename == "invoice.html"  # saved, never rendered
    assert dialogs == [] and foreign == []
