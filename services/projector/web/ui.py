"""`WebUi`: the web pages mounted into the agent API app.

`install(app)` adds the session middleware (cookie → principal, CSRF for cookie-authenticated
API calls), the security headers (a strict Content-Security-Policy on every page), the static
files and the page routers; `lifespan` starts and stops the live feed and the stream monitor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.api.auth import Authorizer
from services.projector.complaints.policy import rules_from_settings
from services.projector.ops.streams import StreamMonitor
from services.projector.web.boards import boards_router
from services.projector.web.complaint_work import complaint_work_router
from services.projector.web.callbacks import callbacks_router
from services.projector.web.consent import consent_router
from services.projector.web.guards import BadCsrf, Forbidden, LoginRequired
from services.projector.web.evidence import router as evidence_router
from services.projector.web.identity import router as identity_router
from services.projector.web.live import CommitWatcher
from services.projector.web.pages import pages_router
from services.projector.web.rendering import STATIC, Pages
from services.projector.web.revocations import is_revoked
from services.projector.web.stream import stream_router
from services.projector.web.throttle import LoginThrottle
from services.projector.web.session import COOKIE, SAFE_METHODS, SessionCodec, csrf_matches
from services.projector.web.privacy import privacy_pages_router
from services.projector.web.access_log import access_log_router
from services.projector.audit.requests import drain as drain_audit
from services.projector.web.signin import account_session
from services.projector.web.oidc import OidcProvider, oidc_router
from services.projector.users.store import UserStore
from shared.blobs import BlobStore
from shared.config import Settings
from shared.db.engine import reading
from shared.kafka.publisher import Publisher
from shared.kafka.security import client_options

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)


class WebUi:
    def __init__(self, settings: Settings, engine: AsyncEngine, publisher: Publisher, authorizer: Authorizer,
                 live_interval: float = 0.2, monitor_interval: float = 15.0) -> None:
        self.settings, self.engine, self.publisher, self.authorizer = settings, engine, publisher, authorizer
        self.reads = reading(engine)  # what pages only read never waits for a projector's write
        self.sessions = SessionCodec(settings)
        self.users = UserStore(engine)
        self.oidc: OidcProvider | None = None  # the company's sign-on; tests set a fake provider's
        self.throttle = LoginThrottle()
        self.pages = Pages(settings.file.sla.timezone)
        self.live = CommitWatcher(self.reads, live_interval)
        self.monitor = StreamMonitor(settings.bootstrap_servers, settings.topic_prefix, monitor_interval,
                                     client_options(settings))
        self.blobs = BlobStore(settings.attachments_path)
        self.complaint_rules = rules_from_settings(settings)

    def install(self, app: FastAPI) -> None:
        app.state.web = self
        app.middleware("http")(self.session_middleware)
        app.add_exception_handler(LoginRequired, self.login_required)
        app.add_exception_handler(Forbidden, self.forbidden)
        app.add_exception_handler(BadCsrf, self.bad_csrf)
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
        app.include_router(pages_router(self))
        app.include_router(identity_router)
        app.include_router(evidence_router)
        app.include_router(privacy_pages_router(self))
        app.include_router(access_log_router(self))
        app.include_router(stream_router(self))
        app.include_router(boards_router(self))
        app.include_router(complaint_work_router(self, self.complaint_rules))
        app.include_router(callbacks_router(self))
        app.include_router(consent_router(self))
        if self.settings.file.auth.oidc is not None:
            app.include_router(oidc_router(self, self.oidc or OidcProvider(self.settings.file.auth.oidc)))
            self.pages.env.globals["oidc_label"] = self.settings.file.auth.oidc.label

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        self.monitor.start()
        try:
            yield
        finally:
            await drain_audit(app)  # audit records under way, before the publisher stops
            await self.live.stop()
            await self.monitor.stop()

    async def session_middleware(self, request: Request, call_next) -> Response:  # type: ignore[no-untyped-def]
        cookie = request.cookies.get(COOKIE)
        session = self.sessions.read(cookie) or await account_session(self.sessions, self.users, cookie)
        if session is not None and await is_revoked(self.reads, session):
            session = None  # logged out
        request.state.session = session
        if session is not None:
            # a cookie alone authenticates reads; a cookie-authenticated API write must also
            # carry the CSRF token (web form routes check their `csrf_token` field themselves)
            api_write = request.url.path.startswith("/api/") and request.method not in SAFE_METHODS
            if not api_write or csrf_matches(session, request.headers.get("x-csrf-token")):
                request.state.principal = session.principal
        response = await call_next(request)
        if not request.url.path.startswith("/api/"):
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    async def login_required(self, request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)

    async def forbidden(self, request: Request, exc: Forbidden) -> Response:
        labels = self.pages.labels_for(request, request.state.session)
        return self.pages.render(request, "error.html", status=403, title=labels("forbidden"),
                                 detail=labels("forbidden_detail", role=exc.role))

    async def bad_csrf(self, request: Request, exc: BadCsrf) -> Response:
        labels = self.pages.labels_for(request, request.state.session)
        return self.pages.render(request, "error.html", status=403, title=labels("forbidden"),
                                 detail=labels("session_expired"))


def _quote(path: str) -> str:
    return quote(path, safe="/")
