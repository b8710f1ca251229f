"""X-Sipgate-Signature: RSA PKCS#1 v1.5 with SHA-256 over the raw body, checked with the
configured public key (a key pair made here stands in for sipgate's)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from services.ingest.telephony.signatures import verify_sipgate
from tests.fixtures import raw


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign(key: rsa.RSAPrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def test_a_body_signed_with_the_private_key_verifies(key):
    body = raw("sipgate/newcall_inbound.form")
    assert verify_sipgate(public_pem(key), sign(key, body), body)


def test_a_changed_body_fails(key):
    body = raw("sipgate/newcall_inbound.form")
    assert not verify_sipgate(public_pem(key), sign(key, body), body.replace(b"direction=in", b"direction=out"))


def test_another_key_fails(key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = raw("sipgate/hangup_normal.form")
    assert not verify_sipgate(public_pem(key), sign(other, body), body)


def test_an_hmac_style_or_garbage_signature_fails_without_raising(key):
    body = raw("sipgate/hangup_normal.form")
    for signature in ("", "not base64 !!", base64.b64encode(b"short").decode(), "sha256=abcdef"):
        assert not verify_sipgate(public_pem(key), signature, body)


def test_pss_padding_is_not_accepted(key):
    body = raw("sipgate/hangup_normal.form")
    pss = key.sign(body, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    assert not verify_sipgate(public_pem(key), base64.b64encode(pss).decode(), body)
