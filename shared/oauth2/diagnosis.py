"""Plain advice for the ways OAuth 2.0 sign-in to a mailbox fails: Microsoft's AADSTS codes and
OAuth error codes at the token endpoint, and a refused token at the mail server (for Microsoft,
read from the token's own claims: app-only access needs the IMAP.AccessAsApp role)."""

from __future__ import annotations

import base64
import json
import re

from shared.config import OAuth2SignIn

AADSTS_ADVICE = {
    "90002": "wrong tenant: no such directory; set tenant to the directory's domain (contoso.onmicrosoft.com) or id",
    "900023": "wrong tenant: not a tenant name or id",
    "700016": "the client_id is not an app in this tenant: check tenant and client_id (Application (client) ID)",
    "7000215": "wrong client_secret: use the secret's Value, not its Secret ID",
    "7000222": "the client_secret has expired: create a new one under Certificates & secrets",
    "65001": "consent missing: grant admin consent for the app's API permissions, or run touchpoint mailbox authorize",
    "650057": "consent missing: the app does not request this permission; add it under API permissions",
    "70011": "invalid scopes: app-only uses https://outlook.office365.com/.default",
    "500011": "the resource is not in this tenant: is Exchange Online licensed here, and the scope right?",
    "700082": "the refresh token has expired: run touchpoint mailbox authorize again",
    "70008": "the refresh token has expired: run touchpoint mailbox authorize again",
    "50173": "the refresh token was revoked (password change?): run touchpoint mailbox authorize again",
    "50076": "multi-factor authentication required: run touchpoint mailbox authorize again",
    "53003": "blocked by a Conditional Access policy: exclude the app or the sign-in",
    "7000218": "this app needs a client_secret, or 'Allow public client flows' on for device-code sign-in",
    "700025": "the app is a public client: remove client_secret (or client_secret_file) from the configuration",
}

OAUTH_ADVICE = {
    "invalid_grant": "the refresh token was revoked or has expired: run touchpoint mailbox authorize again",
    "invalid_client": "the token endpoint does not accept this client_id/client_secret",
    "unauthorized_client": "this client may not use this grant: check the app registration",
    "invalid_scope": "the provider does not accept these scopes",
    "consent_required": "consent missing: run touchpoint mailbox authorize",
    "interaction_required": "consent missing: run touchpoint mailbox authorize",
}


def token_error_advice(error: str, description: str) -> str:
    match = re.search(r"AADSTS(\d+)", description)
    if match and match.group(1) in AADSTS_ADVICE:
        return AADSTS_ADVICE[match.group(1)]
    return OAUTH_ADVICE.get(error, "")


def first_line(text: str | None, limit: int = 300) -> str:
    """Microsoft appends trace and correlation ids on further lines; the first says it all."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line[:limit]


def token_claims(access_token: str) -> dict[str, object]:
    """The claims of a JWT access token, unverified (only to explain a refusal); {} when the
    token is opaque, as Google's are."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return {}
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, json.JSONDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def refused_token_advice(config: OAuth2SignIn, access_token: str, protocol: str = "IMAP") -> str:
    """Why a mail server may refuse a token the provider issued."""
    claims = token_claims(access_token)
    if config.provider == "microsoft" and config.app_only:
        roles = claims.get("roles") or []
        wanted = "SMTP.SendAsApp" if protocol == "SMTP" else "IMAP.AccessAsApp"
        if claims and wanted not in roles:
            return (f"missing {wanted} permission: add the application permission {wanted} of Office 365 Exchange "
                    "Online to the app and grant admin consent")
        return ("Exchange does not let the app into this mailbox: register the app's service principal "
                "(New-ServicePrincipal) and grant it the mailbox (Add-MailboxPermission -AccessRights FullAccess); "
                "username must be the mailbox's address")
    if config.provider == "microsoft":
        return (f"{protocol} may be off for this mailbox (Set-CASMailbox), or username is not the account that "
                "gave consent")
    if config.provider == "google":
        return f"{protocol} access may be off for this account (Gmail settings / Admin console), or username is not the account that gave consent"
    return "the server did not accept the token for this username: check username, scopes and the server's token validation"
