"""The agent's pages: login, search, the customer page with its timeline (fragments for
infinite scroll and expanded entries), mail bodies and attachments. The live feed is in
`stream.py`; linking, unlinking and merging in `identity.py`."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from sqlalchemy import func, select
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from events.text import CleanLine
from services.projector.api import asof, queries
from services.projector.api.asof import BadInstant
from services.projector.api.customers import CHANNELS
from services.projector.audit.access import Read
from services.projector.audit.requests import audit_blob, audit_entry, audit_read, page_reader
from services.projector.api.cursor import BadCursor, decode_cursor, encode_cursor
from services.projector.customers import queries as customer_queries
from services.projector.web.identity import page_context as identity_context
from services.projector.web.complaint_work import customer_complaints
from services.projector.web.guards import check_csrf, session_of
from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.tables import TIMELINE
from services.projector.web.mailhtml import BLOCKED_IMAGES_CSP, LOADED_IMAGES_CSP, mail_document, sanitise_mail_html
from services.projector.web.session import COOKIE, LOGIN_COOKIE, MAX_AGE
from services.projector.web.revocations import revoke
from services.projector.privacy.blob_keys import read_blob
from services.projector.web.signin import password_cookie
from services.projector.web.asof_control import page_instant, time_control
from services.projector.web.access_log import access_log_context
from shared.blobs import BlobNotFound
from shared.client_address import client_address

if TYPE_CHECKING:
    from services.projector.web.ui import WebUi

log = logging.getLogger("touchpoint.web")

PAGE_SIZE = 50
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def pages_router(ui: WebUi) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    pages = ui.pages

    # ---- login ------------------------------------------------------------------------------

    @router.get("/login")
    async def login_form(request: Request, next: str = "/", failed: str | None = None) -> Response:
        token, cookie = ui.sessions.login_token()
        response = pages.render(request, "login.html", next=safe_next(next), login_csrf=token, failed=failed)
        response.set_cookie(LOGIN_COOKIE, cookie, max_age=600, httponly=True, secure=True, samesite="strict")
        return response

    @router.post("/login")
    async def login(request: Request, token: str = Form(""), name: str = Form(""), password: str = Form(""),
                    csrf_token: str = Form(""), next: str = Form("/")) -> Response:
        target = safe_next(next)
        client = "ip:" + client_address(request, ui.settings.proxy_networks)
        wait = ui.throttle.wait(client)
        if wait > 0:
            return throttled(request, target, wait)
        if not ui.sessions.login_token_matches(request.cookies.get(LOGIN_COOKIE), csrf_token):
            return RedirectResponse(f"/login?failed=expired&next={quote(target)}", status_code=303)
        by_password = bool(name.strip())  # people sign in with a password, machines with a token
        cookie = (await password_cookie(ui.sessions, ui.users, name, password) if by_password
                  else ui.sessions.issue(token.strip()))
        if cookie is None:
            ui.throttle.failed(client)
            log.warning("failed login", extra={"fields": {"failures_wait_s": round(ui.throttle.wait(client))}})
            reason = "password" if by_password else "token"
            return RedirectResponse(f"/login?failed={reason}&next={quote(target)}", status_code=303)
        ui.throttle.succeeded(client)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, cookie, max_age=MAX_AGE, httponly=True, secure=True, samesite="lax")
        response.delete_cookie(LOGIN_COOKIE)
        return response

    def throttled(request: Request, target: str, wait: float) -> Response:
        seconds = max(1, int(wait + 0.999))
        token, cookie = ui.sessions.login_token()
        response = pages.render(request, "login.html", status=429, next=target, login_csrf=token, throttled=seconds)
        response.headers["Retry-After"] = str(seconds)
        response.set_cookie(LOGIN_COOKIE, cookie, max_age=600, httponly=True, secure=True, samesite="strict")
        return response

    @router.post("/logout")
    async def logout(request: Request, csrf_token: str = Form("")) -> Response:
        session = session_of(request)
        check_csrf(session, csrf_token)
        await revoke(ui.engine, session)  # a copy of the cookie is worthless from now on
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # ---- search and screen pop -------------------------------------------------------------------

    @router.get("/")
    async def home(request: Request, q: CleanLine = "") -> Response:
        session_of(request)
        q = q.strip()[:200]
        found = await search(request, q) if q else []
        unmatched = [] if q else await recent_contacts()
        return pages.render(request, "home.html", q=q, found=found, unmatched=unmatched, page="home")

    async def recent_contacts(limit: int = 10) -> list[dict[str, Any]]:
        """Unmatched contacts with their latest entry, newest first: who still needs linking."""
        c, e = TIMELINE.customers, TIMELINE.entries
        latest = func.max(e.c.occurred_at).label("latest")
        query = (select(c.c.id, c.c.emails, c.c.phones, latest).join(e, e.c.owner_id == c.c.id)
                 .where(c.c.kind == "contact").group_by(c.c.id, c.c.emails, c.c.phones).order_by(latest.desc()).limit(limit))
        async with ui.reads.connect() as conn:
            rows = await conn.execute(query)
            return [{"id": r.id, "label": ", ".join([*r.phones, *r.emails]), "latest": r.latest} for r in rows]

    async def search(request: Request, q: CleanLine) -> list[dict[str, Any]]:
        async with ui.reads.connect() as conn:
            found = await customer_queries.search(conn, q, ui.settings.default_region, 50)
        return [queries.customer_json(row) for row in found]

    # ---- the customer page ------------------------------------------------------------------------

    @router.get("/customers/{customer_id}")
    async def customer_page(request: Request, customer_id: CleanLine, channel: CleanLine = "", pop: CleanLine = "",
                            linked: str = "", link_error: str = "", as_of: CleanLine = "") -> Response:
        session_of(request)
        channel = channel if channel in CHANNELS else ""
        at, bad_instant = instant_or_error(as_of)
        async with ui.reads.connect() as conn:
            owner = await queries.customer(conn, customer_id)
            if owner is None and await queries.customer(conn, customer_id_for(customer_id)) is not None:
                # notifications and other systems name a customer by customer_ref
                return RedirectResponse(f"/customers/{customer_id_for(customer_id)}", status_code=307)
            if owner is None:
                labels = pages.labels_for(request, request.state.session)
                return pages.render(request, "error.html", status=404, title=labels("not_found"),
                                    detail=labels("not_found_detail"))
            if owner.merged_into:  # its history shows on the record it was merged into
                target = await customer_queries.effective(conn, owner)
                return RedirectResponse(f"/customers/{target.id}?merged_from={owner.id}", status_code=303)
            entries = await timeline(conn, customer_id, channel or None, None, at)
            bounced = await queries.hard_bounces(conn, owner)
            identity = await identity_context(conn, request, owner)
            control = await time_control(conn, customer_id, at, pages.zone, ui.complaint_rules, bad_instant)
            access_log = await access_log_context(conn, request, owner)
        audit_read(request, page_reader(request), Read("customer", owner.id))
        page, cursor = paged(entries)
        complaints = await customer_complaints(ui, ui.complaint_rules, owner)
        return pages.render(request, "customer.html", customer=queries.customer_json(owner, bounced), entries=page,
                            cursor=cursor, channel=channel, channels=CHANNELS, pop=pop == "1", linked=linked == "1",
                            link_error=link_error, page="customer", as_of=control,
                            complaints=complaints, **identity, **access_log)

    def instant_or_error(text: str) -> tuple[datetime | None, str | None]:
        try:
            return page_instant(text, pages.zone), None
        except BadInstant as exc:
            return None, str(exc)

    async def timeline(conn, customer_id: str, channel: str | None, cursor, at: datetime | None):  # type: ignore[no-untyped-def]
        if at is None:
            return await queries.timeline_page(conn, customer_id, PAGE_SIZE + 1, channel, cursor)
        return await asof.timeline_page(conn, customer_id, at, PAGE_SIZE + 1, channel, cursor)

    @router.get("/customers/{customer_id}/entries")
    async def more_entries(request: Request, customer_id: CleanLine, before: CleanLine = "", channel: CleanLine = "",
                           as_of: CleanLine = "") -> Response:
        session_of(request)
        at, bad_instant = instant_or_error(as_of)
        try:
            cursor = decode_cursor(before) if before else None
        except BadCursor:
            return HTMLResponse("bad cursor", status_code=422)
        if bad_instant:
            return HTMLResponse(bad_instant, status_code=422)
        async with ui.reads.connect() as conn:
            entries = await timeline(conn, customer_id, channel if channel in CHANNELS else None, cursor, at)
        page, next_cursor = paged(entries)
        if page:
            audit_read(request, page_reader(request), Read("timeline", customer_id))
        body = pages.fragment(request, "entries.html", entries=page)
        return HTMLResponse(body, headers={"X-Next-Cursor": next_cursor or ""})

    @router.get("/entries/{entry_id}")
    async def entry_detail(request: Request, entry_id: CleanLine) -> Response:
        session_of(request)
        entry = await one_entry(entry_id)
        if entry is None:
            return HTMLResponse("not found", status_code=404)
        audit_entry(request, page_reader(request), entry_id, "entry")
        return HTMLResponse(pages.fragment(request, "entry_detail.html", entry=entry))

    @router.get("/entries/{entry_id}/mail")
    async def mail_body(request: Request, entry_id: CleanLine, images: str = "0") -> Response:
        session_of(request)
        entry = await one_entry(entry_id)
        if entry is None or not entry["details"].get("html"):
            return HTMLResponse("no formatted body", status_code=404)
        audit_entry(request, page_reader(request), entry_id, "mail_body")
        load = images == "1"
        cleaned, _ = sanitise_mail_html(entry["details"]["html"], load_images=load)
        document = mail_document(cleaned, "/static/mail.css", pages.labels_for(request, request.state.session).language)
        return HTMLResponse(document, headers={"Content-Security-Policy": LOADED_IMAGES_CSP if load else BLOCKED_IMAGES_CSP,
                                               "Cache-Control": "no-store"})

    @router.get("/blobs/{sha256}")
    async def download(request: Request, sha256: str, name: str = "attachment") -> Response:
        session_of(request)
        if not SHA256.match(sha256):
            return HTMLResponse("not a blob id", status_code=404)
        try:
            data = await read_blob(ui.engine, ui.blobs, sha256)  # opens sealed blobs (privacy)
        except BlobNotFound:
            return HTMLResponse("this attachment is not stored here", status_code=404)
        audit_blob(request, page_reader(request), sha256)
        filename = re.sub(r"[^A-Za-z0-9._ -]", "_", name)[:120] or "attachment"
        # always a download, never rendered: an HTML attachment must not run in our origin
        return Response(data, media_type="application/octet-stream", headers={
            "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"})

    async def one_entry(entry_id: str) -> dict[str, Any] | None:
        async with ui.reads.connect() as conn:
            row = (await conn.execute(select(TIMELINE.entries).where(TIMELINE.entries.c.id == entry_id))).first()
        return queries.entry_json(row._mapping) if row else None

    return router


def paged(entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    page = entries[:PAGE_SIZE]
    if len(entries) <= PAGE_SIZE or not page:
        return page, None
    last = page[-1]
    return page, encode_cursor(datetime.fromisoformat(last["occurred_at"]), last["id"])
