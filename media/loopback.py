"""Peer connections confined to the loopback interface, for tests and benchmarks on one machine.

aioice gathers host candidates on every interface except 127.0.0.1. Tests and benchmarks
must keep their media on loopback, so :func:`loopback_candidates` makes candidate gathering
return 127.0.0.1 only while it is active. Production code must never use this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aioice.ice

__all__ = ["loopback_candidates"]


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


@contextmanager
def loopback_candidates() -> Iterator[None]:
    """Gather ICE host candidates on 127.0.0.1 only, inside the ``with`` block."""
    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = _loopback_only
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original
