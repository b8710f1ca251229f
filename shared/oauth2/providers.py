"""Where each provider's endpoints are and which scopes a mailbox needs there."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import OAuth2SignIn

MICROSOFT_LOGIN = "https://login.microsoftonline.com"
MICROSOFT_APP_ONLY_SCOPES = ["https://outlook.office365.com/.default"]
MICROSOFT_USER_SCOPES = [
    "https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send", "offline_access",
]
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_SCOPES = ["https://mail.google.com/"]


@dataclass(frozen=True)
class Endpoints:
    token_url: str
    scopes: list[str]
    authorize_url: str | None = None
    device_authorization_url: str | None = None
    # Microsoft and Google accept the secret in the form; RFC 6749 requires every server to take Basic
    client_auth: str = "client_secret_basic"
    authorize_params: dict[str, str] = field(default_factory=dict)


def endpoints_for(config: OAuth2SignIn) -> Endpoints:
    if config.provider == "microsoft":
        return _microsoft(config)
    if config.provider == "google":
        return Endpoints(
            token_url=config.token_url or GOOGLE_TOKEN_URL,
            scopes=config.scopes or GOOGLE_SCOPES,
            authorize_url=config.authorize_url or GOOGLE_AUTHORIZE_URL,
            # Google offers no device flow for mail scopes; offline + consent make it return a refresh token
            device_authorization_url=config.device_authorization_url,
            client_auth="client_secret_post",
            authorize_params={"access_type": "offline", "prompt": "consent"},
        )
    assert config.token_url is not None  # the config validator requires it for generic
    return Endpoints(
        token_url=config.token_url,
        scopes=config.scopes,
        authorize_url=config.authorize_url,
        device_authorization_url=config.device_authorization_url,
    )


def _microsoft(config: OAuth2SignIn) -> Endpoints:
    # token_url points elsewhere for national clouds (e.g. login.microsoftonline.us)
    token_url = config.token_url or f"{MICROSOFT_LOGIN}/{config.tenant}/oauth2/v2.0/token"
    base = token_url.removesuffix("/token")
    default_scopes = MICROSOFT_APP_ONLY_SCOPES if config.app_only else MICROSOFT_USER_SCOPES
    return Endpoints(
        token_url=token_url,
        scopes=config.scopes or default_scopes,
        authorize_url=config.authorize_url or f"{base}/authorize",
        device_authorization_url=config.device_authorization_url or f"{base}/devicecode",
        client_auth="client_secret_post",
    )
