"""Who is asking, by address: the peer, or behind a configured reverse proxy the address it saw.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only from the
proxies named in ``FUND_LEDGER_TRUSTED_PROXIES`` (none by default), and then read from the
right: each trusted proxy appends the address it saw, so the first address from the right
that is not a trusted proxy is the client's, and whatever the client wrote to the left of it
is not believed.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from starlette.requests import HTTPConnection

Network = IPv4Network | IPv6Network
HOPS_MAX = 32


def proxy_networks(text: str) -> tuple[Network, ...]:
    """``10.0.0.1, 192.168.0.0/24, ::1`` as networks; a malformed one is a ValueError."""
    networks = []
    for part in text.split(","):
        if part.strip():
            try:
                networks.append(ip_network(part.strip(), strict=False))
            except ValueError:
                msg = f"FUND_LEDGER_TRUSTED_PROXIES: {part.strip()!r} is not an address or network"
                raise ValueError(msg) from None
    return tuple(networks)


def _trusted(host: str, proxies: Sequence[Network]) -> bool:
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def client_address(connection: HTTPConnection, proxies: Sequence[Network]) -> str:
    """The address to hold a client's failures against."""
    peer = connection.client.host if connection.client else "unknown"
    if not _trusted(peer, proxies):
        return peer
    forwarded = ",".join(connection.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",")[-HOPS_MAX:] if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            try:
                return str(ip_address(hop))
            except ValueError:
                return peer  # not an address: the proxy did not write it; hold the proxy's
    return peer
