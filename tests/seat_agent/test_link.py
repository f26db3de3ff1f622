"""The seat's link shell against a silent hub: its own timer closes with 4008 and it backs off.

The "hub" here answers the handshake by the protocol's rules and then says nothing, as a hub
behind a stalled network path would. Short intervals keep it quick; the test only waits."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from seat_agent.connection import SeatLink
from seat_agent.errors import HubRefused
from seat_agent.keys import init_state_dir
from seat_protocol.events import Connected, Disconnected, Event
from seat_protocol.messages import SUBPROTOCOL, b64


async def _silent_hub(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,))
    await ws.prepare(request)
    await ws.receive()  # hello
    await ws.send_str(json.dumps({"type": "challenge", "hub_id": "hub-x", "nonce": b64(bytes(32))}))
    await ws.receive()  # auth (not checked: this test is about the seat's timer)
    welcome = {
        "type": "welcome",
        "hub_id": "hub-x",
        "heartbeat_interval": 0.05,
        "resume_after": 0,
        "last_received": 0,
    }
    await ws.send_str(json.dumps(welcome))
    async for _ in ws:  # hear the seat's resume and pings, never answer
        pass
    return ws


async def test_seat_closes_a_silent_hub_with_4008_and_backs_off(tmp_path: Path) -> None:
    app = web.Application()
    app.router.add_get("/ws", _silent_hub)
    async with TestServer(app, host="127.0.0.1") as server:
        identity = init_state_dir(
            tmp_path, seat_id="DL.DL-01", hub_url=f"ws://127.0.0.1:{server.port}/ws", hub_id="hub-x"
        )
        events: list[Event] = []
        delays: list[float] = []

        async def on_event(event: Event) -> None:
            events.append(event)

        async def sleep(delay: float) -> None:
            delays.append(delay)
            raise asyncio.CancelledError  # stop after the first close

        link = SeatLink(identity, on_event=on_event, random=lambda: 0.5, sleep=sleep)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(link.run(), 10)
    assert isinstance(events[0], Connected)
    closed = [e for e in events if isinstance(e, Disconnected)]
    assert [(e.code, e.reason, e.permanent) for e in closed] == [
        (4008, "heartbeat timeout: nothing received for 0.15 s", False)
    ]
    assert delays == [0.25]  # reset after the connection opened, then half of the 0.5 s base


async def test_stopping_the_timer_never_swallows_the_links_own_cancellation() -> None:
    # The shape of the hang seen when a test failed right after a hub restart: the link task
    # was cancelled while it waited for its cancelled heartbeat timer, and the old
    # ``suppress(CancelledError)`` around that wait ate the cancellation, so the link
    # reconnected for ever. Here the timer takes a few loop turns to wind down.
    from seat_agent.connection import _cancel_and_wait

    started = asyncio.Event()
    winding_down = asyncio.Event()

    async def timer() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            winding_down.set()
            for _ in range(5):
                await asyncio.sleep(0)

    heartbeat = asyncio.create_task(timer())
    await started.wait()
    ran_on: list[str] = []

    async def link() -> None:
        await _cancel_and_wait(heartbeat)
        ran_on.append("after the wait")

    task = asyncio.create_task(link())
    await winding_down.wait()  # the link now waits for the winding-down timer
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ran_on == []
    await asyncio.wait({heartbeat})  # it finishes winding down on its own, as cancelled
    assert heartbeat.cancelled()


async def test_an_agent_meeting_a_hub_from_before_binary_chunks_speaks_version_2(
    tmp_path: Path,
) -> None:
    """The reverse of the upgrade: a new agent's first hello offers binary chunk framing; a
    hub of version 2 refuses the field it does not know (its exact words); the agent asks
    again at once as a version-2 agent, whose hello that hub reads, and gets JSON chunks."""
    hellos: list[dict[str, object]] = []

    async def old_hub(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,))
        await ws.prepare(request)
        hello = json.loads((await ws.receive()).data)
        hellos.append(hello)
        if "chunk_framings" in hello:
            reason = "protocol error: hello message has unexpected field 'chunk_framings'"
            await ws.send_str(json.dumps({"type": "refused", "code": 4001, "reason": reason}))
            await ws.close(code=4001, message=reason.encode())
        else:
            await ws.close(code=4004, message=b"unknown seat: enough for this test")
        return ws

    app = web.Application()
    app.router.add_get("/ws", old_hub)
    async with TestServer(app, host="127.0.0.1") as server:
        identity = init_state_dir(
            tmp_path, seat_id="DL.DL-01", hub_url=f"ws://127.0.0.1:{server.port}/ws", hub_id="hub-x"
        )
        slept: list[float] = []

        async def sleep(delay: float) -> None:
            slept.append(delay)

        link = SeatLink(identity, sleep=sleep)
        with pytest.raises(HubRefused) as refused:
            await asyncio.wait_for(link.run(), 10)
    assert refused.value.code == 4004
    assert hellos == [
        {"type": "hello", "protocol_version": 3, "seat_id": "DL.DL-01", "agent": "seat-agent",
         "chunk_framings": [1]},
        {"type": "hello", "protocol_version": 2, "seat_id": "DL.DL-01", "agent": "seat-agent"},
    ]  # fmt: skip
    assert slept == []  # no backoff before speaking the older version
    assert (link.protocol_version, link.chunk_framings) == (2, ())
