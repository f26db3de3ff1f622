"""``bench/scale.py``'s load, in worker processes of their own (``scale.py --seat-worker`` and
``--viewer-worker``) so that no one Python process is the bottleneck and each one's CPU is read
alone.

A **seat worker** opens its share of the seat links (``seat_agent.connection.SeatLink``, as
``bench/control_plane.py`` does: websocket through nginx, challenge-response authentication,
heartbeats) and, on its share of the publishing seats, the seat agent's own publisher
(``seat_agent.publisher.SeatPublisher``: ``media_offer`` over the seat link, relayed by the hub
to Janus) sending the pre-encoded test pattern (``bench/media.py``'s ``ReplayTrack``). On
command it submits score sheets at a steady rate from random links of its own
(``control_plane.submit_steadily``) and reports their submit-to-acknowledge latencies.

A **viewer worker** signs in as its supervisors (through nginx: any hub process), waits until
their session's wall shows each of its seats live, and opens one viewer per seat through the
hub's Janus route (``type: subscribe``: Janus's offer and a one-time token, then the answer
with the token); the viewers count depacketised frames without decoding
(``media.forwarding.TrackForwarder``).

Both take commands on stdin, one a line, and answer each with one ``@@``-prefixed JSON line on
stdout (anything else printed there is ignored by the bench).
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from bench.control_plane import HUB_ID, Seats, raise_fd_limit, submit_steadily
from bench.day import call, login, wait
from bench.media import ReplayTrack
from media.forwarding import TrackForwarder, accept_publisher
from seat_agent.connection import SeatLink
from seat_agent.keys import SeatIdentity
from seat_agent.publisher import SeatPublisher
from seat_protocol.events import Event
from tests.support.janus_server import candidates_on

__all__ = ["seat_worker", "viewer_worker"]

FPS = 15
Command = Callable[[list[str]], Awaitable[Any]]


def reply(value: Any) -> None:
    sys.stdout.write("@@" + json.dumps(value) + "\n")
    sys.stdout.flush()


async def serve_commands(commands: dict[str, Command]) -> None:
    """Answer the bench's commands until ``quit`` (or stdin closes)."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        words = line.split()
        if not words or words[0] == "quit":
            return
        try:
            reply(await commands[words[0]](words[1:]))
        except Exception as exc:  # reported to the bench, which fails the run
            reply({"error": repr(exc)})


# --- seats -------------------------------------------------------------------------------------


async def seat_worker(spec: dict[str, Any]) -> None:
    raise_fd_limit()
    cycle = [base64.b64decode(f) for f in spec["frames"]]
    seats = Seats()
    publishers: list[SeatPublisher] = []
    tasks: list[asyncio.Task[None]] = []
    state = Path(tempfile.mkdtemp(prefix="scale-seats-"))
    no_stun = RTCConfiguration(iceServers=[])
    ramp_failed: list[str] = []

    async def ramp() -> None:
        for n, (seat_key, ed, x, publish) in enumerate(spec["seats"]):
            identity = SeatIdentity(
                seat_key, spec["url"], HUB_ID,
                Ed25519PrivateKey.from_private_bytes(bytes.fromhex(ed)),
                X25519PrivateKey.from_private_bytes(bytes.fromhex(x)), state,
            )  # fmt: skip
            handlers = [seats.handler(seat_key)]

            async def on_event(event: Event, handlers: list[Any] = handlers) -> None:
                for handler in handlers:
                    await handler(event)

            link = SeatLink(identity, on_event=on_event)
            if publish:
                publisher = SeatPublisher(
                    link.send, [ReplayTrack(cycle, FPS)], configuration=no_stun
                )
                publishers.append(publisher)
                handlers.append(publisher.on_event)
            seats.links.append(link)
            tasks.append(asyncio.create_task(link.run()))
            if n % 50 == 49:  # at most about 50 handshakes at a time
                try:
                    await seats.wait_connected(n + 1 - 50, 600)
                except RuntimeError as exc:
                    ramp_failed.append(str(exc))
                    return

    with candidates_on(spec["address"]):
        ramping = asyncio.create_task(ramp())

        async def status(_: list[str]) -> dict[str, Any]:
            return {
                "opened": len(seats.links),
                "connected": len(seats.connected),
                "publishing": sum(p.state == "connected" for p in publishers),
                "offers": sum(p.offers for p in publishers),
                "disconnects": seats.disconnects,
                "failed": ramp_failed,
            }

        async def saves(words: list[str]) -> dict[str, Any]:
            seats.latencies.clear()
            seats.disconnects = 0
            sent = await submit_steadily(seats, float(words[0]), float(words[1]))
            for _ in range(300):  # answers still in flight
                if not seats.sent_at:
                    break
                await asyncio.sleep(0.1)
            return {
                "sent": sent,
                "latencies": seats.latencies,
                "unanswered": len(seats.sent_at),
                "disconnects": seats.disconnects,
            }

        try:
            await serve_commands({"status": status, "saves": saves})
        finally:
            ramping.cancel()
            for publisher in publishers:
                await publisher.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


# --- viewers -----------------------------------------------------------------------------------


class Viewers:
    def __init__(self, base: str) -> None:
        self.base = base
        self.watching: list[tuple[RTCPeerConnection, TrackForwarder]] = []
        self.failed: list[str] = []
        self.marked: tuple[float, list[int]] = (time.monotonic(), [])

    async def watch(
        self, http: aiohttp.ClientSession, session_id: int, supervisor: str, labels: list[str]
    ) -> None:
        """One viewer of each of ``labels`` as ``supervisor``, once the wall shows them live."""
        headers = await login(http, self.base, supervisor)
        wall = f"{self.base}/api/sessions/{session_id}/live/seats"
        rows: dict[str, Any] = {}

        async def all_live() -> bool:
            body = await call(http, "GET", wall, headers)
            rows.update({s["label"]: s for s in body["seats"]})
            return all(rows.get(label, {}).get("state") == "live" for label in labels)

        await wait(all_live, f"session {session_id}: every seat live", limit=600, every=2.0)
        for label in labels:
            opened = await call(
                http, "POST", f"{wall}/{rows[label]['seat_id']}/viewers", headers,
                {"type": "subscribe"}, status=201,
            )  # fmt: skip
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            forwarder = TrackForwarder("video")
            accept_publisher(pc, {"video": forwarder})
            await pc.setRemoteDescription(RTCSessionDescription(opened["sdp"], opened["type"]))
            await pc.setLocalDescription(await pc.createAnswer())
            assert pc.localDescription is not None
            await call(
                http, "POST", f"{self.base}/api/live/viewers/{opened['viewer_id']}/answer",
                headers, {"type": "answer", "sdp": pc.localDescription.sdp,
                          "token": opened["token"]}, status=204,
            )  # fmt: skip
            self.watching.append((pc, forwarder))

    def frames(self) -> list[int]:
        return [f.counters.frames_received for _, f in self.watching]


async def viewer_worker(spec: dict[str, Any]) -> None:
    raise_fd_limit()
    viewers = Viewers(spec["base"])
    with candidates_on(spec["address"]):
        async with aiohttp.ClientSession() as http:
            gate = asyncio.Semaphore(8)

            async def one(session_id: int, supervisor: str, labels: list[str]) -> None:
                async with gate:
                    try:
                        await viewers.watch(http, session_id, supervisor, labels)
                    except Exception as exc:
                        viewers.failed.append(f"{supervisor}: {exc!r}")

            opening = asyncio.gather(*(one(*job) for job in spec["jobs"]))

            async def status(_: list[str]) -> dict[str, Any]:
                frames = viewers.frames()
                return {
                    "opened": len(frames),
                    "receiving": sum(n > 0 for n in frames),
                    "failed": viewers.failed,
                    "done": opening.done(),
                }

            async def mark(_: list[str]) -> dict[str, int]:
                viewers.marked = (time.monotonic(), viewers.frames())
                return {"viewers": len(viewers.marked[1])}

            async def fps(_: list[str]) -> list[float]:
                began, counts = viewers.marked
                seconds = time.monotonic() - began
                now = viewers.frames()
                return [(b - a) / seconds for a, b in zip(counts, now, strict=False)]

            try:
                await serve_commands({"status": status, "mark": mark, "fps": fps})
            finally:
                opening.cancel()
                for pc, forwarder in viewers.watching:
                    await forwarder.close()
                    await pc.close()
