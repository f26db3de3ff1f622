"""Benchmark: the hub's encoded forwarding against MediaRelay + encode and Janus VideoRoom.

P seats publish the 640×480 test pattern (VP8, 15 fps) and V viewers watch each seat, on
loopback. The harness is kept cheap so that what it measures is the server:

- **Publishers send pre-encoded frames.** A cycle of test-pattern frames (3 s) is encoded
  once with libvpx, each frame drawing its index in the cycle as the machine-readable
  timestamp; the publishers replay the cycle with fresh RTP timestamps (aiortc packetises an
  ``av.Packet`` without encoding it) and log when each index was sent.
- **Viewers do not decode** (``media.forwarding`` taps their receivers): they count the
  depacketised encoded frames. One viewer per seat (``--decode-viewers``) also decodes, reads
  the drawn index of every frame and notes when it arrived; glass-to-glass latency is the
  arrival time minus the last time that index was sent to that seat (the cycle is far longer
  than any latency, so the match is unambiguous). It excludes the camera and the publisher's
  encode, which no server changes.
- **Separate processes** for the publishers, the server and the viewers, so the server's CPU
  is read alone, from ``/proc/<pid>/stat`` (user + system, all threads).
- A plain aiortc receiver completes a frame only when the next frame's first packet arrives,
  one frame interval (67 ms at 15 fps) per hop. Receivers tapped by ``media.forwarding`` (the
  viewers here, and the hub in ``forward`` mode) complete it on the RTP marker bit instead
  (``media._aiortc_internals.MarkerJitterBuffer``), as a browser does; ``relay``'s hub
  receiver decodes through aiortc's own buffer and still adds the interval.

Servers (``--modes``):

- ``forward``: this hub's ``media.forwarding`` (no decode, one packetisation per viewer);
- ``relay``: aiortc's ``MediaRelay`` with one VP8 encode per viewer (the baseline);
- ``janus``: the Janus VideoRoom plugin (Debian's ``janus``; ``scripts/install-system-deps.sh
  test``), started from a copy of /etc/janus in which only the VideoRoom plugin and the HTTP
  transport are loaded, HTTP bound to 127.0.0.1, sessions without timeout. The same
  publishers and viewers are signalled through Janus's HTTP API. Janus (libnice) never
  gathers candidates on loopback, so in this mode ICE is enforced to this machine's own
  first IPv4 address, on both sides; the kernel delivers traffic between a machine's own
  addresses locally, as on loopback, and nothing leaves the machine.
- ``hub+janus``: the same Janus, controlled by the hub's Janus media plane
  (``evaluation_hub.live.janus_plane.JanusPlane``, in a process of its own, as
  ``media_backend = janus`` runs it): the publishers' offers go through it to Janus (a room
  per session, publishers through ``joinandconfigure``), and each viewer is one of its
  single-use subscriptions (Janus's offer, the viewer's answer with the token). The CPU is
  Janus's plus the hub process's; against ``janus`` it shows what the hub adds per
  viewer-stream (nothing per packet: it only signals). Its conduct monitors and recording
  are off here (they cost per seat, not per viewer).

Each server runs twice, with and without viewers; a viewer-stream's marginal CPU is
(CPU with viewers − CPU without) / (P × V). Printed per server: P×V, CPU, marginal CPU per
viewer-stream, delivered frames per second per viewer (mean and worst), latency p50/p95, and
the ratios of the marginal CPU between the servers.

    .venv/bin/python bench/media.py --seats 2 --viewers 2 --seconds 5     # a quick check
    .venv/bin/python bench/media.py --seats 12 --viewers 3 --seconds 10   # the target
    .venv/bin/python bench/media.py --seats 4 --sizes 12,36,108 --modes forward,janus  # a curve
    .venv/bin/python bench/media.py --seats 4 --viewers 3 --modes janus,hub+janus       # the hub's cost

With ``--sizes`` (viewer-streams, multiples of ``--seats``) the publishers stay the same and
each size adds viewers per seat: one no-viewer trial per server is the baseline, then one row
per size.

Figures, not a pass/fail test. Only this machine's own addresses are used (loopback, and for
Janus its first IPv4 address).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import concurrent.futures
import contextlib
import itertools
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# This file is bench/media.py: keep it from shadowing the media package.
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

import av  # noqa: E402
import av.error  # noqa: E402
from aiortc import (  # noqa: E402
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaBlackhole, MediaRelay  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402
from av.video.frame import VideoFrame  # noqa: E402

from media.fanout import is_keyframe  # noqa: E402
from media.forwarding import (  # noqa: E402
    ForwardedTrack,
    PublisherForwarder,
    TrackForwarder,
    accept_publisher,
    add_viewer,
)
from media.loopback import candidates_on as host_candidates_on  # noqa: E402
from media.loopback import host_address  # noqa: E402
from media.testpattern import Scene, SceneRenderer, load_astronaut, read_timestamp  # noqa: E402

CYCLE_SECONDS = 3
VIDEO_CLOCK = 90_000
BITRATE = 500_000  # aiortc's VP8 starting bitrate, so the relay's encodes match the publishers
JANUS_ROOM = 4242
FEED_WAIT_S = 300  # how long a subscriber waits for its publisher's feed
JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
Offer = tuple[str, str]  # (sdp, type)


def rtc() -> RTCPeerConnection:
    # No STUN server: everything is on loopback, and aiortc would otherwise try Google's.
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


class Pipe:
    """Blocking pipe reads on a thread of their own, off the event loop."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._reader = concurrent.futures.ThreadPoolExecutor(1)

    async def recv(self) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._reader, self.conn.recv)

    def send(self, message: Any) -> None:
        self.conn.send(message)


def sdp(pc: RTCPeerConnection) -> Offer:
    description = pc.localDescription
    assert description is not None
    return (description.sdp, description.type)


async def answer(pc: RTCPeerConnection, offer: Offer) -> Offer:
    await pc.setRemoteDescription(RTCSessionDescription(*offer))
    await pc.setLocalDescription(await pc.createAnswer())
    return sdp(pc)


def prefer_vp8(transceiver: Any) -> None:
    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences(
        [c for c in codecs if c.mimeType.lower() == "video/vp8" or c.name.lower() == "rtx"]
    )


# --- publishers --------------------------------------------------------------------------------


def encode_cycle(width: int, height: int, fps: int) -> list[bytes]:
    """One cycle of test-pattern frames encoded once: frame ``i`` draws ``i`` as its stamp."""
    count = CYCLE_SECONDS * fps
    renderer = SceneRenderer(width, height, load_astronaut())
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, fps)
    codec.framerate = Fraction(fps)
    codec.bit_rate = BITRATE
    codec.gop_size = count
    codec.options = {"deadline": "realtime", "cpu-used": "4", "lag-in-frames": "0",
                     "auto-alt-ref": "0"}  # fmt: skip
    packets = []
    for index in range(count):
        frame = VideoFrame.from_ndarray(renderer.render(Scene.PRESENT, index, index), "yuv420p")
        frame.pts = index
        packets += codec.encode(frame)
    packets += codec.encode(None)
    if len(packets) != count or not packets[0].is_keyframe:
        raise RuntimeError(f"libvpx gave {len(packets)} packets for {count} frames")
    return [bytes(p) for p in packets]


class ReplayTrack(MediaStreamTrack):
    """Replays an encoded cycle at ``fps`` with fresh timestamps; logs when each index left."""

    kind = "video"

    def __init__(self, cycle: list[bytes], fps: int) -> None:
        super().__init__()
        self._cycle = cycle
        self._fps = fps
        self._count = 0
        self._start: float | None = None
        self.sent: list[tuple[int, float]] = []

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        n = self._count
        self._count += 1
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + n / self._fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        index = n % len(self._cycle)
        packet = av.Packet(self._cycle[index])
        packet.pts = n * VIDEO_CLOCK // self._fps
        packet.time_base = Fraction(1, VIDEO_CLOCK)
        self.sent.append((index, time.time()))
        return packet


async def publishers(pipe: Pipe, seats: int, width: int, height: int, fps: int) -> None:
    cycle = encode_cycle(width, height, fps)
    pcs, tracks = [], []
    for _ in range(seats):
        pc = rtc()
        track = ReplayTrack(cycle, fps)
        prefer_vp8(pc.addTransceiver(track, direction="sendonly"))
        await pc.setLocalDescription(await pc.createOffer())
        pcs.append(pc)
        tracks.append(track)
    pipe.send([sdp(pc) for pc in pcs])
    answers = await pipe.recv()
    for pc, reply in zip(pcs, answers, strict=True):
        await pc.setRemoteDescription(RTCSessionDescription(*reply))
    await pipe.recv()  # stop
    pipe.send([track.sent for track in tracks])
    await pipe.recv()  # close
    for pc in pcs:
        await pc.close()


# --- the Python servers ------------------------------------------------------------------------


async def hub(pipe: Pipe, mode: str, viewers: int) -> None:
    offers = await pipe.recv()
    pcs: list[RTCPeerConnection] = []
    forwarders: list[PublisherForwarder] = []
    sources: list[MediaStreamTrack] = []
    relay = MediaRelay()
    sink = MediaBlackhole()
    replies = []
    for offer in offers:
        pc = rtc()
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
    offers_out = []
    for seat in range(len(offers)):
        for _ in range(viewers):
            pc = rtc()
            if mode == "forward":
                add_viewer(pc, forwarders[seat].video)
            else:
                track = relay.subscribe(sources[seat], buffered=False)
                prefer_vp8(pc.addTransceiver(track, direction="sendonly"))
            await pc.setLocalDescription(await pc.createOffer())
            viewer_pcs.append(pc)
            offers_out.append((seat, sdp(pc)))
    pipe.send(offers_out)
    for pc, reply in zip(viewer_pcs, await pipe.recv(), strict=True):
        await pc.setRemoteDescription(RTCSessionDescription(*reply))
    await pipe.recv()  # close
    await sink.stop()
    for forwarder in forwarders:
        await forwarder.close()
    for pc in viewer_pcs + pcs:
        await pc.close()


# --- the hub in front of Janus ------------------------------------------------------------------


async def janus_hub(pipe: Pipe, viewers: int) -> None:
    """The hub's Janus media plane between the publishers, the viewers and Janus."""
    from evaluation_hub.bus.memory import MemoryBus
    from evaluation_hub.live.janus_plane import JanusPlane
    from evaluation_hub.live.janus_rooms import JanusSettings
    from evaluation_hub.live.status import MediaRefused

    url = await pipe.recv()

    async def session_of(seat_key: str) -> int:
        return JANUS_ROOM  # every bench seat sits in one session

    plane = JanusPlane(
        MemoryBus(),
        JanusSettings((url,), api_secret=None, admin_key=None, room_key=b"bench-room-key"),
        session_of=session_of,
        max_viewers_per_seat=10**6,
    )
    plane.start()
    offers = await pipe.recv()
    seats = [f"BENCH.S{i:03d}" for i in range(len(offers))]
    answers = [await plane.publish(seat, f"offer-{seat}", offer[0])
               for seat, offer in zip(seats, offers, strict=True)]  # fmt: skip
    pipe.send([(a, "answer") for a in answers])
    subscriptions = []
    for seat_index, seat in enumerate(seats):
        for v in range(viewers):
            username = f"viewer-{v}"
            for _ in range(200):  # the feed is listed once the publisher's connection is up
                try:
                    found = await plane.subscribe(JANUS_ROOM, seat, username)
                    break
                except MediaRefused:
                    await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{seat} never published through the hub")
            subscriptions.append((seat_index, username, found))
    pipe.send([(seat, (found.sdp, "offer")) for seat, _, found in subscriptions])
    replies = await pipe.recv()
    for (_, username, found), reply in zip(subscriptions, replies, strict=True):
        await plane.answer(found.viewer_id, username, found.token, reply[0])
    pipe.send("ready")
    await pipe.recv()  # close
    await plane.close()


# --- viewers -----------------------------------------------------------------------------------


@dataclass
class Watcher:
    seat: int
    pc: RTCPeerConnection
    forwarder: TrackForwarder = field(default_factory=lambda: TrackForwarder("video"))
    decodes: bool = False
    frames_at_start: int = 0


async def watchers(pipe: Pipe, decode_per_seat: int) -> None:
    offers: list[tuple[int, Offer]] = await pipe.recv()
    measuring = False
    samples: list[tuple[int, int, float]] = []  # (seat, drawn index, arrival time)
    watching: list[Watcher] = []
    tasks = []
    decoding = dict.fromkeys({seat for seat, _ in offers}, 0)

    async def decode(watcher: Watcher, track: ForwardedTrack) -> None:
        decoder = av.CodecContext.create("vp8", "r")
        synced = False
        while True:
            try:
                packet = await track.recv()
            except MediaStreamError:
                return
            arrived = time.time()
            data = bytes(packet)
            synced = synced or is_keyframe("video/vp8", data)
            if not synced:
                continue
            try:
                frames = decoder.decode(av.Packet(data))
            except av.error.FFmpegError:
                synced = False
                continue
            for frame in frames:
                stamp = read_timestamp(frame)
                if measuring and stamp is not None:
                    samples.append((watcher.seat, stamp, arrived))

    replies = []
    for seat, offer in offers:
        watcher = Watcher(seat, rtc())
        if decoding[seat] < decode_per_seat:
            decoding[seat] += 1
            watcher.decodes = True
        accept_publisher(watcher.pc, {"video": watcher.forwarder})
        replies.append(await answer(watcher.pc, offer))
        watching.append(watcher)
        if watcher.decodes:
            track = watcher.forwarder.subscribe(32)
            tasks.append(asyncio.ensure_future(decode(watcher, track)))
    pipe.send(replies)
    await pipe.recv()  # start
    for watcher in watching:
        watcher.frames_at_start = watcher.forwarder.counters.frames_received
    measuring = True
    await pipe.recv()  # stop
    measuring = False
    counts = [(w.seat, w.forwarder.counters.frames_received - w.frames_at_start) for w in watching]
    pipe.send((counts, samples))
    await pipe.recv()  # close
    for task in tasks:
        task.cancel()
    for watcher in watching:
        await watcher.forwarder.close()
        await watcher.pc.close()


@contextlib.contextmanager
def candidates_on(address: str | None) -> Iterator[None]:
    """ICE host candidates on ``address`` only; loopback when None."""
    with host_candidates_on(address or "127.0.0.1"):
        yield


def run(role: str, conn: Connection, address: str | None, *args: Any) -> None:
    with candidates_on(address):
        pipe = Pipe(conn)
        if role == "publishers":
            asyncio.run(publishers(pipe, *args))
        elif role == "hub":
            asyncio.run(hub(pipe, *args))
        elif role == "janushub":
            asyncio.run(janus_hub(pipe, *args))
        else:
            asyncio.run(watchers(pipe, *args))


# --- Janus -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def janus_config(folder: Path, port: int, address: str) -> Path:
    """A copy of /etc/janus loading only VideoRoom and HTTP (on 127.0.0.1), ICE on ``address``."""
    conf = folder / "conf"
    shutil.copytree("/etc/janus", conf)
    for kind, keep in (
        ("plugins", "libjanus_videoroom.so"),
        ("transports", "libjanus_http.so"),
        ("events", None),
        ("loggers", None),
    ):
        (folder / kind).mkdir()
        if keep is not None:
            (folder / kind / keep).symlink_to(JANUS_LIB / kind / keep)
    main = conf / "janus.jcfg"
    text = main.read_text()
    for key, value in (
        ("configs_folder", conf),
        ("plugins_folder", folder / "plugins"),
        ("transports_folder", folder / "transports"),
        ("events_folder", folder / "events"),
        ("loggers_folder", folder / "loggers"),
    ):
        text = re.sub(rf"^(\s*){key} = .*$", rf'\g<1>{key} = "{value}"', text, flags=re.M)
    text = text.replace("general: {", "general: {\n\tsession_timeout = 0", 1)
    text = text.replace("nat: {", f'nat: {{\n\tice_enforce_list = "{address}"', 1)
    main.write_text(text)
    http = conf / "janus.transport.http.jcfg"
    text = http.read_text()
    text = re.sub(r"^(\s*)port = 8088", rf"\g<1>port = {port}", text, flags=re.M)
    text = re.sub(r'^(\s*)#ip = "192.168.0.1"', r'\g<1>ip = "127.0.0.1"', text, count=1, flags=re.M)
    http.write_text(text)
    return main


class Janus:
    """A Janus server for one trial and a blocking client of its HTTP API."""

    def __init__(self, folder: Path, address: str) -> None:
        port = free_port()
        config = janus_config(folder, port, address)
        self.base = f"http://127.0.0.1:{port}/janus"
        self.log = (folder / "janus.log").open("w")
        self.proc = subprocess.Popen(
            ["janus", "-C", str(config), "-F", str(config.parent), "-d", "3", "-o",
             "-r", "40000-50000"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._tx = itertools.count(1)
        self._events: dict[str, dict[str, Any]] = {}
        for _ in range(100):
            with contextlib.suppress(OSError):
                self._call("GET", f"{self.base}/info")
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"janus did not start, see {folder / 'janus.log'}")
        self.session = self.request("", {"janus": "create"})["data"]["id"]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _call(self, method: str, url: str, body: Any = None, timeout: float = 10) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def request(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": f"t{next(self._tx)}"}
        reply: dict[str, Any] = self._call("POST", f"{self.base}{path}", body)
        if reply.get("janus") == "error":
            raise RuntimeError(f"janus: {reply['error']}")
        return reply

    def attach(self) -> int:
        reply = self.request(
            f"/{self.session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"}
        )
        return int(reply["data"]["id"])

    def message(
        self, handle: int, body: dict[str, Any], jsep: Offer | None = None
    ) -> dict[str, Any]:
        """A VideoRoom request; waits for its asynchronous event if it has one."""
        message: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = {"sdp": jsep[0], "type": jsep[1], "trickle": False}
        reply = self.request(f"/{self.session}/{handle}", message)
        if reply["janus"] == "success":
            data: dict[str, Any] = reply["plugindata"]["data"]
            return data
        transaction = reply["transaction"]
        deadline = time.monotonic() + 20
        while transaction not in self._events:
            if time.monotonic() > deadline:
                raise RuntimeError(f"janus never answered {body}")
            for event in self._call("GET", f"{self.base}/{self.session}?maxev=10", timeout=30):
                if "transaction" in event:
                    self._events[event["transaction"]] = event
        event = self._events.pop(transaction)
        data = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise RuntimeError(f"janus videoroom: {data['error']}")
        return {**data, "jsep": event.get("jsep")}

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def janus_signal(
    janus: Janus,
    offers: list[Offer],
    viewers: int,
    answer_publishers: Callable[[list[Offer]], None],
    exchange: Callable[[list[tuple[int, Offer]]], list[Offer]],
) -> None:
    """Publish every seat into one room and subscribe ``viewers`` handles to each feed.

    ``exchange`` sends the subscribers' offers to the viewers' process and returns answers.
    """
    admin = janus.attach()
    janus.message(admin, {"request": "create", "room": JANUS_ROOM, "publishers": len(offers),
                          "videocodec": "vp8", "bitrate": 0, "fir_freq": 0})  # fmt: skip
    feeds, answers = [], []
    for seat, offer in enumerate(offers):
        handle = janus.attach()
        joined = janus.message(handle, {"request": "join", "ptype": "publisher",
                                        "room": JANUS_ROOM, "display": f"seat-{seat}"})  # fmt: skip
        feeds.append(joined["id"])
        published = janus.message(handle, {"request": "publish", "audio": False}, offer)
        answers.append((published["jsep"]["sdp"], published["jsep"]["type"]))
    answer_publishers(answers)
    subscribers: list[tuple[int, int, Offer]] = []
    for seat, feed in enumerate(feeds):
        for _ in range(viewers):
            handle = janus.attach()
            attached: dict[str, Any] = {}
            # The feed is listed once its connection is up: hundreds of publishers in one
            # process on a loaded machine take far longer than a few to get there.
            deadline = time.monotonic() + FEED_WAIT_S
            while not attached:
                try:
                    attached = janus.message(handle, {"request": "join", "ptype": "subscriber",
                                                      "room": JANUS_ROOM,
                                                      "streams": [{"feed": feed}]})  # fmt: skip
                except RuntimeError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"seat {seat}'s feed was not up in Janus within {FEED_WAIT_S} s"
                        ) from None
                    time.sleep(0.1)
            jsep = attached["jsep"]
            subscribers.append((seat, handle, (jsep["sdp"], jsep["type"])))
    replies = exchange([(seat, offer) for seat, _, offer in subscribers])
    for (_, handle, _), reply in zip(subscribers, replies, strict=True):
        janus.message(handle, {"request": "start", "room": JANUS_ROOM}, reply)


# --- orchestration -----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its threads, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Trial:
    cpu: float  # cores busy
    fps: list[float]  # per viewer
    latencies_ms: list[float]
    unmatched: int


def latencies(
    sent: list[list[tuple[int, float]]], samples: list[tuple[int, int, float]]
) -> tuple[list[float], int]:
    """Arrival minus the latest send of the same drawn index to the same seat."""
    by_index: list[dict[int, list[float]]] = []
    for log in sent:
        table: dict[int, list[float]] = {}
        for index, at in log:
            table.setdefault(index, []).append(at)
        by_index.append(table)
    found, unmatched = [], 0
    for seat, index, arrived in samples:
        times = by_index[seat].get(index, [])
        at = bisect.bisect_right(times, arrived)
        if at == 0:
            unmatched += 1
        else:
            found.append((arrived - times[at - 1]) * 1000)
    return found, unmatched


def trial(mode: str, args: argparse.Namespace, viewers: int) -> Trial:
    ctx = multiprocessing.get_context("spawn")
    roles = {
        "janus": ("publishers", "watchers"),
        "hub+janus": ("publishers", "janushub", "watchers"),
    }.get(mode, ("publishers", "hub", "watchers"))
    ends = {role: ctx.Pipe() for role in roles}
    extra = {
        "publishers": (args.seats, args.width, args.height, args.fps),
        "hub": (mode, viewers),
        "janushub": (viewers,),
        "watchers": (args.decode_viewers,),
    }
    # Janus (libnice) gathers no loopback candidates: its peers meet it on this machine's own
    # address, which the kernel delivers locally like loopback (nothing leaves the machine).
    address = host_address() if "janus" in mode else None
    procs = [
        ctx.Process(target=run, args=(role, ends[role][1], address, *extra[role]), daemon=True)
        for role in roles
    ]
    for proc in procs:
        proc.start()
    pub, view = ends["publishers"][0], ends["watchers"][0]
    janus: Janus | None = None
    folder = tempfile.TemporaryDirectory(prefix="bench-janus-")
    try:
        if mode == "janus":
            assert address is not None
            janus = Janus(Path(folder.name), address)
            server_pids = [janus.pid]
            offers = pub.recv()

            def exchange(subscriber_offers: list[tuple[int, Offer]]) -> list[Offer]:
                view.send(subscriber_offers)
                replies: list[Offer] = view.recv()
                return replies

            janus_signal(janus, offers, viewers, pub.send, exchange)
        elif mode == "hub+janus":
            assert address is not None
            janus = Janus(Path(folder.name), address)
            controller = ends["janushub"][0]
            server_pids = [janus.pid, procs[1].pid or 0]
            controller.send(janus.base)
            controller.send(pub.recv())
            pub.send(controller.recv())
            view.send(controller.recv())
            controller.send(view.recv())
            controller.recv()  # every subscription started
        else:
            server = ends["hub"][0]
            server_pids = [procs[1].pid or 0]
            server.send(pub.recv())
            pub.send(server.recv())
            view.send(server.recv())
            server.send(view.recv())
        time.sleep(args.warmup)
        view.send("start")
        cpu, wall = sum(map(cpu_seconds, server_pids)), time.monotonic()
        time.sleep(args.seconds)
        cpu, wall = sum(map(cpu_seconds, server_pids)) - cpu, time.monotonic() - wall
        view.send("stop")
        pub.send("stop")
        counts, samples = view.recv()
        sent = pub.recv()
        for end in ends.values():
            end[0].send("close")
    except BaseException:
        log = Path(folder.name) / "janus.log"
        if log.exists():
            print("".join(log.read_text().splitlines(True)[-40:]), file=sys.stderr)
        raise
    finally:
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.terminate()
        if janus is not None:
            janus.close()
        folder.cleanup()
    found, unmatched = latencies(sent, samples)
    return Trial(cpu / wall, [count / wall for _, count in counts], sorted(found), unmatched)


def show(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def percentile(values: list[float], fraction: float) -> float | None:
    return values[min(len(values) - 1, int(len(values) * fraction))] if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seats", type=int, default=4)
    parser.add_argument("--viewers", type=int, default=3)
    parser.add_argument("--sizes", help="viewer-streams, one row each: a curve (see the doc)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=CYCLE_SECONDS + 2.0,
                        help="after signalling; longer than the 3 s keyframe cycle")  # fmt: skip
    parser.add_argument("--modes", default="forward,relay,janus")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the modes this many times, interleaved; ratios per round "
                             "and their median")  # fmt: skip
    parser.add_argument("--decode-viewers", type=int, default=1,
                        help="viewers per seat that decode to read the drawn stamps")  # fmt: skip
    args = parser.parse_args()
    if args.sizes:
        curve(args)
        return
    streams = args.seats * args.viewers
    print(
        f"P×V = {args.seats}×{args.viewers} = {streams} viewer-streams, {args.width}×{args.height} "
        f"VP8 at {args.fps} fps, {args.seconds:g} s measured after {args.warmup:g} s; "
        f"{os.cpu_count()} CPUs"
    )
    header()
    # Modes alternate within each round, so a load from outside hits them alike.
    rounds: list[dict[str, float]] = []
    for _ in range(args.rounds):
        marginal = {}
        for mode in args.modes.split(","):
            idle = trial(mode, args, 0)
            busy = trial(mode, args, args.viewers)
            marginal[mode] = row(mode, streams, idle, busy)
        rounds.append(marginal)
    for a, b in (
        ("forward", "relay"),
        ("forward", "janus"),
        ("janus", "relay"),
        ("hub+janus", "janus"),
    ):
        ratios = [m[a] / m[b] for m in rounds if a in m and b in m and m[b] > 0]
        if ratios:
            each = ", ".join(f"{r * 100:.1f}%" for r in ratios)
            median = statistics.median(ratios) * 100
            print(f"{a} / {b} CPU per viewer-stream: {median:.1f}%" + (
                f" (median of {each})" if len(ratios) > 1 else ""))  # fmt: skip
    legend(args)


def curve(args: argparse.Namespace) -> None:
    """``--sizes``: the same ``--seats`` publishers, watched by more and more viewers (each
    size a multiple of the seats): one trial without viewers per mode, the baseline, then one
    row per size, so the CPU per viewer-stream shows how forwarding cost grows."""
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    odd = [n for n in sizes if n % args.seats]
    if odd:
        raise SystemExit(f"--sizes must be multiples of --seats ({args.seats}): {odd}")
    print(
        f"P = {args.seats} publishers, viewer-streams {', '.join(map(str, sizes))}, "
        f"{args.width}×{args.height} VP8 at {args.fps} fps, {args.seconds:g} s measured after "
        f"{args.warmup:g} s; {os.cpu_count()} CPUs"
    )
    header()
    for mode in args.modes.split(","):
        idle = trial(mode, args, 0)
        for streams in sizes:
            row(mode, streams, idle, trial(mode, args, streams // args.seats))
    legend(args)


def header() -> None:
    print(
        f"{'mode':9} {'P×V':>5} {'CPU idle':>9} {'CPU':>7} {'per v-stream':>12} "
        f"{'fps mean':>8} {'fps min':>8} {'p50 ms':>7} {'p95 ms':>7} {'samples':>8}"
    )


def row(mode: str, streams: int, idle: Trial, busy: Trial) -> float:
    """Print one trial against its no-viewer baseline; the marginal CPU per viewer-stream."""
    marginal = (busy.cpu - idle.cpu) / streams
    fps = busy.fps
    print(
        f"{mode:9} {streams:5d} {idle.cpu * 100:8.1f}% {busy.cpu * 100:6.1f}% "
        f"{marginal * 100:11.2f}% {show(statistics.fmean(fps) if fps else None, '8.1f')} "
        f"{show(min(fps) if fps else None, '8.1f')} "
        f"{show(percentile(busy.latencies_ms, 0.5), '7.0f')} "
        f"{show(percentile(busy.latencies_ms, 0.95), '7.0f')} "
        f"{len(busy.latencies_ms):8d}"
        + (f" ({busy.unmatched} unmatched)" if busy.unmatched else ""),
        flush=True,
    )
    return marginal


def legend(args: argparse.Namespace) -> None:
    print("(CPU in % of one core; per v-stream = (CPU with viewers − without) / (P×V);")
    print(" latency = viewer's arrival − publisher's send of the same drawn frame. Tapped")
    print(" receivers (viewers, forward's hub) complete frames on the RTP marker bit; relay's")
    print(f" decoding hub receiver waits for the next frame (+{1000 / args.fps:.0f} ms).)")


if __name__ == "__main__":
    main()
