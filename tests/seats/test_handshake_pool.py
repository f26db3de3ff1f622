"""``/ws/seat`` holds no database connection while it waits on the network, and says an
unreachable database in one line.

Under load (``bench/day.py``: 270 seat links on a 10 + 10 pool) a seat link that kept a pooled
connection while it waited for the seat's next frame, or for its answer to the challenge,
would take the pool away from every request. The handshake reads the seat's standing and lets
go before it writes the challenge; a connected seat's link reads and writes in short units of
work between frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable

import pytest
import sqlalchemy.exc
import structlog
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from evaluation_hub.seats import catch_up
from seat_agent.connection import SeatLink
from seat_agent.keys import SeatIdentity
from seat_protocol.events import Connected, Event
from seat_protocol.messages import PROTOCOL_VERSION, SUBPROTOCOL, Hello, encode
from tests.seats.conftest import HubUnderTest, enrol_approved

MakeIdentity = Callable[..., SeatIdentity]


def _checked_out(hub: HubUnderTest) -> int:
    return int(hub.db.engine.pool.checkedout())  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def _connected(identity: SeatIdentity) -> AsyncIterator[None]:
    """The seat's link, from its ``Connected`` until the block ends."""
    connected = asyncio.Event()

    async def on_event(event: Event) -> None:
        if isinstance(event, Connected):
            connected.set()

    running = asyncio.create_task(SeatLink(identity, on_event=on_event).run())
    try:
        await asyncio.wait_for(connected.wait(), 10)
        yield
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_the_hub_waits_for_the_seats_answer_to_its_challenge_without_a_connection(
    hub: HubUnderTest, make_identity: MakeIdentity
) -> None:
    identity = make_identity("DL.DL-01")
    await enrol_approved(hub.db, identity)
    hello = Hello(protocol_version=PROTOCOL_VERSION, seat_id="DL.DL-01", agent="test")
    async with connect(hub.url, subprotocols=[Subprotocol(SUBPROTOCOL)]) as ws:
        await ws.send(encode(hello))
        challenge = json.loads(await ws.recv())
        assert challenge["type"] == "challenge"
        # The hub now waits on the network for the seat's signature.
        await asyncio.sleep(0.05)
        assert _checked_out(hub) == 0


async def test_a_connected_seat_waits_between_frames_without_a_connection(
    hub: HubUnderTest, make_identity: MakeIdentity
) -> None:
    identity = make_identity("DL.DL-01")
    await enrol_approved(hub.db, identity)
    async with _connected(identity):
        await asyncio.sleep(0.05)  # the hub's catch-up for the new link has gone out
        assert _checked_out(hub) == 0


async def test_a_database_out_of_reach_is_a_warning_without_a_traceback(
    hub: HubUnderTest, make_identity: MakeIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool had no connection for the new link's catch-up: an outage, logged as one line
    (a traceback per failure, rendered on the event loop, made a hub under load later still)."""
    identity = make_identity("DL.DL-01")
    await enrol_approved(hub.db, identity)

    async def no_connection(*_args: object, **_kwargs: object) -> list[object]:
        raise sqlalchemy.exc.TimeoutError("QueuePool limit reached (injected)")

    monkeypatch.setattr(catch_up, "seat_connected", no_connection)
    with structlog.testing.capture_logs() as logs:
        async with _connected(identity):
            for _ in range(100):
                if any(e["event"] == "seat.resync_failed" for e in logs):
                    break
                await asyncio.sleep(0.01)
    failed = [e for e in logs if e["event"] == "seat.resync_failed"]
    assert failed == [
        {
            "event": "seat.resync_failed",
            "log_level": "warning",
            "database_unavailable": True,
            "error": "TimeoutError: QueuePool limit reached (injected)",
            "seat_key": "DL.DL-01",
        }
    ]
