"""The address of the client behind a request. Behind a reverse proxy the direct peer is the
proxy; its `X-Forwarded-For` names the client, but anyone can send that header, so it is
believed only when the peer is one of `TOUCHPOINT_TRUSTED_PROXIES`, and only up to the first
hop that is not a trusted proxy itself (reading the list from the right)."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from starlette.requests import HTTPConnection

Networks = Sequence[IPv4Network | IPv6Network]
UNKNOWN = "unknown"


def client_address(request: HTTPConnection, trusted_proxies: Networks) -> str:
    peer = request.client.host if request.client else UNKNOWN
    if not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for hop in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_address(hop):
            return peer  # a garbled header: fall back to what we know
        if not _trusted(hop, trusted_proxies):
            return hop
    return hops[0] if hops else peer


def _is_address(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def _trusted(address: str, networks: Networks) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)
