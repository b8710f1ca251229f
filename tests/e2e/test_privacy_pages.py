"""Privacy work in a real browser against a real stack with encryption on: an admin opens a
customer's page, downloads its export (the customer's record, events, attachments and access
log in a zip), erases the customer with the confirmation ticked, and downloads the export again:
nothing personal is left in it, while the access log still says who read the customer when."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.demo.traffic import mail
from services.projector.timeline.rows import customer_id_for
from shared.db.migrate import upgrade_async
from shared.kafka.topics import ensure_for
from shared.privacy import runtime
from tests.e2e import traffic
from tests.e2e.stack import CONFIG, ROOT, make_stack
from tests.e2e.test_agent_pages import log_in

pytestmark = [pytest.mark.integration, pytest.mark.browser]
ADMIN = "e2e-privacy-admin-token"


@pytest.fixture(scope="module")
async def private_stack(kafka_bootstrap, session_dir):  # type: ignore[no-untyped-def]
    stack = make_stack(session_dir / f"e2e-privacy-{secrets.token_hex(3)}", kafka_bootstrap)
    Path(stack.env["TOUCHPOINT_CONFIG"]).write_text(CONFIG + f"""
[[auth.tokens]]
token = "{ADMIN}"
user = "ada"
role = "admin"

[privacy]
encrypt = true
""")
    stack.env["TOUCHPOINT_PRIVACY_ENCRYPT"] = "true"
    stack.settings = stack.settings.model_copy(update={"privacy_encrypt": True})
    await ensure_for(stack.settings)
    await upgrade_async(stack.settings.db_url)
    stack.start()
    try:
        await stack.wait_ready()
        yield stack
    finally:
        stack.stop()


def zip_contents(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def download_export(page, target: Path) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    async with page.expect_download() as info:
        await page.click("#download-export")
    download = await info.value
    await download.save_as(target)
    return zip_contents(target)


async def test_an_admin_downloads_an_export_erases_the_customer_and_the_next_export_holds_nothing_personal(
        private_stack, context, artifacts, tmp_path):
    stack, tag = private_stack, secrets.token_hex(4)
    ref, name, email = f"K-E2E-{tag}", f"Henrietta Quellmalz{tag}", f"h.q.{tag}@example.org"
    subject, receipt = f"Rechnung fehlt {tag}", f"Beleg Nummer {tag}".encode()
    csv = stack.settings.data_dir / f"privacy-{tag}.csv"
    csv.write_text(f"customer_ref,name,email,phone\n{ref},{name},{email},\n")
    imported = subprocess.run([sys.executable, "-m", "shared.cli", "customers", "import", str(csv)], cwd=ROOT,
                              env=stack.env, capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    raw, _ = mail(email, name, "support@demo.example", subject, "Bitte senden Sie die Rechnung.", datetime.now(UTC),
                  attachment=("beleg.txt", receipt))
    runtime.install(stack.settings)  # sealed as the IMAP poller seals it
    try:
        await traffic.send_mail(stack, raw)
    finally:
        runtime.uninstall()
    customer_id = customer_id_for(ref)
    await traffic.wait_for_entry(stack, customer_id, lambda e: subject in e["summary"])

    page = await context.new_page()
    await log_in(page, stack, token=ADMIN, target=f"/customers/{customer_id}")
    assert name in await page.inner_text("h1")
    before = await download_export(page, tmp_path / "before.zip")
    assert {"customer.json", "events.json", "audit.json"} <= set(before)
    assert name in before["customer.json"].decode() and subject in before["events.json"].decode()
    assert any(receipt in data for path, data in before.items() if path.startswith("attachments/"))
    exported = json.loads(before["audit.json"])
    assert ("ada", "export", "page") in {(a["user"], a["resource"], a["via"]) for a in exported}

    await page.reload()  # the access log on the page shows the export once the projector has it
    for _ in range(50):
        if "export" in await page.inner_text("section.privacy-access"):
            break
        await page.wait_for_timeout(200)
        await page.reload()
    assert "export" in await page.inner_text("table.access-log")
    await artifacts.capture(page, "privacy-access-log.png", full_page=True)

    await page.check("section.privacy-erase input[name=confirm]")
    await page.click("section.privacy-erase button.danger")
    await page.wait_for_url("**erased=1")

    async def redacted() -> bool:
        entries = await traffic.timeline(stack, customer_id)
        return bool(entries) and all(e["summary"] == "erased" for e in entries)

    for _ in range(150):
        if await redacted():
            break
        await page.wait_for_timeout(200)
    assert await redacted(), "the timeline shows the customer erased"
    await page.goto(f"{stack.api}/customers/{customer_id}")
    assert name not in await page.content()
    await artifacts.capture(page, "privacy-erased.png", full_page=True)

    after = await download_export(page, tmp_path / "after.zip")
    everything = b"".join(after.values())
    assert not [secret for secret in (name.encode(), email.encode(), subject.encode(), receipt) if secret in everything]
    accesses = json.loads(after["audit.json"])
    assert sum(1 for a in accesses if a["resource"] == "export") >= 2, "both exports are in the access log"
    # the admin's reads and exports, and the agent's API reads the test made while waiting
    assert {(a["user"], a["role"]) for a in accesses} <= {("ada", "admin"), ("anna", "agent")}
    assert {a["resource"] for a in accesses if a["user"] == "anna"} == {"timeline"}
