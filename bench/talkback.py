"""Benchmark: talk-back's mouth-to-ear delay, a seat on the speaker's hub process against a seat
on another process (relayed over the Redis bus), with the built-in and the Janus media backends.

For each backend two ``evaluation-hub serve`` processes (A and B) share a PostgreSQL database
and a Redis server of their own (the Janus backend also a real Janus, Debian's package); the
session is seated and in check-in (``tests.faults.harness``, no seat agent processes). In this
process two seats listen for talk-back (``seat_agent.talkback.TalkbackReceiver`` over a real
seat link), one linked to A, one to B, and a speaker (an aiortc peer, as the wall's browser is)
opens push-to-talk turns through A's HTTP API: toward the seat on A (``same``: the hub decodes
the speaker's audio and re-encodes it for the seat) or toward the seat on B (``relayed``: A
forwards the turn to B over a WebRTC leg it negotiates through the bus, B re-encodes for the
seat). With ``--publishers`` a seat agent process per backend publishes the test pattern, so
each backend's media plane (the hub's forwarder and recorder, or Janus) is busy meanwhile.

The speaker sends silence in 20 ms frames, paced in real time, and at known moments a tone
burst (``--burst-ms``); the delay of a burst is from the moment its first frame is handed to
the speaker's encoder to the moment the seat's receiver decodes the first frame that is not
silence (``seat_agent.talkback.voiced``). Both ends are in this process, on one monotonic
clock; the next burst waits until the seat has heard silence again. The baseline (``no hub /
direct``) is the same speaker straight to an aiortc receiver in this process: one Opus encode
and decode and aiortc's jitter buffer, what any WebRTC path costs. The variants are
interleaved: each round opens one turn per variant in turn (order rotated every round) and
measures ``--per-turn`` bursts in it, so contention hits them alike. Turn set-up (the offer,
ICE, the relay leg) is not in the figure: it is the delay while the supervisor speaks.

    .venv/bin/python bench/talkback.py                         # 3 rounds x 5 bursts per variant
    .venv/bin/python bench/talkback.py --rounds 6 --backends builtin

Figures, not a pass/fail test; everything on this machine's own addresses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import fractions
import math
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

# This file is in bench/, beside bench/media.py: keep that from shadowing the media package.
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

import aiohttp  # noqa: E402
import numpy as np  # noqa: E402
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402
from av import AudioFrame  # noqa: E402

from bench.media import percentile  # noqa: E402
from bench.scale_report import machine  # noqa: E402
from evaluation_hub.audit.keys import load_or_create_private_key  # noqa: E402
from seat_agent.connection import SeatLink  # noqa: E402
from seat_agent.keys import load_identity  # noqa: E402
from seat_agent.talkback import TalkbackReceiver, voiced  # noqa: E402
from tests.e2e.conftest import until  # noqa: E402
from tests.e2e.test_evaluation_processes import SEATS, _login  # noqa: E402
from tests.faults.harness import Evaluation, HubServe, prepared_database  # noqa: E402
from tests.faults.nginx_rig import NamedHub  # noqa: E402
from tests.support.janus_server import janus_server  # noqa: E402
from tests.support.postgres_server import PostgresServer, postgres_server  # noqa: E402
from tests.support.redis_server import redis_server  # noqa: E402

RATE = 48_000
FRAME = RATE // 50  # 20 ms
#: the seats listening: one linked to hub A (the speaker's), one to hub B
SAME, RELAYED = "E01", "E03"
#: a seat agent process publishing the test pattern (with --publishers)
PUBLISHING = "E05"


class MarkerTrack(MediaStreamTrack):
    """A microphone stand-in: silence in real-time 20 ms frames, a tone burst on request; when
    the burst's first frame went to the encoder (``sent_at``, monotonic)."""

    kind = "audio"

    def __init__(self, burst_frames: int) -> None:
        super().__init__()
        self._burst_frames = burst_frames
        self._left = 0
        self._n = 0
        self._start: float | None = None
        self.sent_at: float | None = None
        t = np.arange(FRAME) / RATE
        self._tone = (np.sin(2 * math.pi * 440.0 * t) * 10_000).astype(np.int16).reshape(1, -1)
        self._silence = np.zeros((1, FRAME), dtype=np.int16)

    def burst(self) -> None:
        self._left, self.sent_at = self._burst_frames, None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._n * 0.02 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        samples = self._silence
        if self._left:
            samples = self._tone
            if self._left == self._burst_frames:
                self.sent_at = time.monotonic()
            self._left -= 1
        frame = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._n * FRAME
        frame.time_base = fractions.Fraction(1, RATE)
        self._n += 1
        return frame


class Ear:
    """What a seat's receiver decodes: when the first voiced frame after silence came, and how
    many silent frames in a row it has had since the last voiced one."""

    def __init__(self) -> None:
        self.heard_at: float | None = None
        self.quiet = 0

    def __call__(self, loud: bool) -> None:
        if loud:
            if self.heard_at is None:
                self.heard_at = time.monotonic()
            self.quiet = 0
        else:
            self.quiet += 1


@dataclasses.dataclass
class Seat:
    key: str
    seat_id: int
    receiver: TalkbackReceiver
    ear: Ear
    task: asyncio.Task[None]


@dataclasses.dataclass
class Backend:
    name: str
    run: Evaluation
    hubs: tuple[HubServe, HubServe]
    seats: dict[str, Seat]  # by route: same, relayed
    headers: dict[str, str]
    http: aiohttp.ClientSession


@contextlib.asynccontextmanager
async def backend(
    name: str, pg: PostgresServer, root: Path, publishers: bool
) -> AsyncIterator[Backend]:
    env: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(redis_server())
        if name == "janus":
            janus = stack.enter_context(janus_server())
            env = {
                "EVALHUB_MEDIA_BACKEND": "janus",
                "EVALHUB_JANUS_URLS": janus.url,
                "EVALHUB_JANUS_API_SECRET": janus.api_secret,
                "EVALHUB_JANUS_ADMIN_KEY": janus.admin_key,
            }
        url = pg.create_database(f"talkback_{name}")
        ids = await prepared_database(url)
        folder = root / name
        folder.mkdir()
        a, b = (NamedHub(url, folder, redis_url=redis.url, name=n, env=dict(env)) for n in "AB")
        run = Evaluation(a, ids, folder, publish=[PUBLISHING] if publishers else [])
        seats: dict[str, Seat] = {}
        try:
            load_or_create_private_key(folder / "hub-key.pem")
            await asyncio.gather(a.start(), b.start())
            await run.prepare(agents=[PUBLISHING] if publishers else [])
            if publishers:

                async def live() -> bool:
                    return await run.live_state(PUBLISHING) == "live"

                await until(live, f"{PUBLISHING}'s seat publishing on {name}")
            async with aiohttp.ClientSession() as http:
                for route, expert, hub in (("same", SAME, a), ("relayed", RELAYED, b)):
                    seats[route] = await _listen(run, expert, hub)
                headers = await _login(http, a.base, "km_supervisor")
                yield Backend(name, run, (a, b), seats, headers, http)
        finally:
            for seat in seats.values():
                seat.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await seat.task
                await seat.receiver.close()
            await run.close()
            for hub in (a, b):
                await hub.kill()


async def _listen(run: Evaluation, expert: str, hub: HubServe) -> Seat:
    """The expert's seat listening for talk-back over a link to ``hub``."""
    identity = dataclasses.replace(
        load_identity(run.seats[expert].state_dir), hub_url=f"ws://127.0.0.1:{hub.port}/ws/seat"
    )
    link = SeatLink(identity, random=lambda: 0.0)
    ear = Ear()
    receiver = TalkbackReceiver(link.send, on_frame=ear)
    link.on_event = receiver.on_event
    task = asyncio.create_task(link.run())

    async def answered() -> bool:
        return receiver.answered >= 1

    await until(answered, f"{identity.seat_id} listening on {hub.base}")
    label = SEATS[expert]
    return Seat(identity.seat_id, int(run.ids["seats"][label]), receiver, ear, task)


async def turn(backend: Backend, route: str, bursts: int, burst_frames: int) -> list[float]:
    """One push-to-talk turn from hub A toward the route's seat: ``bursts`` delays (seconds)."""
    seat = backend.seats[route]
    a = backend.hubs[0]
    track = MarkerTrack(burst_frames)
    pc = RTCPeerConnection()
    pc.addTrack(track)
    await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    offer = {"type": "offer", "sdp": pc.localDescription.sdp, "seat_id": seat.seat_id}
    url = f"{a.base}/api/sessions/{backend.run.sid}/talkback/voice"
    async with backend.http.post(url, json=offer, headers=backend.headers) as resp:
        body: dict[str, Any] = await resp.json()
        if resp.status != 201:
            raise RuntimeError(f"{backend.name}/{route}: {resp.status} {body}")
    try:
        await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "answer"))
        assert body["listening"] == [seat.key], body
        return await measure(track, seat.ear, bursts, f"{backend.name}/{route}")
    finally:
        async with backend.http.delete(
            f"{a.base}/api/talkback/voice/{body['talk_id']}", headers=backend.headers
        ) as resp:
            await resp.read()
        await pc.close()


async def measure(track: MarkerTrack, ear: Ear, bursts: int, what: str) -> list[float]:
    """Send ``bursts`` bursts on ``track``, each once ``ear`` hears silence: their delays."""
    delays: list[float] = []
    for _ in range(bursts):
        # Silence reaches the seat first (the connection is up, the last burst is over).
        ear.quiet = 0
        for _ in range(1000):
            if ear.quiet >= 10:
                break
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError(f"{what}: no silence reaches the seat")
        ear.heard_at = None
        track.burst()
        for _ in range(500):
            if ear.heard_at is not None and track.sent_at is not None:
                break
            await asyncio.sleep(0.005)
        else:
            raise RuntimeError(f"{what}: the burst was not heard")
        delays.append(ear.heard_at - track.sent_at)
    return delays


async def direct(bursts: int, burst_frames: int) -> list[float]:
    """The floor: the same speaker straight to an aiortc receiver in this process, no hub (one
    Opus encode and decode, aiortc's jitter buffer), measured the same way."""
    track, ear = MarkerTrack(burst_frames), Ear()
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    reading: list[asyncio.Task[None]] = []

    async def read(remote: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await remote.recv()
                if isinstance(frame, AudioFrame):
                    ear(voiced(frame))

    @receiver.on("track")
    def on_track(remote: MediaStreamTrack) -> None:
        reading.append(asyncio.ensure_future(read(remote)))

    sender.addTrack(track)
    try:
        await sender.setLocalDescription(await sender.createOffer())
        assert sender.localDescription is not None
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        assert receiver.localDescription is not None
        await sender.setRemoteDescription(receiver.localDescription)
        return await measure(track, ear, bursts, "direct")
    finally:
        for task in reading:
            task.cancel()
        await sender.close()
        await receiver.close()


def row(name: str, delays: list[float]) -> str:
    ms = sorted(d * 1000 for d in delays)
    p50, p95 = statistics.median(ms), percentile(ms, 0.95)
    assert p95 is not None
    return f"| {name} | {len(ms)} | {p50:.0f} | {p95:.0f} | {ms[-1]:.0f} |"


async def main(args: argparse.Namespace) -> None:
    print(f"{machine()}", flush=True)
    variants = [("no hub", "direct")]
    variants += [(b, r) for b in args.backends.split(",") for r in ("same", "relayed")]
    delays: dict[tuple[str, str], list[float]] = {v: [] for v in variants}
    with postgres_server() as pg, tempfile.TemporaryDirectory() as tmp:
        async with contextlib.AsyncExitStack() as stack:
            backends = {
                name: await stack.enter_async_context(backend(name, pg, Path(tmp), args.publishers))
                for name in args.backends.split(",")
            }
            for r in range(args.rounds):
                order = variants[r % len(variants) :] + variants[: r % len(variants)]
                for name, route in order:
                    frames = args.burst_ms // 20
                    delays[(name, route)] += await (
                        direct(args.per_turn, frames)
                        if route == "direct"
                        else turn(backends[name], route, args.per_turn, frames)
                    )
                print(f"round {r + 1}/{args.rounds} done", flush=True)
    print(
        f"\n{args.rounds} rounds x {args.per_turn} bursts of {args.burst_ms} ms per variant, "
        f"interleaved; publishers: {'one seat per backend' if args.publishers else 'none'}"
    )
    print("| backend / route | bursts | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, route in variants:
        print(row(f"{name} / {route}", delays[(name, route)]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="builtin,janus")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-turn", type=int, default=5)
    parser.add_argument("--burst-ms", type=int, default=200)
    parser.add_argument(
        "--publishers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a seat agent process per backend publishing the test pattern (default on)",
    )
    asyncio.run(main(parser.parse_args()))
