"""Request signatures of the telephony providers, checked exactly as the providers compute them.

Twilio (`X-Twilio-Signature`): base64 HMAC-SHA1, keyed with the account's auth token, of the
URL Twilio called followed by every POST parameter as name+value, sorted by name. The URL is
the public one Twilio was given (the app behind a proxy sees another), and Twilio's own
validators accept it with and without the port, so we do too. For JSON bodies Twilio adds
`bodySHA256` (hex SHA-256 of the body) to the query and signs the URL alone.

sipgate.io (`X-Sipgate-Signature`): base64 RSA PKCS#1 v1.5 signature with SHA-256 over the raw
body, made with sipgate's private key and checked with its published public key."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.digests import same_secret

DEFAULT_PORTS = {"https": 443, "http": 80}


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """The signature Twilio sends for a request to `url` with these form parameters."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_url_variants(url: str) -> list[str]:
    """The URL as given, without its port and with the scheme's default port made explicit."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return [url]
    without_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port}")) if port else without_port
    return list(dict.fromkeys([url, without_port, with_port]))


def verify_twilio(
    auth_token: str, signature: str | None, url: str, params: Iterable[tuple[str, str]], body: bytes | None = None
) -> bool:
    """True when `signature` is Twilio's for this request. When the URL carries `bodySHA256`
    (JSON bodies), the body must hash to it and the parameters are not part of the signature."""
    if not signature:
        return False
    body_hash = parse_qs(urlsplit(url).query).get("bodySHA256")
    if body_hash:
        if body is None or not same_secret(hashlib.sha256(body).hexdigest(), body_hash[0].lower()):
            return False
        params = ()
    pairs = list(params)
    return any(
        same_secret(twilio_signature(auth_token, candidate, pairs), signature)
        for candidate in twilio_url_variants(url)
    )


def verify_sipgate(public_key_pem: str, signature: str | None, body: bytes) -> bool:
    """True when `signature` (base64) is sipgate's RSA-SHA256 signature of `body`."""
    if not signature:
        return False
    try:
        raw_signature = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        _public_key(public_key_pem).verify(raw_signature, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


@lru_cache(maxsize=4)
def _public_key(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the sipgate public key must be an RSA key in PEM form")
    return key
