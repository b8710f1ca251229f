"""A small OAuth 2.0 authorization server for tests, on a free loopback port: a token endpoint
(client credentials, refresh token with rotation, device code, authorization code), a device
authorization endpoint and an RFC 7662 introspection endpoint that Dovecot's `oauth2` passdb
asks whether a token is valid. Tokens are opaque and short-lived; a test can revoke access
tokens or refresh tokens and read what was issued and introspected."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

from tests.infra.ports import free_port


@dataclass
class Client:
    secret: str
    username: str  # the mailbox the client's tokens open
    lifetime: float  # seconds its access tokens live


@dataclass
class Issued:
    client_id: str
    username: str
    expires_at: float
    revoked: bool = False


@dataclass
class OAuthServer:
    port: int = field(default_factory=free_port)
    rotate_refresh_tokens: bool = True
    clients: dict[str, Client] = field(default_factory=dict)
    access_tokens: dict[str, Issued] = field(default_factory=dict)
    refresh_tokens: dict[str, Issued] = field(default_factory=dict)
    device_codes: dict[str, tuple[str, bool]] = field(default_factory=dict)  # device_code -> (client_id, approved)
    auth_codes: dict[str, str] = field(default_factory=dict)  # code -> client_id
    grants: list[tuple[str, str]] = field(default_factory=list)  # (client_id, grant type) as requested
    introspected: list[tuple[str, bool]] = field(default_factory=list)  # (username, answer) per introspection
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        threading.Thread(target=self._server.serve_forever, name="oauth-test-server", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ---- what tests arrange -----------------------------------------------------------------

    def add_client(self, username: str, lifetime: float = 3600.0) -> tuple[str, str]:
        client_id, secret = f"client-{secrets.token_hex(4)}", f"secret-{secrets.token_hex(12)}"
        self.clients[client_id] = Client(secret, username, lifetime)
        return client_id, secret

    def grant_refresh_token(self, client_id: str) -> str:
        """As if the user had given consent: a refresh token for the client's mailbox."""
        token = f"rt-{secrets.token_hex(16)}"
        self.refresh_tokens[token] = Issued(client_id, self.clients[client_id].username, float("inf"))
        return token

    def approve_device_codes(self) -> None:
        self.device_codes = {code: (client_id, True) for code, (client_id, _) in self.device_codes.items()}

    def authorization_code(self, client_id: str) -> str:
        code = f"code-{secrets.token_hex(8)}"
        self.auth_codes[code] = client_id
        return code

    def revoke_access_tokens(self, client_id: str) -> None:
        for issued in self.access_tokens.values():
            if issued.client_id == client_id:
                issued.revoked = True

    def revoke_refresh_tokens(self, client_id: str) -> None:
        for issued in self.refresh_tokens.values():
            if issued.client_id == client_id:
                issued.revoked = True

    def issued_for(self, client_id: str) -> list[str]:
        return [token for token, issued in self.access_tokens.items() if issued.client_id == client_id]

    def grants_of(self, client_id: str) -> list[str]:
        return [grant for owner, grant in self.grants if owner == client_id]

    def introspections_of(self, username: str) -> list[bool]:
        return [active for user, active in self.introspected if user == username]

    def secrets_of(self, client_id: str) -> list[str]:
        """Everything of this client that must never appear in a log line."""
        refresh = [token for token, issued in self.refresh_tokens.items() if issued.client_id == client_id]
        return [self.clients[client_id].secret, *self.issued_for(client_id), *refresh]

    # ---- the endpoints -----------------------------------------------------------------------

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict]:
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        client = self.clients.get(client_id)
        if client is None or client.secret != secret:
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed."}
        grant = form.get("grant_type", "")
        with self._lock:
            self.grants.append((client_id, grant))
            if grant == "client_credentials":
                return 200, self._issue(client_id)
            if grant == "refresh_token":
                held = self.refresh_tokens.get(form.get("refresh_token", ""))
                if held is None or held.revoked or held.client_id != client_id:
                    return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
                if self.rotate_refresh_tokens:
                    held.revoked = True
                    return 200, self._issue(client_id, refresh=True)
                return 200, self._issue(client_id)
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                owner, approved = self.device_codes.get(form.get("device_code", ""), ("", False))
                if owner != client_id:
                    return 400, {"error": "expired_token", "error_description": "unknown device code"}
                if not approved:
                    return 400, {"error": "authorization_pending", "error_description": "waiting for the user"}
                return 200, self._issue(client_id, refresh=True)
            if grant == "authorization_code":
                if self.auth_codes.pop(form.get("code", ""), None) != client_id:
                    return 400, {"error": "invalid_grant", "error_description": "bad authorization code"}
                return 200, self._issue(client_id, refresh=True)
        return 400, {"error": "unsupported_grant_type", "error_description": grant}

    def _issue(self, client_id: str, refresh: bool = False) -> dict:
        client = self.clients[client_id]
        token = f"at-{secrets.token_hex(16)}"
        self.access_tokens[token] = Issued(client_id, client.username, time.time() + client.lifetime)
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": client.lifetime}
        if refresh:
            answer["refresh_token"] = self.grant_refresh_token(client_id)
        return answer

    def device_authorization(self, form: dict[str, str]) -> tuple[int, dict]:
        client_id = form.get("client_id", "")
        if client_id not in self.clients:
            return 400, {"error": "invalid_client", "error_description": "unknown client"}
        code = f"dc-{secrets.token_hex(8)}"
        self.device_codes[code] = (client_id, False)
        return 200, {"device_code": code, "user_code": "ABCD-EFGH", "verification_uri": f"{self.base_url}/device",
                     "expires_in": 60, "interval": 0}

    def introspect(self, form: dict[str, str]) -> tuple[int, dict]:
        issued = self.access_tokens.get(form.get("token", ""))
        active = issued is not None and not issued.revoked and time.time() < issued.expires_at
        self.introspected.append((issued.username if issued else "?", active))
        if not active:
            return 200, {"active": False}
        assert issued is not None
        return 200, {"active": True, "username": issued.username, "client_id": issued.client_id}


def _handler(server: OAuthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            path = self.path.split("?", 1)[0]
            if path == "/token":
                status, body = server.token(form, _basic(self.headers.get("Authorization")))
            elif path == "/devicecode":
                status, body = server.device_authorization(form)
            elif path == "/introspect":
                status, body = server.introspect(form)
            else:
                status, body = 404, {"error": "not_found"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return unquote(user), unquote(password)
