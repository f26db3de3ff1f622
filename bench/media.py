"""Benchmark: hub CPU per viewer-stream, encoded forwarding against MediaRelay + encode.

P seats publish the 640×480 test pattern (VP8) at 15 fps; V viewers watch each seat. Three
processes on loopback: the publishers, the hub, the viewers, so the hub's CPU
(``time.process_time`` of its process, all threads) is measured alone. For each hub mode,
the hub also runs with no viewers, and a viewer-stream's marginal cost is
(CPU with viewers − CPU without) / (P × V):

- ``forward``: ``media.forwarding`` (no decode, one packetisation per viewer);
- ``relay``: aiortc's ``MediaRelay`` (unbuffered) with one VP8 encode per viewer.

Printed per mode: hub CPU, delivered frame rate per viewer (mean and worst), and
glass-to-glass latency p50/p95 read from the timestamps drawn into the frames.

    .venv/bin/python bench/media.py --seats 4 --viewers 3 --seconds 8

Figures, not a pass/fail test. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# This file is bench/media.py: keep it from shadowing the media package.
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

from aiortc import (  # noqa: E402
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaBlackhole, MediaRelay  # noqa: E402

from media.forwarding import PublisherForwarder, accept_publisher, add_viewer  # noqa: E402
from media.loopback import loopback_candidates  # noqa: E402
from media.testpattern import TestPatternTrack, read_timestamp, wall_clock_us  # noqa: E402

FPS = 15


class Pipe:
    """Blocking pipe reads on a thread of their own, not on aiortc's encoder executor."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._reader = concurrent.futures.ThreadPoolExecutor(1)

    async def recv(self) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._reader, self.conn.recv)

    def send(self, message: Any) -> None:
        self.conn.send(message)


def sdp(pc: RTCPeerConnection) -> tuple[str, str]:
    return (pc.localDescription.sdp, pc.localDescription.type)


async def answer(pc: RTCPeerConnection, offer: tuple[str, str]) -> tuple[str, str]:
    await pc.setRemoteDescription(RTCSessionDescription(*offer))
    await pc.setLocalDescription(await pc.createAnswer())
    return sdp(pc)


def prefer_vp8(transceiver: Any) -> None:
    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences(
        [c for c in codecs if c.mimeType.lower() == "video/vp8" or c.name.lower() == "rtx"]
    )


# --- processes -------------------------------------------------------------------------------


async def publishers(pipe: Pipe, seats: int) -> None:
    pcs = []
    for _ in range(seats):
        pc = RTCPeerConnection()
        prefer_vp8(pc.addTransceiver(TestPatternTrack(fps=FPS), direction="sendonly"))
        await pc.setLocalDescription(await pc.createOffer())
        pcs.append(pc)
    pipe.send([sdp(pc) for pc in pcs])
    answers = await pipe.recv()
    for pc, reply in zip(pcs, answers, strict=True):
        await pc.setRemoteDescription(RTCSessionDescription(*reply))
    await pipe.recv()  # close
    for pc in pcs:
        await pc.close()


async def hub(pipe: Pipe, mode: str, viewers: int) -> None:
    offers = await pipe.recv()
    pcs: list[RTCPeerConnection] = []
    forwarders: list[PublisherForwarder] = []
    sources: list[MediaStreamTrack] = []
    relay = MediaRelay()
    sink = MediaBlackhole()
    replies = []
    for offer in offers:
        pc = RTCPeerConnection()
        pcs.append(pc)
        if mode == "forward":
            forwarder = PublisherForwarder()
            forwarders.append(forwarder)
            accept_publisher(pc, forwarder.by_kind())
        else:
            pc.on("track", sources.append)
        replies.append(await answer(pc, offer))
    pipe.send(replies)
    if mode == "relay" and viewers == 0:
        # Nobody else drains the decoded frames: keep the receivers' queues empty.
        for source in sources:
            sink.addTrack(source)
        await sink.start()

    viewer_pcs = []
    for seat in range(len(offers)):
        for _ in range(viewers):
            pc = RTCPeerConnection()
            if mode == "forward":
                add_viewer(pc, forwarders[seat].video)
            else:
                track = relay.subscribe(sources[seat], buffered=False)
                prefer_vp8(pc.addTransceiver(track, direction="sendonly"))
            await pc.setLocalDescription(await pc.createOffer())
            viewer_pcs.append(pc)
    pipe.send([sdp(pc) for pc in viewer_pcs])
    for pc, reply in zip(viewer_pcs, await pipe.recv(), strict=True):
        await pc.setRemoteDescription(RTCSessionDescription(*reply))

    await pipe.recv()  # start
    cpu, wall = time.process_time(), time.monotonic()
    await pipe.recv()  # stop
    pipe.send((time.process_time() - cpu, time.monotonic() - wall))
    await pipe.recv()  # close
    await sink.stop()
    for forwarder in forwarders:
        await forwarder.close()
    for pc in viewer_pcs + pcs:
        await pc.close()


async def watchers(pipe: Pipe) -> None:
    offers = await pipe.recv()
    measuring = False
    frames = [0] * len(offers)
    latencies: list[list[float]] = [[] for _ in offers]
    pcs, replies, tasks = [], [], []

    async def consume(index: int, track: MediaStreamTrack) -> None:
        while True:
            frame = await track.recv()
            if measuring:
                frames[index] += 1
                stamp = read_timestamp(frame)  # type: ignore[arg-type]
                if stamp is not None:
                    latencies[index].append((wall_clock_us() - stamp) / 1000)

    for index, offer in enumerate(offers):
        pc = RTCPeerConnection()

        def on_track(track: MediaStreamTrack, index: int = index) -> None:
            tasks.append(asyncio.ensure_future(consume(index, track)))

        pc.on("track", on_track)
        replies.append(await answer(pc, offer))
        pcs.append(pc)
    pipe.send(replies)
    await pipe.recv()  # start
    measuring = True
    await pipe.recv()  # stop
    measuring = False
    pipe.send((frames, latencies))
    await pipe.recv()  # close
    for task in tasks:
        task.cancel()
    for pc in pcs:
        await pc.close()


def run(role: str, conn: Connection, *args: Any) -> None:
    with loopback_candidates():
        pipe = Pipe(conn)
        if role == "publishers":
            asyncio.run(publishers(pipe, *args))
        elif role == "hub":
            asyncio.run(hub(pipe, *args))
        else:
            asyncio.run(watchers(pipe))


# --- orchestration ---------------------------------------------------------------------------


def trial(mode: str, seats: int, viewers: int, warmup: float, seconds: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    ends = {role: ctx.Pipe() for role in ("publishers", "hub", "watchers")}
    extra = {"publishers": (seats,), "hub": (mode, viewers), "watchers": ()}
    procs = [
        ctx.Process(target=run, args=(role, ends[role][1], *extra[role]), daemon=True)
        for role in ends
    ]
    for proc in procs:
        proc.start()
    pub, hub_, view = (ends[role][0] for role in ("publishers", "hub", "watchers"))
    hub_.send(pub.recv())
    pub.send(hub_.recv())
    view.send(hub_.recv())
    hub_.send(view.recv())
    time.sleep(warmup)
    for conn in (hub_, view):
        conn.send("start")
    time.sleep(seconds)
    for conn in (hub_, view):
        conn.send("stop")
    cpu, wall = hub_.recv()
    frames, latencies = view.recv()
    for conn in (pub, hub_, view):
        conn.send("close")
    for proc in procs:
        proc.join(30)
        if proc.is_alive():
            proc.terminate()
    fps = [count / wall for count in frames]
    every = sorted(x for per in latencies for x in per)
    return {
        "cpu": cpu / wall,  # cores busy
        "fps_mean": statistics.fmean(fps) if fps else None,
        "fps_min": min(fps) if fps else None,
        "p50": every[len(every) // 2] if every else None,
        "p95": every[int(len(every) * 0.95)] if every else None,
    }


def show(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=4)
    parser.add_argument("--viewers", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--modes", default="forward,relay")
    args = parser.parse_args()
    streams = args.seats * args.viewers
    print(
        f"{args.seats} seats × {args.viewers} viewers, 640×480 VP8 at {FPS} fps, "
        f"{args.seconds:g} s measured after {args.warmup:g} s"
    )
    print(
        f"{'mode':8} {'hub CPU idle':>12} {'hub CPU':>8} {'per viewer-stream':>18} "
        f"{'fps mean':>8} {'fps min':>8} {'p50 ms':>7} {'p95 ms':>7}"
    )
    marginal = {}
    for mode in args.modes.split(","):
        idle = trial(mode, args.seats, 0, args.warmup, args.seconds)
        busy = trial(mode, args.seats, args.viewers, args.warmup, args.seconds)
        marginal[mode] = (busy["cpu"] - idle["cpu"]) / streams
        print(
            f"{mode:8} {idle['cpu'] * 100:11.1f}% {busy['cpu'] * 100:7.1f}% "
            f"{marginal[mode] * 100:17.2f}% {show(busy['fps_mean'], '8.1f')} "
            f"{show(busy['fps_min'], '8.1f')} {show(busy['p50'], '7.0f')} "
            f"{show(busy['p95'], '7.0f')}"
        )
    if "forward" in marginal and "relay" in marginal and marginal["relay"] > 0:
        print(
            "forward / relay CPU per viewer-stream: "
            f"{marginal['forward'] / marginal['relay'] * 100:.1f}%"
        )
    print("(CPU in % of one core; per viewer-stream = (with viewers - without) / (P×V))")


if __name__ == "__main__":
    main()
