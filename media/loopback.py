"""Peer connections confined to the loopback interface, for tests and benchmarks on one machine.

aioice gathers host candidates on every interface except 127.0.0.1. Tests and benchmarks
must keep their media on loopback, so :func:`loopback_candidates` makes candidate gathering
return 127.0.0.1 only while it is active (:func:`candidates_on`: another of the machine's own
addresses, for a peer of Debian's Janus, which does not stay on loopback). Production code must
never use this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aioice.ice

__all__ = ["candidates_on", "host_address", "loopback_candidates"]

#: aioice's own gathering, kept before anything here replaces it
_HOST_ADDRESSES = aioice.ice.get_host_addresses


def host_address() -> str:
    """This machine's first non-loopback IPv4 address (Janus cannot gather on 127.0.0.1)."""
    found = [a for a in _HOST_ADDRESSES(True, False) if not a.startswith("127.")]
    if not found:
        raise RuntimeError("janus needs a non-loopback IPv4 address on this machine")
    return str(found[0])


@contextmanager
def candidates_on(address: str) -> Iterator[None]:
    """Gather ICE host candidates on ``address`` only, inside the ``with`` block."""
    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [address] if use_ipv4 else []
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


@contextmanager
def loopback_candidates() -> Iterator[None]:
    """Gather ICE host candidates on 127.0.0.1 only, inside the ``with`` block."""
    with candidates_on("127.0.0.1"):
        yield
