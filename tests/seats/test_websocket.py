"""The hub's seat websocket over real loopback with the real ``websockets`` client: enrolment
and approval, refusals with their close codes, one live connection per seat, frame limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from evaluation_hub.errors import Conflict, Forbidden, NotFound
from evaluation_hub.seats import enrolment
from seat_agent.connection import SeatLink, enroll, wait_for_approval
from seat_agent.errors import HubRefused
from seat_agent.keys import SeatIdentity
from seat_protocol.events import Connected, Event
from seat_protocol.messages import MAX_MESSAGE_BYTES, SUBPROTOCOL
from tests.seats.conftest import DL_ADMIN, HH_ADMIN, NOW, HubUnderTest, enrol_approved

MakeIdentity = Callable[..., SeatIdentity]


async def _no_sleep(delay: float) -> None:
    await asyncio.sleep(0)


async def _refusal(identity: SeatIdentity) -> HubRefused:
    link = SeatLink(identity, random=lambda: 0.0, sleep=_no_sleep)
    with pytest.raises(HubRefused) as caught:
        await asyncio.wait_for(link.run(), 10)
    assert link.connections == 0
    return caught.value


async def test_enrolment_is_pending_until_the_venue_admin_approves_the_printed_code(
    hub: HubUnderTest, make_identity: MakeIdentity
) -> None:
    identity = make_identity("DL.DL-01")
    assert await enroll(identity) == identity.enrolment_code
    assert await enroll(identity) == identity.enrolment_code  # the same keys again: one row
    [row] = await hub.enrolments()
    assert (row.seat_key, row.status, row.enrolment_code) == (
        "DL.DL-01",
        "pending",
        identity.enrolment_code,
    )
    assert row.x25519_public_key == identity.x25519_public

    pending: list[None] = []
    approved = asyncio.Event()

    async def no_wait(delay: float) -> None:
        # The admin acts while the terminal waits between attempts.
        await asyncio.sleep(0)
        if not approved.is_set():
            with pytest.raises(Forbidden) as wrong_venue:
                await enrolment.approve_enrolment(
                    hub.db, HH_ADMIN, "DL.DL-01", NOW, enrolment_code=identity.enrolment_code
                )
            assert wrong_venue.value.detail == (
                "只有场地「大理州公共资源交易中心」的管理员可以管理场地「大理州公共资源交易中心」，"
                "当前用户 hh_admin（场地管理员）无此权限"
            )
            with pytest.raises(Conflict) as wrong_code:
                await enrolment.approve_enrolment(
                    hub.db, DL_ADMIN, "DL.DL-01", NOW, enrolment_code="AAAA-AAAA"
                )
            assert wrong_code.value.detail == (
                "工位「DL.DL-01」没有登记码为 AAAA-AAAA 的待审批登记申请，请核对终端上显示的登记码"
            )
            await enrolment.approve_enrolment(
                hub.db, DL_ADMIN, "DL.DL-01", NOW, enrolment_code=identity.enrolment_code
            )
            approved.set()

    await asyncio.wait_for(
        wait_for_approval(identity, sleep=no_wait, on_pending=lambda: pending.append(None)), 10
    )
    assert len(pending) == 1  # refused once with 4011, then admitted
    [row] = await hub.enrolments()
    assert (row.status, row.decided_by, row.decided_at) == ("approved", "dl_admin", NOW)


async def test_enrolment_for_a_seat_not_in_the_directory_is_not_recorded(
    hub: HubUnderTest, make_identity: MakeIdentity
) -> None:
    # Refused before the request is read: the terminal is told, not left waiting for nothing.
    with pytest.raises(HubRefused) as refused:
        await enroll(make_identity("DL.DL-99"))
    assert (refused.value.code, refused.value.reason) == (
        4004,
        "unknown seat: seat 'DL.DL-99' is not in the seat directory",
    )
    assert await hub.enrolments() == []
    with pytest.raises(NotFound) as caught:
        await enrolment.approve_enrolment(hub.db, DL_ADMIN, "DL.DL-99", NOW, enrolment_code="X")
    assert caught.value.detail == "工位「DL.DL-99」不存在，请核对场地代码和工位编号"


async def test_pending_seat_is_refused_with_4011_and_retries(
    hub: HubUnderTest, make_identity: MakeIdentity
) -> None:
    identity = make_identity("DL.DL-01")
    await enroll(identity)
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 3:
            raise asyncio.CancelledError

    link = SeatLink(identity, random=lambda: 0.5, sleep=sleep, backoff_base=1.0)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(link.run(), 10)
    # Full jitter: half of 1, 2, 4 seconds with random() fixed at 0.5.
    assert delays == [0.5, 1.0, 2.0]


async def test_unknown_seat_is_refused_with_4004(
    hub: HubUnderTest, make_identity: MakeIdentity
) -> None:
    refusal = await _refusal(make_identity("DL.DL-02"))
    assert (refusal.code, refusal.reason) == (
        4004,
        "unknown seat: seat 'DL.DL-02' is not enrolled",
    )


async def test_forged_signature_is_refused_with_4003(
    hub: HubUnderTest, make_identity: MakeIdentity
) -> None:
    genuine = make_identity("DL.DL-01")
    await enrol_approved(hub.db, genuine)
    impostor = make_identity("DL.DL-01", "impostor")  # same seat id, keys never enrolled
    refusal = await _refusal(impostor)
    assert (refusal.code, refusal.reason) == (
        4003,
        "authentication failed: signature does not verify for seat 'DL.DL-01'",
    )


async def test_revoked_seat_is_refused_with_4005(
    hub: HubUnderTest, make_identity: MakeIdentity
) -> None:
    identity = make_identity("DL.DL-01")
    await enrol_approved(hub.db, identity)
    await enrolment.revoke_seat(hub.db, DL_ADMIN, "DL.DL-01", NOW)
    refusal = await _refusal(identity)
    assert (refusal.code, refusal.reason) == (4005, "seat revoked: seat 'DL.DL-01' was revoked")


async def test_a_newer_connection_replaces_the_older_with_4009(
    hub: HubUnderTest, make_identity: MakeIdentity
) -> None:
    identity = make_identity("DL.DL-01")
    await enrol_approved(hub.db, identity)
    first_open = asyncio.Event()

    async def on_first(event: Event) -> None:
        if isinstance(event, Connected):
            first_open.set()

    first = SeatLink(identity, on_event=on_first, sleep=_no_sleep)
    first_run = asyncio.create_task(first.run())
    await asyncio.wait_for(first_open.wait(), 10)

    second_open = asyncio.Event()

    async def on_second(event: Event) -> None:
        if isinstance(event, Connected):
            second_open.set()

    second = SeatLink(identity, on_event=on_second, sleep=_no_sleep)
    second_run = asyncio.create_task(second.run())
    with pytest.raises(HubRefused) as caught:
        await asyncio.wait_for(first_run, 10)
    assert caught.value.code == 4009
    assert caught.value.reason == "replaced by a newer connection"
    await asyncio.wait_for(second_open.wait(), 10)
    second_run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second_run


async def test_binary_frame_is_refused_with_4001(hub: HubUnderTest) -> None:
    async with connect(hub.url, proxy=None, ping_interval=None) as ws:
        await ws.send(b"\x00\x01")
        # Before hello, like every refusal before the connection opens: refused, then close.
        assert json.loads(await ws.recv()) == {
            "type": "refused",
            "code": 4001,
            "reason": "protocol error: a seat sends no binary frames",
        }
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_reason == "protocol error: a seat sends no binary frames"
    assert ws.close_code == 4001


async def test_oversized_frame_is_refused_with_4006(hub: HubUnderTest) -> None:
    async with connect(hub.url, proxy=None, ping_interval=None, max_size=None) as ws:
        await ws.send("x" * (MAX_MESSAGE_BYTES + 1))
        with pytest.raises(ConnectionClosed):
            while True:
                await ws.recv()
    assert ws.close_code == 4006
    assert ws.close_reason == (
        f"message too big: message is {MAX_MESSAGE_BYTES + 1} bytes, the limit is "
        f"{MAX_MESSAGE_BYTES}"
    )


async def test_malformed_hello_is_refused_with_4001(hub: HubUnderTest) -> None:
    async with connect(hub.url, proxy=None, ping_interval=None) as ws:
        await ws.send('{"type": "hello", "protocol_version": 1}')
        refused = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert refused["code"] == 4001
    assert refused["reason"] == "protocol error: hello message is missing field 'seat_id'"
    assert ws.close_code == 4001


async def test_the_hub_declines_compression_even_when_a_client_offers_it(hub: HubUnderTest) -> None:
    # Chunks are ciphertext: deflating them would cost the hub's CPU and gain nothing.
    async with connect(
        hub.url, subprotocols=[Subprotocol(SUBPROTOCOL)], compression="deflate"
    ) as ws:
        assert ws.response is not None
        assert ws.subprotocol == SUBPROTOCOL
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
