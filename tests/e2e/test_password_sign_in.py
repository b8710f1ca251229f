"""Signing in with a name and a password in a real browser: a user added with `touchpoint
users add` logs in, sees their name and role, logs out, and is asked to log in again."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.stack import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.browser]
PASSWORD = "a long and private passphrase"


def add_user(stack, name: str, role: str, extension: str) -> None:
    done = subprocess.run([sys.executable, "-m", "shared.cli", "users", "add", name, "--role", role,
                           "--extension", extension], input=PASSWORD + "\n", env=stack.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


async def test_a_user_logs_in_with_a_password_sees_name_and_role_and_logs_out(stack, context, artifacts):
    add_user(stack, "paula", "lead", "23")
    page = await context.new_page()
    await page.goto(f"{stack.api}/")
    await page.wait_for_url("**/login**")
    await page.fill("#name", "paula")
    await page.fill("#password", "not the passphrase")
    await page.click("form.password-login button[type=submit]")
    await page.wait_for_url("**/login?failed=password**")
    assert "Name or password is wrong" in await page.inner_text("p.error")

    await page.fill("#name", "paula")
    await page.fill("#password", PASSWORD)
    await artifacts.capture(page, "password-login.png")
    await page.click("form.password-login button[type=submit]")
    await page.wait_for_selector("header.top .who")
    who = await page.inner_text("header.top .who")
    assert "paula (lead)" in who and "23" in who
    assert await page.locator("nav a[href='/complaints']").count() == 1  # a lead's board
    await artifacts.capture(page, "password-signed-in.png")

    await page.click("header.top form[action='/logout'] button")
    await page.wait_for_url("**/login")
    await page.goto(f"{stack.api}/")
    await page.wait_for_url("**/login**")
    assert await page.locator("#password").count() == 1
