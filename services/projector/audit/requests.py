"""The routes' side of the audit: who is reading (from the session or the API token, and the
client's address as `TOUCHPOINT_TRUSTED_PROXIES` allows), and one call per route to record it.
The recorder is made once per app, on first use, around the app's publisher."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Request

from events.audit import Resource, Via
from services.projector.api.auth import Principal
from services.projector.audit.access import Read, Reader
from services.projector.audit.reads import blob_reads, entry_reads
from services.projector.audit.recorder import AccessRecorder
from shared.client_address import client_address


def recorder_of(app: FastAPI) -> AccessRecorder:
    recorder = getattr(app.state, "access_recorder", None)
    if recorder is None:
        recorder = app.state.access_recorder = AccessRecorder(app.state.publisher)
    return recorder


async def drain(app: FastAPI) -> None:
    """Waits for audit records still being written (before the app's publisher stops)."""
    recorder = getattr(app.state, "access_recorder", None)
    if recorder is not None:
        await recorder.drain()


def reader_of(request: Request, principal: Principal, via: Via) -> Reader:
    return Reader(user=principal.user, role=principal.role, via=via,
                  client_address=client_address(request, request.app.state.settings.proxy_networks))


def page_reader(request: Request) -> Reader:
    return reader_of(request, request.state.session.principal, "page")


def audit_read(request: Request, reader: Reader, read: Read) -> None:
    """Records `read` in the background; see `AccessRecorder.record_soon`."""
    async def found() -> Sequence[Read]:
        return [read]

    recorder_of(request.app).record_soon(reader, found)


def audit_entry(request: Request, reader: Reader, entry_id: str, resource: Resource) -> None:
    engine = request.app.state.engine
    recorder_of(request.app).record_soon(reader, lambda: entry_reads(engine, entry_id, resource))


def audit_blob(request: Request, reader: Reader, sha256: str) -> None:
    engine = request.app.state.engine
    recorder_of(request.app).record_soon(reader, lambda: blob_reads(engine, sha256))
