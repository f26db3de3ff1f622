"""Fixtures for the seat websocket: a SQLite hub database with two venues, the hub's seat
websocket on aiohttp's test server (real loopback), and seat identities on disk."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evaluation_hub import tables
from evaluation_hub.api import seat_link
from evaluation_hub.api.keys import CLOCK, DB, SERVICES
from evaluation_hub.booking.regions import load_distances
from evaluation_hub.bus.memory import MemoryBus
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Seat, Venue
from evaluation_hub.db.seat_terminals import SeatEnrolment, SubmittedScore
from evaluation_hub.principal import Principal
from evaluation_hub.sealing import Sealer
from evaluation_hub.seats import enrolment
from evaluation_hub.services import Services
from seat_agent.keys import SeatIdentity, init_state_dir
from seat_protocol.events import CommitScore
from seat_protocol.hub_side import Timing

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
HUB_ID = "hub-km"
DL_ADMIN = Principal("dl_admin", "venue_admin", 1)
HH_ADMIN = Principal("hh_admin", "venue_admin", 2)

__all__ = ["DL_ADMIN", "HH_ADMIN", "HUB_ID", "NOW", "HubUnderTest", "services_for"]


async def make_database(path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.engine.begin() as conn:
        await conn.run_sync(tables.metadata.create_all)
    return db


def services_for(db: Database) -> Services:
    """What the seat link's use cases need, around the test database and a fixed clock."""
    return Services(
        config=HubConfig(database_url=db.url, hub_id=HUB_ID),
        db=db,
        sealer=Sealer(bytes(32)),
        bus=MemoryBus(),
        hub_key=Ed25519PrivateKey.generate(),
        distances=load_distances(),
        clock=lambda: NOW,
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await make_database(tmp_path / "hub.db")
    async with database.write() as s:
        for code, name in (("DL", "大理州公共资源交易中心"), ("HH", "红河州公共资源交易中心")):
            venue = Venue(code=code, name=name, region_code="532900", supervising_department="-")
            s.add(venue)
            await s.flush()
            for n in (1, 2, 3):
                s.add(Seat(venue_id=venue.id, label=f"{code}-0{n}"))
    yield database
    await database.dispose()


@dataclass
class HubUnderTest:
    """One hub process: its app, server and hooks. ``restart`` makes a fresh process state."""

    db: Database
    server: TestServer | None = None
    hub: seat_link.SeatHub | None = None
    listener: Callable[[CommitScore], Awaitable[None]] | None = None
    port: int = 0
    timing: Timing | None = None
    committed: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/seat"

    async def start(self) -> None:
        app = web.Application()
        app[DB] = self.db
        app[CLOCK] = lambda: NOW
        app[SERVICES] = services_for(self.db)

        async def listener(commit: CommitScore) -> None:
            self.committed.append(commit.idempotency_key)
            if self.listener is not None:
                await self.listener(commit)

        self.hub = seat_link.setup(app, hub_id=HUB_ID, score_listener=listener, timing=self.timing)
        self.server = TestServer(app, host="127.0.0.1", port=self.port or None)
        await self.server.start_server()
        self.port = self.server.port or 0

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def scores(self) -> list[SubmittedScore]:
        from sqlalchemy import select

        async with self.db.read() as s:
            return list((await s.execute(select(SubmittedScore))).scalars())

    async def enrolments(self) -> list[SeatEnrolment]:
        from sqlalchemy import select

        async with self.db.read() as s:
            return list((await s.execute(select(SeatEnrolment))).scalars())


@pytest.fixture
async def hub(db: Database) -> AsyncIterator[HubUnderTest]:
    under_test = HubUnderTest(db)
    await under_test.start()
    yield under_test
    await under_test.stop()


@pytest.fixture
def make_identity(tmp_path: Path, hub: HubUnderTest) -> Callable[[str], SeatIdentity]:
    def make(seat_id: str, name: str = "") -> SeatIdentity:
        return init_state_dir(
            tmp_path / (name or seat_id), seat_id=seat_id, hub_url=hub.url, hub_id=HUB_ID
        )

    return make


async def enrol_approved(db: Database, identity: SeatIdentity) -> None:
    """Record and approve an enrolment directly in the store (the websocket path is tested
    separately in test_enrolment)."""
    await enrolment.record_enrolment(
        db,
        identity.seat_id,
        identity.ed25519_public,
        identity.x25519_public,
        identity.enrolment_code,
        NOW,
    )
    admin = DL_ADMIN if identity.seat_id.startswith("DL.") else HH_ADMIN
    await enrolment.approve_enrolment(
        db, admin, identity.seat_id, NOW, enrolment_code=identity.enrolment_code
    )
