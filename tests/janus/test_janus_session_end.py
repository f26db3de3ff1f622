"""A session's Janus room goes when the session ends (``sessions.states.LIVE_ENDED``): every hub
process hears the move; the one holding the room's publishers and viewers lets them go, and
Janus destroys the room for exactly one of the processes (the others find it gone). Publishing
into it is refused afterwards, by the hub and by Janus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from evaluation_hub.api.keys import SERVICES
from evaluation_hub.audit.store import load_chain
from evaluation_hub.bus.memory import MemoryBus
from evaluation_hub.db.engine import Database
from evaluation_hub.evaluation.package import start_evaluation_in
from evaluation_hub.live import janus_ends
from evaluation_hub.live.janus_plane import JanusPlane
from evaluation_hub.live.janus_rooms import JanusSettings, room_for
from evaluation_hub.live.publishing import ended_sessions
from evaluation_hub.live.status import MediaRefused
from evaluation_hub.principal import Principal
from evaluation_hub.sessions import store
from media.errors import JanusRefused
from media.janus import videoroom
from media.janus.client import JanusSession
from tests.conftest import FakeClock
from tests.janus.conftest import JanusViewer, plane
from tests.live.conftest import Rig, eventually
from tests.support.janus_server import JanusServer
from tests.support.services import services_for

SEAT = "DL.DL-01"


@pytest.fixture
async def admin(janus: JanusServer) -> AsyncIterator[JanusSession]:
    """A Janus session of the test's own, to look at the rooms as Janus sees them."""
    session = await JanusSession.create(janus.url, api_secret=janus.api_secret)
    yield session
    await session.close()


async def exists(admin: JanusSession, room_id: int) -> bool:
    handle = await admin.attach()
    try:
        return await videoroom.room_exists(handle, room_id)
    finally:
        await handle.detach()


async def listed(admin: JanusSession, admin_key: str | None) -> set[int]:
    """The rooms Janus lists (private ones too: asked with the admin key)."""
    handle = await admin.attach()
    try:
        data = await handle.request({"request": "list", "admin_key": admin_key})
    finally:
        await handle.detach()
    return {int(room["room"]) for room in data["list"]}


async def test_an_ended_sessions_room_is_destroyed_and_refuses_publishers(
    rig: Rig,
    clock: FakeClock,
    janus: JanusServer,
    admin: JanusSession,
    janus_viewers: Callable[[], JanusViewer],
) -> None:
    sid = rig.ids["session"]
    await rig.publish("DL-01", "DL")
    await eventually(lambda: plane(rig).status(SEAT).state == "live", "DL-01 is live")
    viewer = janus_viewers()
    await viewer.watch(rig, sid, rig.ids["seats"]["DL-01"], await rig.login("km_supervisor"))
    await eventually(lambda: plane(rig).status(SEAT).viewers == 1, "one subscription")
    assert await exists(admin, sid)
    assert sid in await listed(admin, janus.admin_key)

    # The host cancels the session (any move into LIVE_ENDED does): the hub hears it on the bus.
    host = Principal("km_operator", "host_operator", rig.ids["venues"]["KM"])
    await store.act(
        rig.app[SERVICES], host, sid, "cancel", reason="招标人决定终止招标",
        now=clock(), start=start_evaluation_in,
    )  # fmt: skip
    await eventually(lambda: plane(rig).status(SEAT).state == "offline", "DL-01 left the room")
    await eventually(lambda: plane(rig).status(SEAT).viewers == 0, "its viewer closed")
    for _ in range(100):
        if not await exists(admin, sid):
            break
        await asyncio.sleep(0.05)
    assert not await exists(admin, sid)
    assert sid not in await listed(admin, janus.admin_key)
    for _ in range(100):  # audited in a task of its own
        async with rig.db.read() as s:
            closed = [e.payload for e in await load_chain(s) if e.kind == "live.viewer_closed"]
        if closed:
            break
        await asyncio.sleep(0.05)
    assert closed == [{"viewer_id": viewer.viewer_id, "reason": "session-ended"}]

    # Another hub process hears the same move: the room is gone, nothing to do.
    assert await plane(rig).end_session(sid) is False

    # The seat's offers are refused by the hub (its session is over) ...
    with pytest.raises(MediaRefused) as refused:
        await plane(rig).publish(SEAT, "offer-after-end", "v=0\r\n")
    assert (refused.value.code, refused.value.detail, refused.value.status) == (
        "seat-not-in-session",
        "该工位当前不属于任何评标会，暂不接收音视频推送",
        409,
    )
    # ... this process never makes the room again ...
    with pytest.raises(MediaRefused) as refused:
        await plane(rig).subscribe(sid, SEAT, "km_supervisor")
    assert (refused.value.code, refused.value.detail, refused.value.status) == (
        "session-ended",
        "该评标会已结束，其音视频房间已关闭",
        409,
    )
    assert not await exists(admin, sid)
    # ... and by Janus, to whoever holds the room's PIN.
    room = room_for(sid, plane(rig).settings.room_key)
    handle = await admin.attach()
    with pytest.raises(JanusRefused) as by_janus:
        await handle.message(
            {"request": "joinandconfigure", "ptype": "publisher", "room": room.id}
            | {"pin": room.pin, "display": SEAT}
        )
    assert (by_janus.value.code, by_janus.value.reason) == (426, f"No such room ({sid})")


async def test_of_the_processes_hearing_the_end_exactly_one_destroys_the_room(
    janus: JanusServer, admin: JanusSession
) -> None:
    settings = JanusSettings(
        urls=(janus.url,),
        api_secret=janus.api_secret,
        admin_key=janus.admin_key,
        room_key=b"k" * 40,
    )

    async def in_session(seat_key: str) -> int | None:
        return 9_101

    planes = [JanusPlane(MemoryBus(), settings, session_of=in_session) for _ in range(3)]
    try:
        for one in planes:
            await one._room(9_101)  # each made sure of the room, as a publishing process does
        assert await exists(admin, 9_101)
        destroyed = await asyncio.gather(*(one.end_session(9_101) for one in planes))
        assert sorted(destroyed) == [False, False, True]
        assert not await exists(admin, 9_101)
        # Heard again (a repeated move, a late process): nothing left to destroy.
        assert await planes[0].end_session(9_101) is False
        # A session whose room nobody made ends quietly too.
        assert await planes[1].end_session(9_102) is False
    finally:
        for one in planes:
            await one.close()


async def test_a_room_whose_sessions_end_went_unheard_is_swept_when_a_hub_starts(
    rig: Rig, clock: FakeClock, admin: JanusSession
) -> None:
    sid = rig.ids["session"]
    await plane(rig)._room(sid)  # the room a seat's publication made
    # The session is cancelled by a hub process whose move nobody hears (no bus).
    elsewhere = Database(rig.db.url)
    try:
        host = Principal("km_operator", "host_operator", rig.ids["venues"]["KM"])
        await store.act(
            services_for(elsewhere), host, sid, "cancel", reason="招标人决定终止招标",
            now=clock(), start=start_evaluation_in,
        )  # fmt: skip
    finally:
        await elsewhere.dispose()
    await asyncio.sleep(0.2)
    assert await exists(admin, sid)  # nobody heard it

    services = rig.app[SERVICES]

    async def ended(session_ids: list[int]) -> list[int]:
        return await ended_sessions(services, session_ids)

    # A hub process starting (``api.live``) sweeps: the ended session's room goes, only it.
    other = 9_103
    await plane(rig)._room(other)  # a room of no session of this hub's: left alone
    assert await janus_ends.sweep(plane(rig), ended) == [sid]
    assert not await exists(admin, sid)
    assert await exists(admin, other)
    assert await janus_ends.sweep(plane(rig), ended) == []
    await plane(rig).end_session(other)
