"""Who is calling the agent API: bearer tokens from `[[auth.tokens]]` with a role.

`Authorizer(settings).require("lead", "admin")` is a FastAPI dependency that answers 401
without a known token and 403 when the role is not allowed; it returns the Principal."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

from fastapi import Request

from shared.config import AuthToken, Settings
from shared.digests import as_bytes
from shared.web import ApiError

Role = Literal["agent", "lead", "ops", "admin"]
ALL_ROLES: tuple[Role, ...] = ("agent", "lead", "ops", "admin")


@dataclass(frozen=True)
class Principal:
    user: str
    role: Role
    extension: str | None = None
    team: str | None = None
    language: str = "en"

    @classmethod
    def from_token(cls, token: AuthToken) -> Principal:
        return cls(user=token.user, role=token.role, extension=token.extension, team=token.team, language=token.language)


class Authorizer:
    def __init__(self, settings: Settings) -> None:
        self._tokens = [(t.token.get_secret_value().encode(), Principal.from_token(t)) for t in settings.file.auth.tokens]

    def principal_for(self, token: str | None) -> Principal | None:
        if not token:
            return None
        candidate = as_bytes(token)
        found = None
        for secret, principal in self._tokens:
            # compare against every token so timing does not tell which one matched
            if hmac.compare_digest(secret, candidate):
                found = principal
        return found

    def authenticate(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        principal = self.principal_for(token.strip() if scheme.lower() == "bearer" else None)
        if principal is None:
            # the web pages authenticate with a session cookie set at login
            principal = getattr(request.state, "principal", None)
        if principal is None:
            raise ApiError(401, "unauthenticated", "send 'Authorization: Bearer <token>' with a token from [[auth.tokens]]",
                           headers={"WWW-Authenticate": "Bearer"})
        return principal

    def require(self, *roles: Role):  # type: ignore[no-untyped-def]
        allowed = roles or ALL_ROLES

        def dependency(request: Request) -> Principal:
            principal = self.authenticate(request)
            if principal.role not in allowed and principal.role != "admin":
                raise ApiError(403, "forbidden", f"role {principal.role!r} may not do this; needs one of {list(allowed)}")
            return principal

        return dependency
