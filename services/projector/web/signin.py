"""Password sign-in of the web pages: a name and password checked against the users table
give a session cookie naming the account; every request re-reads the account, so a disabled
user or a changed password ends the sessions at once, in every API process."""

from __future__ import annotations

from services.projector.api.auth import Principal
from services.projector.users.store import Account, UserStore
from services.projector.web.session import Session, SessionCodec


def principal_of(account: Account) -> Principal:
    return Principal(user=account.name, role=account.role, extension=account.extension)  # type: ignore[arg-type]


async def password_cookie(sessions: SessionCodec, users: UserStore, name: str, password: str) -> str | None:
    """The session cookie for a correct name and password of an enabled user, else None."""
    account = await users.check(name, password)
    return None if account is None else sessions.issue_for_account(account.name, account.epoch)


async def account_session(sessions: SessionCodec, users: UserStore, cookie: str | None) -> Session | None:
    claim = sessions.account_claim(cookie)
    if claim is None:
        return None
    account = await users.account(claim.name, claim.epoch)
    if account is None:
        return None
    return Session(principal_of(account), claim.csrf, claim.id, claim.expires_at)
