"""What can go wrong while getting a token, as exceptions whose message is safe to log and show
(never a token or secret) and says what to do."""

from __future__ import annotations


class SignInError(Exception):
    """Signing in failed; `str()` is one line for an operator."""


class TokenRefused(SignInError):
    """The provider's token endpoint said no (bad client, tenant, consent, revoked refresh
    token): retrying the same request cannot help until the configuration is fixed."""

    def __init__(self, error: str, description: str, advice: str) -> None:
        self.error = error
        self.description = description
        self.advice = advice
        text = f"{error}: {description}" if description else error
        super().__init__(f"the token endpoint refused: {text} ({advice})" if advice else f"the token endpoint refused: {text}")


class ConsentMissing(SignInError):
    """No refresh token stored yet for a flow that needs a user's consent."""


class TokenEndpointUnavailable(SignInError):
    """Network trouble or a 5xx from the token endpoint: a later attempt may succeed."""


class ServerRefusedToken(SignInError):
    """The IMAP or SMTP server refused a freshly issued token (AUTHENTICATE failed)."""
