"""Fixtures for the supervision API: the hub with the supervision routes added, the services its
use cases take, and the demo directory with experts seated at away venues."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update

from evaluation_hub.api.app import create_app
from evaluation_hub.booking.regions import load_distances
from evaluation_hub.bus.memory import MemoryBus
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import BookingSeat
from evaluation_hub.sealing import Sealer
from evaluation_hub.services import Services
from tests.conftest import FakeClock

# Who sits where in the seeded session (expert code -> seat label); E05 has no seat yet and the
# host experts E01/E02 sit at the host venue without a booked seat.
SEATING = {"E03": "DL-01", "E04": "DL-02", "E06": "QJ-01", "E07": "QJ-02"}


def supervision_app(config: HubConfig, db: Database, clock: FakeClock) -> web.Application:
    return create_app(config, db=db, clock=clock, sweep=False)


def hub_config(db: Database, tmp_path: Path) -> HubConfig:
    return HubConfig(
        database_url=db.url,
        token_secret="t" * 40,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "hub-key.pem",
        recordings_dir=tmp_path / "recordings",
    )


def hub_services(db: Database, clock: FakeClock, tmp_path: Path) -> Services:
    """What the supervision use cases take, around the test database and clock."""
    config = hub_config(db, tmp_path)
    return Services(
        config=config,
        db=db,
        sealer=Sealer.from_env_or_file(None, config.sealing_key_file),
        bus=MemoryBus(),
        hub_key=Ed25519PrivateKey.generate(),
        distances=load_distances(),
        clock=clock,
    )


async def seed_seated(db: Database, clock: FakeClock) -> dict[str, Any]:
    """The demo directory, its three bookings, and experts placed on the booked seats."""
    from tests.support.seed import seed, seed_bookings

    ids = await seed(db, clock())
    ids["bookings"] = await seed_bookings(db, ids, clock())
    async with db.write() as s:
        for code, label in SEATING.items():
            await s.execute(
                update(BookingSeat)
                .where(BookingSeat.seat_id == ids["seats"][label])
                .values(expert_id=ids["experts"][code])
            )
    return ids


@pytest.fixture
async def seated(database: Database, clock: FakeClock) -> dict[str, Any]:
    return await seed_seated(database, clock)


@pytest.fixture
def services(database: Database, clock: FakeClock, tmp_path: Path) -> Services:
    return hub_services(database, clock, tmp_path)


@pytest.fixture
async def sup_client(
    database: Database, clock: FakeClock, tmp_path: Path, seated: dict[str, Any]
) -> AsyncIterator[TestClient[Any, Any]]:
    app = supervision_app(hub_config(database, tmp_path), database, clock)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
