"""Seat enrolment requests are bounded: per client address, per seat, and one pending request per
seat; each refusal comes before the request is read, with a close code and reason the terminal
prints. Real seat websockets on loopback; limits are small here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from evaluation_hub.api.keys import SERVICES
from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from evaluation_hub.db.seat_terminals import SeatEnrolment
from evaluation_hub.seats.enrolment_admin import revoke_request
from evaluation_hub.throttling import EnrolmentPolicy, Limit
from seat_agent.connection import enroll
from seat_agent.errors import HubRefused
from seat_agent.keys import SeatIdentity, init_state_dir
from seat_protocol.messages import SUBPROTOCOL, Enroll, b64, encode
from tests.seats.conftest import DL_ADMIN, HUB_ID, NOW, HubUnderTest, db, hub

__all__ = ["db", "hub"]

POLICY = EnrolmentPolicy(
    per_address=Limit(5, timedelta(minutes=10), timedelta(minutes=10)),
    per_seat=Limit(2, timedelta(hours=1), timedelta(hours=1)),
)
SEATS = ["DL.DL-01", "DL.DL-02", "DL.DL-03", "HH.HH-01", "HH.HH-02", "HH.HH-03"]


@pytest.fixture
def limited(hub: HubUnderTest) -> HubUnderTest:
    assert hub.server is not None
    services = hub.server.app[SERVICES]
    services.config = dataclasses.replace(services.config, enrolment=POLICY)
    return hub


def _terminal(tmp_path: Path, hub: HubUnderTest, seat_id: str, name: str) -> SeatIdentity:
    return init_state_dir(tmp_path / name, seat_id=seat_id, hub_url=hub.url, hub_id=HUB_ID)


async def _raw_enroll(hub: HubUnderTest, identity: SeatIdentity, source: str) -> tuple[int, str]:
    """An ``enroll`` from the loopback address ``source``; the close code and reason."""
    frame = encode(
        Enroll(
            seat_id=identity.seat_id,
            ed25519_public_key=b64(identity.ed25519_public),
            x25519_public_key=b64(identity.x25519_public),
            enrolment_code=identity.enrolment_code,
        )
    )
    async with connect(
        hub.url, subprotocols=[Subprotocol(SUBPROTOCOL)], local_addr=(source, 0)
    ) as ws:
        await ws.send(frame)
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                pass
    assert ws.close_code is not None
    return ws.close_code, ws.close_reason or ""


async def _rows(db: Database) -> list[tuple[str, str]]:
    async with db.read() as s:
        found = await s.execute(
            select(SeatEnrolment.seat_key, SeatEnrolment.status).order_by(SeatEnrolment.id)
        )
        return [(k, st) for k, st in found.all()]


async def _lockouts(db: Database) -> list[tuple[str, dict[str, Any]]]:
    async with db.read() as s:
        return [
            (e.subject, e.payload)
            for e in await load_chain(s)
            if e.kind == "seat_enrolment.locked_out"
        ]


async def test_an_enrolment_flood_from_one_address_is_turned_away(
    limited: HubUnderTest, tmp_path: Path
) -> None:
    terminals = [_terminal(tmp_path, limited, seat, f"t{n}") for n, seat in enumerate(SEATS)]
    for terminal in terminals[:5]:
        assert await enroll(terminal) == terminal.enrolment_code
    # The sixth request from the same address, and every one after it, is refused unread.
    for terminal in [terminals[5]] * 20:
        with pytest.raises(HubRefused) as refused:
            await enroll(terminal)
        assert (refused.value.code, refused.value.reason) == (
            4013,
            "too many requests: too many enrolment requests from 127.0.0.1; "
            "retry after 2026-11-30T01:10Z",
        )
    assert await _rows(limited.db) == [(seat, "pending") for seat in SEATS[:5]]
    # One audit event, when the lock began.
    assert await _lockouts(limited.db) == [
        (
            "address:127.0.0.1",
            {
                "rule": "address",
                "address": "127.0.0.1",
                "requests": 5,
                "locked_until": "2026-11-30T01:10:00+00:00",
            },
        )
    ]
    # A terminal at another address is not affected.
    assert await _raw_enroll(limited, terminals[5], "127.0.0.2") == (
        4011,
        "enrolment pending approval: seat 'HH.HH-03' awaits approval",
    )
    assert (SEATS[5], "pending") in await _rows(limited.db)


async def test_one_pending_request_per_seat(limited: HubUnderTest, tmp_path: Path) -> None:
    genuine = _terminal(tmp_path, limited, "DL.DL-01", "genuine")
    other = _terminal(tmp_path, limited, "DL.DL-01", "other")
    assert await enroll(genuine) == genuine.enrolment_code
    with pytest.raises(HubRefused) as refused:
        await enroll(other)
    assert (refused.value.code, refused.value.reason) == (
        4011,
        "enrolment pending approval: seat 'DL.DL-01' already has a request from another "
        "terminal awaiting its venue admin",
    )
    # The first terminal asking again is let through and changes nothing.
    assert await enroll(genuine) == genuine.enrolment_code
    assert await _rows(limited.db) == [("DL.DL-01", "pending")]


async def test_requests_per_seat_are_limited(limited: HubUnderTest, tmp_path: Path) -> None:
    from tests.seats.conftest import services_for

    services = services_for(limited.db)
    for n in range(2):
        terminal = _terminal(tmp_path, limited, "DL.DL-02", f"t{n}")
        await enroll(terminal)
        async with limited.db.read() as s:
            pending = (
                await s.execute(select(SeatEnrolment.id).where(SeatEnrolment.status == "pending"))
            ).scalar_one()
        # The venue admin rejects the request: the seat is free for another one, up to the limit.
        await revoke_request(services, DL_ADMIN, pending, now=NOW)
    third = _terminal(tmp_path, limited, "DL.DL-02", "t2")
    with pytest.raises(HubRefused) as refused:
        await enroll(third)
    assert (refused.value.code, refused.value.reason) == (
        4013,
        "too many requests: too many enrolment requests for seat 'DL.DL-02'; "
        "retry after 2026-11-30T02:00Z",
    )
    assert await _rows(limited.db) == [("DL.DL-02", "revoked")] * 2
    [(subject, payload)] = await _lockouts(limited.db)
    assert (subject, payload["rule"], payload["requests"]) == ("seat:DL.DL-02", "seat", 2)
    assert json.dumps(payload)  # canonical types only
