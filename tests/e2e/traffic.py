"""What the browser tests send through the real entry points: customers, CTI pushes, forms,
signed parcel updates and mails; and waits until the projector has read them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from services.demo.mail import MailPublisher
from services.demo.traffic import mail
from services.projector.customers_csv import parse_customers
from services.projector.customers_import import publish_all
from shared.config import Settings
from tests.e2e.stack import AGENT, CTI_TOKEN, SHIPPING_SECRET, Stack


async def import_customers(settings: Settings, csv: Path) -> None:
    events, problems = parse_customers(csv.read_text(), datetime.now(UTC), settings.default_region)
    assert not problems
    await publish_all(settings, events)


async def cti(stack: Stack, event: str, call_id: str, caller: str, **extra: str) -> None:
    form = {"event": event, "callId": call_id, "from": caller.lstrip("+"), "to": "4930555000", "direction": "in", **extra}
    async with httpx.AsyncClient(base_url=stack.ingest) as client:
        response = await client.post("/webhooks/telephony/cti", data=form, params={"token": CTI_TOKEN})
    assert response.status_code == 200, response.text


async def missed_call(stack: Stack, call_id: str, caller: str, cause: str = "cancel") -> None:
    """A caller who hung up before anyone answered (or found the line busy)."""
    await cti(stack, "newCall", call_id, caller, **{"user[]": "21"})
    await cti(stack, "hangup", call_id, caller, cause=cause)


async def call_back(stack: Stack, call_id: str, number: str, user: str = "21") -> None:
    """An agent calls the number back and the customer answers."""
    out = {"from": "4930555000", "to": number.lstrip("+"), "direction": "out", "user": user}
    await cti(stack, "newCall", call_id, number, **out)
    await cti(stack, "answer", call_id, number, **out)
    await cti(stack, "hangup", call_id, number, cause="normalClearing", **out)


async def callbacks(stack: Stack, status: str = "open") -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=stack.api, headers={"Authorization": f"Bearer {AGENT}"}) as client:
        response = await client.get("/api/callbacks", params={"status": status})
    response.raise_for_status()
    return response.json()["callbacks"]


async def wait_for_callback(stack: Stack, predicate, status: str = "open", seconds: float = 60) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Polls the API until a callback satisfies `predicate`."""
    deadline = time.monotonic() + seconds
    while True:
        for found in await callbacks(stack, status):
            if predicate(found):
                return found
        stack.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching {status} callback after {seconds} s")
        await asyncio.sleep(0.1)


async def form(stack: Stack, form_id: str, fields: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=stack.ingest) as client:
        response = await client.post(f"/webhooks/forms/{form_id}", data=fields, headers={"Origin": stack.ingest})
    assert response.status_code in (200, 303), response.text


async def parcel(stack: Stack, tracking: str, status: str, customer_ref: str, email: str) -> None:
    body = json.dumps({"tracking_number": tracking, "carrier": "dhl", "status": status,
                       "occurred_at": datetime.now(UTC).isoformat(), "customer_ref": customer_ref, "email": email}).encode()
    signature = hmac.new(SHIPPING_SECRET.encode(), body, hashlib.sha256).hexdigest()
    async with httpx.AsyncClient(base_url=stack.ingest) as client:
        response = await client.post("/webhooks/shipping/generic", content=body,
                                     headers={"Content-Type": "application/json", "X-Touchpoint-Signature": signature})
    assert response.status_code == 200, response.text


async def send_mail(stack: Stack, raw: bytes, direction: str = "incoming", received_at: datetime | None = None) -> str:
    publisher = MailPublisher(stack.settings)
    try:
        return await publisher(raw, direction, received_at)
    finally:
        await publisher.stop()


def plain_mail(sender: str, name: str, subject: str, text: str) -> bytes:
    raw, _ = mail(sender, name, "support@demo.example", subject, text, datetime.now(UTC))
    return raw


async def timeline(stack: Stack, customer_id: str, limit: int = 100) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=stack.api, headers={"Authorization": f"Bearer {AGENT}"}) as client:
        response = await client.get(f"/api/customers/{customer_id}/timeline", params={"limit": limit})
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return response.json()["entries"]


async def wait_for_entry(stack: Stack, customer_id: str, predicate, seconds: float = 60) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Polls the API until an entry of this timeline satisfies `predicate` (i.e. is projected)."""
    deadline = time.monotonic() + seconds
    while True:
        for entry in await timeline(stack, customer_id):
            if predicate(entry):
                return entry
        stack.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching entry on {customer_id} after {seconds} s")
        await asyncio.sleep(0.05)
