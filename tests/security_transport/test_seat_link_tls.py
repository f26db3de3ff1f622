"""The seat link over WSS with the hub's key pinned at enrolment.

A real hub seat websocket (aiohttp on loopback, TLS with a self-signed certificate made here)
and real seat-agent links. The terminal pins the hub's key on its first enrolment (or is given
the pin); every later connection refuses a hub with another key inside the TLS handshake —
the hub never sees a websocket request — and the agent stops with ``HubKeyChanged`` instead of
retrying.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from evaluation_hub.api import seat_link
from evaluation_hub.api.keys import CLOCK, DB, SERVICES
from evaluation_hub.db.engine import Database
from seat_agent.connection import SeatLink, enroll
from seat_agent.errors import HubKeyChanged
from seat_agent.keys import SeatIdentity, init_state_dir, load_identity
from seat_protocol.auth import format_pin
from seat_protocol.events import Connected, Event
from tests.seats.conftest import DL_ADMIN, HUB_ID, NOW, db, services_for
from tests.security_transport.certs import HubCertificate, make_certificate

__all__ = ["db"]


@dataclass
class TlsHub:
    """The hub's seat websocket behind TLS with ``certificate``; counts the HTTP requests that
    reached it (a refused TLS handshake never gets that far)."""

    db: Database
    certificate: HubCertificate
    server: TestServer | None = None
    port: int = 0
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"wss://127.0.0.1:{self.port}/ws/seat"

    async def start(self) -> None:
        @web.middleware
        async def count(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            self.requests.append(request.path)
            return await handler(request)

        app = web.Application(middlewares=[count])
        app[DB] = self.db
        app[CLOCK] = lambda: NOW
        app[SERVICES] = services_for(self.db)
        seat_link.setup(app, hub_id=HUB_ID)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate.cert, self.certificate.key)
        self.server = TestServer(app, host="127.0.0.1", port=self.port or None)
        await self.server.start_server(ssl=context)
        self.port = self.server.port or 0

    async def restart_with(self, certificate: HubCertificate) -> None:
        assert self.server is not None
        await self.server.close()
        self.certificate = certificate
        await self.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()


@pytest.fixture
async def tls_hub(db: Database, tmp_path: Path) -> AsyncIterator[TlsHub]:
    hub = TlsHub(db, make_certificate(tmp_path / "certs"))
    await hub.start()
    yield hub
    await hub.stop()


async def _enrolments(db: Database) -> list[str]:
    from sqlalchemy import select

    from evaluation_hub.db.seat_terminals import SeatEnrolment

    async with db.read() as s:
        return list((await s.execute(select(SeatEnrolment.seat_key))).scalars())


async def _approve(db: Database, identity: SeatIdentity) -> None:
    from evaluation_hub.seats import enrolment

    await enrolment.approve_enrolment(
        db, DL_ADMIN, identity.seat_id, NOW, enrolment_code=identity.enrolment_code
    )


async def _connected_once(identity: SeatIdentity) -> None:
    """Run a link until it is connected, then stop it."""
    up = asyncio.Event()

    async def on_event(event: Event) -> None:
        if isinstance(event, Connected):
            up.set()

    link = SeatLink(identity, on_event=on_event, random=lambda: 0.0)
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(up.wait(), 20)
    finally:
        task.cancel()
        await asyncio.wait({task})


def _refused_link(identity: SeatIdentity) -> tuple[SeatLink, list[float]]:
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    return SeatLink(identity, random=lambda: 0.0, sleep=sleep), slept


async def test_first_enrolment_pins_the_hub_key_and_later_connections_use_it(
    tls_hub: TlsHub, tmp_path: Path
) -> None:
    identity = init_state_dir(
        tmp_path / "seat", seat_id="DL.DL-01", hub_url=tls_hub.url, hub_id=HUB_ID
    )
    assert identity.hub_pin is None
    assert await enroll(identity) == identity.enrolment_code
    pinned = load_identity(identity.state_dir)
    assert pinned.hub_pin == tls_hub.certificate.pin
    await _approve(tls_hub.db, pinned)
    await _connected_once(pinned)

    # A renewed certificate for the same key changes nothing at the seat.
    renewed = make_certificate(tmp_path / "renewed", key=tls_hub.certificate.private_key)
    await tls_hub.restart_with(renewed)
    await _connected_once(pinned)


async def test_a_hub_with_another_key_is_refused_before_the_websocket_and_never_retried(
    tls_hub: TlsHub, tmp_path: Path
) -> None:
    identity = init_state_dir(
        tmp_path / "seat", seat_id="DL.DL-02", hub_url=tls_hub.url, hub_id=HUB_ID
    )
    await enroll(identity)
    pinned = load_identity(identity.state_dir)
    await _approve(tls_hub.db, pinned)
    expected = tls_hub.certificate.pin

    # Somebody else now answers at the hub's address, with a key of their own.
    impostor = make_certificate(tmp_path / "impostor")
    await tls_hub.restart_with(impostor)
    tls_hub.requests.clear()
    link, slept = _refused_link(pinned)
    with pytest.raises(HubKeyChanged) as refused:
        await asyncio.wait_for(link.run(), 20)
    assert (refused.value.expected, refused.value.seen) == (expected, impostor.pin)
    assert str(refused.value) == (
        f"主场服务器的 TLS 公钥与本终端登记时记录的不一致（记录：{format_pin(expected)}；"
        f"实际：{format_pin(impostor.pin)}）。可能有人冒充主场，也可能主场更换了证书密钥。"
        "本终端已停止连接，请联系主场核实新的公钥指纹，确认无误后执行 seat-agent enroll "
        "--hub-pin <新指纹> 重新记录"
    )
    # No retry storm: not one back-off sleep; and the impostor never got a websocket request.
    assert slept == []
    assert link.connections == 0
    assert tls_hub.requests == []

    # Enrolling again against the impostor is refused the same way, and records nothing.
    with pytest.raises(HubKeyChanged):
        await enroll(pinned)
    assert load_identity(identity.state_dir).hub_pin == expected


async def test_a_pin_given_at_init_is_checked_on_the_first_enrolment(
    tls_hub: TlsHub, tmp_path: Path
) -> None:
    wrong = make_certificate(tmp_path / "other").pin
    identity = init_state_dir(
        tmp_path / "seat", seat_id="DL.DL-03", hub_url=tls_hub.url, hub_id=HUB_ID, hub_pin=wrong
    )
    with pytest.raises(HubKeyChanged):
        await enroll(identity)
    assert await _enrolments(tls_hub.db) == []
    right = init_state_dir(
        tmp_path / "seat2",
        seat_id="DL.DL-03",
        hub_url=tls_hub.url,
        hub_id=HUB_ID,
        hub_pin=tls_hub.certificate.pin,
    )
    assert await enroll(right) == right.enrolment_code
