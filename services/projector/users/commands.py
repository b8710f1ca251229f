"""`touchpoint users add|passwd|disable`: the password is read from a prompt (twice, to
confirm) or, when stdin is not a terminal, from its first line; never from the command line,
where other users of the machine and the shell history would see it."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from services.projector.users import rules
from services.projector.users.rules import UserError
from services.projector.users.store import UserStore
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async


def read_password(stdin: TextIO = sys.stdin, prompt: Callable[[str], str] = getpass.getpass) -> str:
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    first = prompt("Password: ")
    if first != prompt("Password (again): "):
        raise UserError("the two passwords differ; nothing was changed")
    return first


def add(settings: Settings, name: str, role: str, extension: str | None) -> None:
    try:  # before asking for a password
        rules.user_name(name), rules.role(role), rules.extension(extension)
    except UserError as exc:
        _fail(str(exc), status=2)
    password = _password_or_exit()
    account = _run(settings, lambda store: store.add(name, role, extension, password))
    print(f"user {account.name} added ({account.role}{', extension ' + account.extension if account.extension else ''})")


def passwd(settings: Settings, name: str) -> None:
    password = _password_or_exit()
    _run(settings, lambda store: store.set_password(name, password))
    print(f"password of {name.strip().lower()} changed; their sessions have ended")


def disable(settings: Settings, name: str) -> None:
    _run(settings, lambda store: store.disable(name))
    print(f"user {name.strip().lower()} disabled; their sessions have ended")


def _password_or_exit() -> str:
    try:
        return read_password()
    except UserError as exc:
        _fail(str(exc))
    except (EOFError, KeyboardInterrupt):
        _fail("no password given; nothing was changed")


def _run(settings: Settings, action: Callable[[UserStore], Awaitable]):  # type: ignore[no-untyped-def,type-arg]
    async def main():  # type: ignore[no-untyped-def]
        await upgrade_async(settings.db_url)
        engine = make_engine(settings.db_url)
        try:
            return await action(UserStore(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except UserError as exc:
        _fail(str(exc))


def _fail(message: str, status: int = 1):  # type: ignore[no-untyped-def]
    from shared.cli import fail  # the CLI's one way to end with a reason

    fail(message, status)
