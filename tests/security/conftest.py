"""Fixtures of the security tests: the seeded session with its three bookings and experts placed
on the booked seats (as the supervision tests have it), and the live-media rig."""

from __future__ import annotations

from typing import Any

import pytest

from evaluation_hub.db.engine import Database
from tests.conftest import FakeClock
from tests.live.conftest import loopback, rig, viewers
from tests.supervision_api.conftest import seed_seated

__all__ = ["loopback", "rig", "seated", "viewers"]


@pytest.fixture
async def seated(database: Database, clock: FakeClock) -> dict[str, Any]:
    """The seeded session; 大理 holds DL-01/DL-02 for it on a mere request, 曲靖 confirmed
    QJ-01/QJ-02; E03, E04, E06, E07 sit on those seats."""
    return await seed_seated(database, clock)
