"""Fixtures for media tests: real aiortc peers confined to 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from aiortc import RTCPeerConnection

from media.loopback import loopback_candidates


@pytest.fixture
def loopback() -> Iterator[None]:
    with loopback_candidates():
        yield


@pytest.fixture
async def peers(loopback: None) -> AsyncIterator[Callable[[], RTCPeerConnection]]:
    """A factory of peer connections, all closed when the test ends."""
    created: list[RTCPeerConnection] = []

    def make() -> RTCPeerConnection:
        pc = RTCPeerConnection()
        created.append(pc)
        return pc

    yield make
    for pc in reversed(created):
        await pc.close()
