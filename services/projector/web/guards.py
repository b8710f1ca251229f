"""Who may see a page: a logged-in session, and for some pages a role."""

from __future__ import annotations

from fastapi import Request

from services.projector.web.session import Session, csrf_matches


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form."""


class Forbidden(Exception):
    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role


class BadCsrf(Exception):
    """A state-changing form came without this session's CSRF token."""


def session_of(request: Request, *roles: str) -> Session:
    session: Session | None = getattr(request.state, "session", None)
    if session is None:
        raise LoginRequired()
    if roles and session.principal.role not in roles and session.principal.role != "admin":
        raise Forbidden(session.principal.role)
    return session


def check_csrf(session: Session, submitted: str | None) -> None:
    if not csrf_matches(session, submitted):
        raise BadCsrf()
