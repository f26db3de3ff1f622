"""A Janus server (Debian's package, generated configuration) shared by a module's tests, and
aiortc peers that gather where Janus can reach them (``tests.support.janus_server``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.janus_server import JanusServer, candidates_on, janus_available, janus_server


@pytest.fixture(scope="module")
def janus() -> Iterator[JanusServer]:
    if not janus_available():
        pytest.fail("Debian's janus is not installed; run `scripts/install-system-deps.sh test`")
    with janus_server() as server:
        yield server


@pytest.fixture
def janus_candidates(janus: JanusServer) -> Iterator[None]:
    with candidates_on(janus.address):
        yield
