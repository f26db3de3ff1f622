"""The hub's transport facts: who is asking (the client's address, also behind a trusted
reverse proxy), whether the request came over HTTPS, and HSTS on every HTTPS response.

* :func:`client_address`: the peer address of the connection, or, when that peer is one of
  ``HubConfig.trusted_proxies``, the nearest address in ``X-Forwarded-For`` that is not a
  trusted proxy. Sign-in and seat enrolment throttling count by it.
* :func:`is_https`: the connection is TLS (``serve --tls-cert``), or a trusted proxy says
  ``X-Forwarded-Proto: https``. The sign-in cookie is ``Secure`` then.
* :func:`setup`: sends ``Strict-Transport-Security`` on every response to an HTTPS request, so
  a browser that once reached the hub over HTTPS never falls back to plain HTTP.

The TLS context itself is built by ``evaluation_hub.tls`` for ``evaluation-hub serve``.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

from evaluation_hub.api.keys import CONFIG

__all__ = ["HSTS", "client_address", "is_https", "setup"]

#: one year; no ``includeSubDomains``: other services of the centre's domain are not ours
HSTS = "max-age=31536000"
_UNKNOWN = "unknown"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: str | None, proxies: tuple[str, ...]) -> bool:
    if not address or not proxies:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(proxies))


def _from_trusted_proxy(request: web.Request) -> bool:
    return _trusted(request.remote, request.app[CONFIG].trusted_proxies)


def client_address(request: web.Request, proxies: tuple[str, ...]) -> str:
    """The address of the client (see the module docstring), ``proxies`` being
    ``HubConfig.trusted_proxies``; ``"unknown"`` if there is none."""
    peer = request.remote or _UNKNOWN
    if not _trusted(peer, proxies):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for hop in header.split(",")
    ]
    # Right to left: each trusted proxy appended the address it was reached from.
    for hop in reversed(hops):
        if not hop:
            continue
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled header: judge by the proxy itself
        if not _trusted(hop, proxies):
            return hop
    return peer


def is_https(request: web.Request) -> bool:
    """Whether the client reached the hub over HTTPS."""
    if request.secure:
        return True
    if _from_trusted_proxy(request):
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return proto == "https"
    return False


async def _strict_transport(request: web.Request, response: web.StreamResponse) -> None:
    if is_https(request):
        response.headers["Strict-Transport-Security"] = HSTS


def setup(app: web.Application) -> None:
    """Send HSTS on every response to an HTTPS request (static files and errors included)."""
    app.on_response_prepare.append(_strict_transport)
