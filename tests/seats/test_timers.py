"""The handler's asyncio timer drives the machine's deadlines: a silent peer is closed.

Timings are short so the tests are quick; they only wait for the close, so a slow machine
makes them slower, never wrong."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from evaluation_hub.db.engine import Database
from seat_agent.keys import SeatIdentity
from seat_protocol.auth import sign_challenge
from seat_protocol.hub_side import Timing
from seat_protocol.messages import b64, unb64
from tests.seats.conftest import HUB_ID, HubUnderTest, enrol_approved

# The handshake deadline is long on purpose in the heartbeat test: the timer must wake for the
# first ping after the handshake, not sleep until the handshake deadline it computed first.
HEARTBEAT = Timing(heartbeat_interval=0.05, heartbeat_timeout=0.2, handshake_timeout=30.0)
HANDSHAKE = Timing(handshake_timeout=0.2)


@pytest.fixture
async def quick_hub(db: Database) -> AsyncIterator[HubUnderTest]:
    under_test = HubUnderTest(db, timing=HEARTBEAT)
    await under_test.start()
    yield under_test
    await under_test.stop()


@pytest.fixture
async def impatient_hub(db: Database) -> AsyncIterator[HubUnderTest]:
    under_test = HubUnderTest(db, timing=HANDSHAKE)
    await under_test.start()
    yield under_test
    await under_test.stop()


async def test_no_handshake_is_closed_with_4010(impatient_hub: HubUnderTest) -> None:
    async with connect(impatient_hub.url, proxy=None, ping_interval=None) as ws:
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert (ws.close_code, ws.close_reason) == (
        4010,
        "handshake timeout: no handshake within 0.2 s",
    )


async def test_hub_pings_then_closes_a_silent_seat_with_4008(
    quick_hub: HubUnderTest, make_identity: Callable[..., SeatIdentity]
) -> None:
    identity = make_identity("DL.DL-01")
    await enrol_approved(quick_hub.db, identity)
    received: list[dict[str, object]] = []
    async with connect(quick_hub.url, proxy=None, ping_interval=None) as ws:
        hello = {"type": "hello", "protocol_version": 1, "seat_id": "DL.DL-01", "agent": "t"}
        await ws.send(json.dumps(hello))
        challenge = json.loads(await ws.recv())
        signature = sign_challenge(identity.ed25519, unb64(challenge["nonce"]), "DL.DL-01", HUB_ID)
        await ws.send(json.dumps({"type": "auth", "signature": b64(signature), "last_received": 0}))
        await ws.send(json.dumps({"type": "resume", "resume_after": 0}))
        with pytest.raises(ConnectionClosed):
            while True:
                received.append(json.loads(await ws.recv()))
    assert received[0]["type"] == "welcome"
    assert {"type": "ping", "id": 1} in received  # the timer sent heartbeats
    assert (ws.close_code, ws.close_reason) == (
        4008,
        "heartbeat timeout: nothing received for 0.2 s",
    )
