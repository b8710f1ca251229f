"""Real peers for the notifier's integration tests: an SMTP server (aiosmtpd) and an HTTP
receiver (aiohttp) on free ports, both recording what they accepted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiohttp import web
from aiosmtpd.controller import Controller

from tests.infra.ports import free_port


class SmtpPeer:
    """An SMTP server that can be started and stopped on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self) -> SmtpPeer:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]

    def recipients(self) -> list[str]:
        return sorted(str(m["X-Envelope-To"]) for m in self.messages)


@dataclass
class Received:
    path: str
    status: int
    body: dict
    headers: dict[str, str]


@dataclass
class HttpReceiver:
    """Answers each path with the scripted statuses in turn (then 200) and records every request."""

    script: dict[str, list[int]] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        statuses = self.script.get(request.path, [])
        status = statuses.pop(0) if statuses else 200
        self.requests.append(Received(request.path, status, await request.json(), dict(request.headers)))
        return web.json_response({"ok": status == 200}, status=status)

    async def start(self) -> HttpReceiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def accepted(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path and r.status == 200]


async def wait_until(
    condition: Callable[[], Awaitable[bool] | bool], what: str | Callable[[], str], limit: float = 60.0
) -> None:
    """Polls until `condition` holds; the limit only guards against a hanging test."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"gave up waiting: {what() if callable(what) else what}")


def self_signed_certificate(directory) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A certificate for 127.0.0.1 and its key (PEM files), for TLS tests."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = f"{directory}/smtp-cert.pem", f"{directory}/smtp-key.pem"
    with open(cert_file, "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_file, key_file


class SecureSmtpPeer(SmtpPeer):
    """SMTP with implicit TLS ("tls") or required STARTTLS ("starttls"), and required AUTH."""

    def __init__(self, security: str, cert_file: str, key_file: str, username: str, password: str) -> None:
        super().__init__()
        import ssl

        self.security = security
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert_file, key_file)
        self.credentials = (username.encode(), password.encode())
        self.logins: list[str] = []

    def authenticate(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        from aiosmtpd.smtp import AuthResult

        ok = (auth_data.login, auth_data.password) == self.credentials
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)

    def start(self) -> SecureSmtpPeer:
        common = {"hostname": "127.0.0.1", "port": self.port, "authenticator": self.authenticate, "auth_required": True}
        if self.security == "tls":
            # aiosmtpd only sees STARTTLS as encryption; the implicit TLS socket is encrypted too
            self._controller = Controller(self, ssl_context=self.context, auth_require_tls=False, **common)
        else:
            self._controller = Controller(self, tls_context=self.context, require_starttls=True, **common)
        self._controller.start()
        return self
