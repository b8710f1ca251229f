"""The customer page's privacy tools for admins: who accessed this customer's data (the access
audit, latest first, paged by `?audit_before=`), and "Download export", the same zip as
`touchpoint customers export` (services/projector/privacy/export.py).

The download is recorded on the audit topic before anything is read; when Kafka does not
acknowledge that record the export is refused with 503 (a copy of a whole customer that nobody
could trace is worse than none)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Iterator, Sequence
from typing import IO, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from events.audit import CustomerAccessed
from events.text import CleanLine
from services.projector.api import queries
from services.projector.audit import queries as audit_queries
from services.projector.audit.recorder import AuditUnavailable
from services.projector.audit.requests import page_reader, recorder_of
from services.projector.privacy.erasure import NothingToErase
from services.projector.privacy.export import export, export_read
from services.projector.web.guards import session_of
from shared.config import Settings
from shared.db.engine import make_engine

log = logging.getLogger("touchpoint.web")
PAGE_SIZE = 20
CHUNK = 256 * 1024


async def access_log_context(conn: AsyncConnection, request: Request, owner: Any) -> dict[str, Any]:
    """What `_privacy_access.html` shows: nothing unless an admin is looking."""
    session = getattr(request.state, "session", None)
    if session is None or session.principal.role != "admin":
        return {}
    before = request.query_params.get("audit_before") or None
    try:
        page = await audit_queries.page_of(conn, owner.id, PAGE_SIZE, before)
    except audit_queries.BadCursor:
        page = await audit_queries.page_of(conn, owner.id, PAGE_SIZE)
    return {"access_log": page, "access_log_paged": before is not None}


def access_log_router(ui) -> APIRouter:  # type: ignore[no-untyped-def]
    router = APIRouter(include_in_schema=False)

    @router.get("/customers/{customer_id}/export.zip")
    async def download_export(request: Request, customer_id: CleanLine) -> Response:
        session_of(request, "admin")
        async with ui.reads.connect() as conn:
            found = await queries.customer(conn, customer_id)
        if found is None or found.kind != "customer" or not found.customer_ref:
            return refused(request, 404, "No export", "Only a customer with a customer reference can be exported.")
        try:
            audited = await recorder_of(request.app).record(page_reader(request), [export_read(found.customer_ref)])
        except AuditUnavailable:
            return refused(request, 503, "Export refused",
                           "The access audit could not record this export (Kafka did not acknowledge it); "
                           "nothing was exported. Try again when Kafka is reachable.")
        spool = tempfile.TemporaryFile()
        try:
            count = await asyncio.to_thread(export_apart, ui.settings, found.customer_ref, spool, audited)
        except NothingToErase:
            spool.close()
            return refused(request, 404, "No export", "This customer is not in the read model any more.")
        except BaseException:
            spool.close()
            raise
        log.info("export of %s by %s: %d events", customer_id, session_of(request).principal.user, count)
        size = spool.tell()
        spool.seek(0)
        name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in found.customer_ref)[:80]
        return StreamingResponse(_chunks(spool), media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="export-{name}.zip"', "Content-Length": str(size),
            "Cache-Control": "private, no-store"})

    def refused(request: Request, status: int, title: str, detail: str) -> Response:
        return ui.pages.render(request, "error.html", status=status, title=title, detail=detail)

    return router


def export_apart(settings: Settings, customer_ref: str, out: IO[bytes], audited: Sequence[CustomerAccessed]) -> int:
    """The export on a loop and database connections of its own: reading the whole log (and
    opening its sealed fields, which may wait for the key store) must not hold up the pages."""
    async def run() -> int:
        engine = make_engine(settings.db_url)
        try:
            return await export(settings, engine, customer_ref, out, audited)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := spool.read(CHUNK):
            yield chunk
    finally:
        spool.close()
