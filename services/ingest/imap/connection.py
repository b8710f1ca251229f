"""The real `FolderSource`: one imapclient connection, used from one dedicated thread (the
library is blocking and not thread-safe). Folders are opened read-only (EXAMINE) and bodies
fetched with BODY.PEEK, so nothing on the server changes."""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import LoginError
from imapclient.datetime_util import parse_to_datetime
from imapclient.exceptions import IMAPClientError

from services.ingest.imap.signin import RefusedOnce, SignIn, sign_in_for
from services.ingest.imap.signin_status import SignInReport
from services.ingest.imap.sync import FetchedMail, FolderStatus
from shared.config import Mailbox
from shared.oauth2.errors import SignInError, TokenEndpointUnavailable
from shared.oauth2.tokens import TokenSource

T = TypeVar("T")

# RFC 2177: clients should re-issue IDLE at least every 29 minutes; we leave far earlier.
IDLE_SLICE_S = 0.5


class ImapConnection:
    def __init__(
        self,
        mailbox: Mailbox,
        connect_timeout: float = 15.0,
        timeout: float = 120.0,
        tokens: TokenSource | None = None,
        report: SignInReport | None = None,
    ) -> None:
        self.mailbox = mailbox
        self.sign_in: SignIn = sign_in_for(mailbox, tokens)
        self.report = report
        self._renew_at: float | None = None  # an OAuth 2.0 session signs in anew before its token expires
        self.timeout = SocketTimeout(connect=connect_timeout, read=timeout)
        self._client: IMAPClient | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"imap-{mailbox.name}")
        self._interrupted = threading.Event()
        self.capabilities: frozenset[bytes] = frozenset()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @property
    def supports_idle(self) -> bool:
        return b"IDLE" in self.capabilities

    async def open(self) -> None:
        try:
            await self._call(self._open)
        except (SignInError, LoginError) as exc:
            if self.report is not None and not isinstance(exc, TokenEndpointUnavailable):
                await self.report.refused(self.mailbox.name, str(exc))
            raise
        if self.report is not None:
            await self.report.signed_in(self.mailbox.name)

    async def _renew_if_due(self) -> None:
        if self._renew_at is not None and time.time() >= self._renew_at:
            await self._call(self._close)
            await self.open()

    def _open(self) -> None:
        try:
            self._connect_and_sign_in(last_try=False)
        except RefusedOnce:
            self._connect_and_sign_in(last_try=True)

    def _connect_and_sign_in(self, last_try: bool) -> None:
        box = self.mailbox
        context = ssl.create_default_context(cafile=str(box.tls_ca_file) if box.tls_ca_file else None)
        client = IMAPClient(box.host, port=box.port, ssl=box.security == "tls", ssl_context=context, timeout=self.timeout)
        try:
            if box.security == "starttls":
                client.starttls(context)
            self._renew_at = self.sign_in.login(client, last_try)
            client.normalise_times = False  # keep INTERNALDATE's time zone instead of local naive time
            self.capabilities = frozenset(client.capabilities())
        except BaseException:
            client.shutdown()
            raise
        self._client = client

    async def close(self) -> None:
        try:
            await self._call(self._close)
        finally:
            self._executor.shutdown(wait=False)

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # the connection may already be gone; closing it is all we want
            client.shutdown()

    def interrupt(self) -> None:
        """Ends a `wait_for_change` early (shutdown)."""
        self._interrupted.set()

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise ConnectionError("the IMAP connection is not open")
        return self._client

    async def select(self, folder: str) -> FolderStatus:
        await self._renew_if_due()  # a sync pass starts here: nothing is selected yet that would be lost
        return await self._call(self._select, folder)

    def _select(self, folder: str) -> FolderStatus:
        info = self.client.select_folder(folder, readonly=True)
        return FolderStatus(uidvalidity=int(info[b"UIDVALIDITY"]), exists=int(info.get(b"EXISTS", 0)))

    async def uids_after(self, uid: int, since: date | None) -> list[int]:
        criteria: list[Any] = ["UID", f"{uid + 1}:*"]
        if since is not None:
            criteria += ["SINCE", since]
        return sorted(await self._call(self.client.search, criteria))

    async def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        if not uids:
            return {}
        found = await self._call(self.client.fetch, list(uids), ["RFC822.SIZE"])
        return {uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in found.items()}

    async def fetch(self, uids: Sequence[int]) -> list[FetchedMail]:
        if not uids:
            return []
        return await self._call(self._fetch_bodies, list(uids))

    def _fetch_bodies(self, uids: list[int]) -> list[FetchedMail]:
        # imaplib (under imapclient) splits the response into literals in C-speed steps;
        # imapclient's own parser tokenises every body byte in Python, slower than the
        # rest of the capture together. The command is the same UID FETCH.
        imap = self.client._imap
        status, data = imap.uid("FETCH", _uid_set(uids), "(UID INTERNALDATE BODY.PEEK[])")
        if status != "OK":
            raise IMAPClientError(f"UID FETCH failed: {data!r}")
        found: dict[int, FetchedMail] = {}
        for index, item in enumerate(data):
            if not isinstance(item, tuple):
                continue  # a closing ")" or an unsolicited FETCH (flags) without a body
            head, body = item
            trailer = data[index + 1] if index + 1 < len(data) and isinstance(data[index + 1], bytes) else b""
            uid = _UID.search(head) or _UID.search(trailer)
            when = _INTERNALDATE.search(head) or _INTERNALDATE.search(trailer)
            if uid is None or b"BODY[]" not in head:
                continue
            date = parse_to_datetime(when.group(1), normalise=False) if when else None
            found[int(uid.group(1))] = FetchedMail(uid=int(uid.group(1)), raw=bytes(body), internaldate=_utc(date))
        return [found[uid] for uid in sorted(found)]  # an expunged mail is simply missing

    async def noop(self) -> None:
        if self._renew_at is not None and time.time() >= self._renew_at:
            await self._renew_if_due()  # a new session is as good a keep-alive as NOOP
            return
        await self._call(self.client.noop)

    async def wait_for_change(self, timeout: float) -> bool:
        """IDLE until the server reports a change (True) or `timeout` passes (False); returns
        early when the session is due to sign in anew."""
        if self._renew_at is not None:
            timeout = max(0.0, min(timeout, self._renew_at - time.time()))
        return await self._call(self._idle, timeout)

    def _idle(self, timeout: float) -> bool:
        client = self.client
        client.idle()
        changed = False
        try:
            deadline = time.monotonic() + timeout
            while not self._interrupted.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if client.idle_check(timeout=min(IDLE_SLICE_S, remaining)):
                    changed = True
                    break
        finally:
            _, responses = client.idle_done()
        return changed or bool(responses)


_UID = re.compile(rb"\bUID (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


def _uid_set(uids: list[int]) -> str:
    """`1:5,9,12:14`: a backlog batch is mostly consecutive UIDs, so the command stays short."""
    ordered = sorted(set(uids))
    ranges: list[str] = []
    start = previous = ordered[0]
    for uid in ordered[1:] + [None]:  # type: ignore[list-item]
        if uid is not None and uid == previous + 1:
            previous = uid
            continue
        ranges.append(str(start) if start == previous else f"{start}:{previous}")
        if uid is not None:
            start = previous = uid
    return ",".join(ranges)


def _utc(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)
