"""Login sessions of the web pages: signed cookies naming a configured token, with a CSRF token."""

from __future__ import annotations

from services.projector.web.labels import LABELS, Labels, pick_language
from services.projector.web.session import MAX_AGE, SessionCodec, csrf_matches
from shared.config import Auth, AuthToken, FileConfig, Settings

TOKENS = [AuthToken(token="agent-secret-1", user="anna", role="agent", extension="21"),
          AuthToken(token="lead-secret-1", user="lena", role="lead", language="de")]


def codec(tokens=TOKENS, secret: str = "s3cret-for-tests", now: float = 1_000_000.0) -> SessionCodec:
    settings = Settings(file=FileConfig(auth=Auth(tokens=tokens, session_secret=secret)))
    return SessionCodec(settings, now=lambda: now)


def test_a_known_token_opens_a_session_of_its_user_with_a_csrf_token():
    cookie = codec().issue("agent-secret-1")
    session = codec().read(cookie)
    assert session is not None and session.principal.user == "anna" and session.principal.extension == "21"
    assert len(session.csrf) >= 24 and "agent-secret-1" not in cookie


def test_an_unknown_token_opens_no_session():
    assert codec().issue("guess") is None


def test_a_tampered_or_foreign_cookie_is_no_session():
    cookie = codec().issue("agent-secret-1")
    body, mac = cookie.split(".")
    assert codec().read(body[:-2] + "xx." + mac) is None
    assert codec(secret="another-secret").read(cookie) is None
    assert codec().read("garbage") is None and codec().read("") is None


def test_a_session_ends_after_its_lifetime():
    cookie = codec(now=1_000_000.0).issue("agent-secret-1")
    assert codec(now=1_000_000.0 + MAX_AGE - 1).read(cookie) is not None
    assert codec(now=1_000_000.0 + MAX_AGE + 1).read(cookie) is None


def test_removing_a_token_from_the_configuration_ends_its_sessions():
    cookie = codec().issue("agent-secret-1")
    assert codec(tokens=TOKENS[1:]).read(cookie) is None


def test_csrf_tokens_must_match_the_session():
    session = codec().read(codec().issue("agent-secret-1"))
    assert csrf_matches(session, session.csrf)
    assert not csrf_matches(session, "") and not csrf_matches(session, None) and not csrf_matches(session, session.csrf + "x")


def test_the_login_form_token_is_a_signed_double_submit():
    c = codec()
    value, cookie = c.login_token()
    assert c.login_token_matches(cookie, value)
    assert not c.login_token_matches(cookie, "other") and not c.login_token_matches(None, value)


def test_labels_follow_the_user_then_the_browser_and_exist_in_both_languages():
    assert pick_language("de", "en-GB,en;q=0.9") == "de"
    assert pick_language(None, "de-DE,de;q=0.9,en;q=0.5") == "de"
    assert pick_language(None, "fr-FR,fr;q=0.9") == "en"
    assert Labels("de")("waiting_calls", ext="21") == "Warte auf Anrufe für Nebenstelle 21"
    assert all(english and german for english, german in LABELS.values())
