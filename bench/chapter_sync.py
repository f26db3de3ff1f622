"""Benchmark: encrypted chapter delivery over the seat link against plain loopback HTTP.

One process, one event loop, on loopback: the real hub (``create_app`` on SQLite behind
aiohttp's runner) with one seat whose terminal key is approved, and the real seat side
(``SeatLink`` + ``ChapterCache`` in a temporary state directory).

1. **Seal**: ``--chapters`` chapters of random text, ``--mb`` MiB in all, are sealed for the
   seat's X25519 key with ``seat_protocol.chapter_crypto`` (timed apart, not part of delivery)
   and handed to the hub's chunk store, as ``evaluation_hub.seats.chapters`` does on release.
2. **Encrypted delivery, binary frames**: from the hub sending the ``chapter_manifest`` until
   every chapter is on the seat's disk, written and synced (chunks in binary websocket frames,
   ``seat_protocol.chunk_frames``; protocol acknowledgements; the cache's request window of
   ``--window`` chunks; one file and one fsync per chapter).
3. **Encrypted delivery, JSON/base64**: the same, the seat speaking as an agent from before
   binary framing (protocol version 2, no ``chunk_framings``): base64 in JSON text frames.
4. **Plain HTTP**: the same bytes (the sealed chunks, concatenated) served by a minimal aiohttp
   handler from memory and read by an aiohttp client on loopback.
5. Optionally (``--read``) the time to decrypt every chapter at the seat.

The three transfers run interleaved in every round (their order turned each round), so other
load on the machine falls on all of them alike; each runs ``--repeat`` times after one warm-up
round and the best run of each counts. Prints the throughputs, the ratios to the plain download,
how long the last chapter's write and fsync took after its last chunk arrived, and the CPU
seconds the whole process (every thread) spent per transfer, which moves less than the wall
clock when other work shares the machine. The seat is wired as ``SeatAgent.open`` wires it
(chunks checked by the cache, ``seat_agent.chunk_seals``); the previous framing's agent checks
each chunk's SHA-256, as it did. ``--profile FILE`` writes a cProfile of the event loop during
the timed binary deliveries. Figures, not a pass/fail test; other work on the machine disturbs
them.

    .venv/bin/python bench/chapter_sync.py --mb 16 --chapters 8 --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import structlog
from aiohttp import ClientSession, web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluation_hub.api.seat_link import CHAPTERS, SEAT_HUB
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Seat, Venue
from evaluation_hub.db.seat_terminals import SeatEnrolment
from seat_agent.chapters import WINDOW, ChapterCache
from seat_agent.connection import SeatLink
from seat_agent.keys import SeatIdentity
from seat_protocol.auth import enrolment_code
from seat_protocol.chapter_crypto import chapter_context, seal_chapter
from seat_protocol.events import ChunkReceived, Event
from seat_protocol.messages import (
    CHUNK_SIZE,
    PROTOCOL_VERSION,
    AppMessage,
    ChapterManifest,
    ChapterStatus,
    ManifestChapter,
)
from tests.support.postgres_server import free_port

HUB_ID = "evaluation-hub"
SEAT_KEY = "BN.BN-01"


async def prepare(url: str) -> tuple[Ed25519PrivateKey, X25519PrivateKey]:
    """One seat with an approved terminal key."""
    db = Database(url)
    await db.upgrade()
    now = datetime.now(UTC)
    ed, x = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    async with db.write() as s:
        venue = Venue(code="BN", name="压测场地", region_code="530100", supervising_department="-")
        s.add(venue)
        await s.flush()
        seat = Seat(venue_id=venue.id, label="BN-01", room="压测")
        s.add(seat)
        await s.flush()
        ed_pub = ed.public_key().public_bytes_raw()
        x_pub = x.public_key().public_bytes_raw()
        s.add(
            SeatEnrolment(
                seat_key=SEAT_KEY,
                seat_id=seat.id,
                ed25519_public_key=ed_pub,
                x25519_public_key=x_pub,
                enrolment_code=enrolment_code(ed_pub, x_pub),
                status="approved",
                requested_at=now,
                decided_by="bench",
                decided_at=now,
            )
        )
    await db.dispose()
    return ed, x


def seal(
    x: X25519PrivateKey, session_id: str, total: int, chapters: int
) -> tuple[ChapterManifest, dict[str, bytes]]:
    size = total // chapters
    out: list[ManifestChapter] = []
    chunks: dict[str, bytes] = {}
    for n in range(chapters):
        # Random bytes as text: incompressible, like the ciphertext anyway.
        text = os.urandom(size // 2).hex().encode()
        label = f"ch{n + 1}-AA"
        sealed = seal_chapter(
            text,
            label=label,
            position=n,
            seat_public_key=x.public_key(),
            context=chapter_context(session_id, SEAT_KEY, label, n),
        )
        out.append(sealed.manifest)
        chunks.update(sealed.chunks)
    return ChapterManifest(session_id=session_id, chapters=tuple(out)), chunks


async def run(args: argparse.Namespace) -> None:
    from evaluation_hub.api.app import create_app
    from evaluation_hub.config import HubConfig

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    work = Path(tempfile.mkdtemp(prefix="chapter-sync-bench-"))
    try:
        url = f"sqlite+aiosqlite:///{work / 'hub.db'}"
        ed, x = await prepare(url)
        port = free_port()
        config = HubConfig(
            database_url=url,
            port=port,
            token_secret="c" * 40,
            sealing_key_file=work / "sealing.key",
            hub_key_file=work / "hub-key.pem",
            hub_id=HUB_ID,
        )
        app = create_app(config, sweep=False)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

        total = int(args.mb * 1024 * 1024)
        # The plain baseline: the same bytes, from memory, over loopback HTTP.
        blob: bytes = b""

        async def download(request: web.Request) -> web.Response:
            return web.Response(body=blob, content_type="application/octet-stream")

        plain = web.Application()
        plain.router.add_get("/blob", download)
        plain_runner = web.AppRunner(plain, handle_signals=False)
        await plain_runner.setup()
        plain_port = free_port()
        await web.TCPSite(plain_runner, "127.0.0.1", plain_port).start()

        hub = app[SEAT_HUB]
        store = app[CHAPTERS]
        times: dict[str, list[float]] = {"binary": [], "json": [], "plain": []}
        # CPU seconds of the whole process (every thread: both ends, the writer) per transfer:
        # steadier than the wall clock when other work shares the machine.
        cpus: dict[str, list[float]] = {"binary": [], "json": [], "plain": []}
        # CPU seconds of the event loop's thread alone per binary delivery (both ends run on
        # it; the chapter writes run beside it in worker threads).
        loop_cpu: list[float] = []
        # Per delivery: seconds from the last chunk's arrival until the last chapter file was
        # written and synced (the part of delivery that is the disk's, not the link's).
        tails: dict[str, list[float]] = {"binary": [], "json": []}
        seal_s: list[float] = []
        read_s: list[float] = []
        delivered = 0
        runs = 0
        # --profile: the main thread during the timed binary deliveries only (not the warm-up).
        profiler = cProfile.Profile() if args.profile else None

        async def deliver(
            manifest: ChapterManifest, chunks: dict[str, bytes], framings: tuple[int, ...]
        ) -> tuple[float, float]:
            """Seconds from the manifest leaving the hub until every chapter is on the seat's
            disk (written, synced), and of those the seconds after the last chunk arrived;
            ``framings`` empty: the seat speaks as an agent from before binary chunks."""
            nonlocal runs
            runs += 1
            state = work / f"seat-{runs}"
            state.mkdir()
            identity = SeatIdentity(
                SEAT_KEY, f"ws://127.0.0.1:{port}/ws/seat", HUB_ID, ed, x, state
            )
            cache = await ChapterCache.open(state, identity, window=args.window)
            done = asyncio.Event()
            connected = asyncio.Event()
            arrived: list[float] = []

            wanted = len({h for c in manifest.chapters for h in c.chunks})
            received = 0

            def progress() -> None:
                # Cheap on purpose (called after every chunk): a real agent has no such
                # listener, so the bench must not add a per-chunk scan of the cache.
                if cache.chapters_stored == len(manifest.chapters):
                    done.set()

            cache.add_listener(progress)

            async def on_event(event: Event) -> None:
                nonlocal received
                if isinstance(event, ChunkReceived):
                    received += 1
                    if received == wanted:
                        arrived.append(time.perf_counter())
                await cache.on_event(event)
                if hub.connected(SEAT_KEY):
                    connected.set()

            version = PROTOCOL_VERSION if framings else 2
            link = SeatLink(
                identity, on_event=on_event, protocol_version=version, chunk_framings=framings
            )
            reported = asyncio.Event()

            async def send(msg: AppMessage) -> object:
                if isinstance(msg, ChapterStatus):
                    reported.set()
                return await link.send(msg)

            cache.bind(send)
            if framings:
                # As ``SeatAgent.open`` wires it; the old agent checks every chunk's SHA-256.
                link.chunk_check = cache.check_chunk
            task = asyncio.create_task(link.run())
            await asyncio.wait_for(connected.wait(), 30)
            store.put(SEAT_KEY, manifest, chunks)
            profiling = profiler is not None and bool(framings) and runs > 3
            if profiling:
                profiler.enable()
            t0, c0, l0 = time.perf_counter(), time.process_time(), time.thread_time()
            await hub.send(SEAT_KEY, manifest)
            await asyncio.wait_for(done.wait(), 600)
            end, cpu = time.perf_counter(), time.process_time() - c0
            if framings:
                loop_cpu.append(time.thread_time() - l0)
            if profiling:
                profiler.disable()
            took = end - t0
            tail = end - arrived[0]
            # The seat then decrypts every chapter to report its status: not part of delivery,
            # but waited for, so it does not run into the next transfer of the round.
            await asyncio.wait_for(reported.wait(), 600)
            if args.read and framings:
                t0 = time.perf_counter()
                for entry in cache.entries():
                    await cache.read(entry.label)
                read_s.append(time.perf_counter() - t0)
            await cache.wipe()
            task.cancel()
            await asyncio.wait({task})
            return took, tail, cpu

        async def plain_download() -> tuple[float, float]:
            async with ClientSession() as client:
                t0, c0 = time.perf_counter(), time.process_time()
                async with client.get(f"http://127.0.0.1:{plain_port}/blob") as resp:
                    got = 0
                    async for piece in resp.content.iter_chunked(CHUNK_SIZE):
                        got += len(piece)
                took, cpu = time.perf_counter() - t0, time.process_time() - c0
            assert got == delivered, (got, delivered)
            return took, cpu

        for n in range(args.repeat + 1):
            t0 = time.perf_counter()
            manifest, chunks = seal(x, f"bench-{n}", total, args.chapters)
            seal_s.append(time.perf_counter() - t0)
            blob = b"".join(chunks[h] for c in manifest.chapters for h in c.chunks)
            delivered = len(blob)
            # Interleaved, the order turned each round, so the machine's other load (other
            # work on it) falls on all three alike.
            order = ["binary", "json", "plain"]
            order = order[n % 3 :] + order[: n % 3]
            for kind in order:
                if kind == "plain":
                    took, cpu = await plain_download()
                else:
                    took, tail, cpu = await deliver(
                        manifest, chunks, (1,) if kind == "binary" else ()
                    )
                    if n > 0:
                        tails[kind].append(tail)
                if n > 0:  # the first round warms up
                    times[kind].append(took)
                    cpus[kind].append(cpu)

        await plain_runner.cleanup()
        await runner.cleanup()
        if profiler is not None:
            profiler.dump_stats(args.profile)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    mib = delivered / (1024 * 1024)
    best = {kind: min(ts) for kind, ts in times.items()}
    print(
        f"payload: {mib:.1f} MiB sealed ({args.chapters} chapters, "
        f"{CHUNK_SIZE // 1024} KiB chunks, window {args.window}), "
        f"best of {args.repeat} after one warm-up, interleaved"
    )
    print(f"sealing at the hub (not in delivery):   {mib / min(seal_s[1:]):8.1f} MiB/s")
    for kind, label in (
        ("binary", "encrypted delivery, binary frames:    "),
        ("json", "encrypted delivery, JSON/base64 (old):"),
        ("plain", "plain loopback HTTP (aiohttp):        "),
    ):
        print(f"{label} {mib / best[kind]:8.1f} MiB/s ({best[kind]:.3f} s)")
    print(f"ratio binary / plain:                   {best['plain'] / best['binary']:8.3f}")
    print(f"ratio JSON / plain:                     {best['plain'] / best['json']:8.3f}")
    print(f"binary over JSON:                       {best['json'] / best['binary']:8.2f}x")
    tail = sorted(tails["binary"])[len(tails["binary"]) // 2]
    print(f"binary: last chunk to last chapter synced {tail * 1000:6.1f} ms (median)")
    arrived = min(t - d for t, d in zip(times["binary"], tails["binary"], strict=True))
    print(
        f"binary, until the last chunk arrived:   {mib / arrived:8.1f} MiB/s "
        f"(ratio to plain {best['plain'] / arrived:.3f}; the last chapter's write and fsync "
        "not counted)"
    )
    low = {kind: min(cs) for kind, cs in cpus.items()}
    print(
        f"CPU seconds per transfer (least, all threads): binary {low['binary']:.3f}, "
        f"JSON {low['json']:.3f}, plain {low['plain']:.3f}; "
        f"plain / binary {low['plain'] / low['binary']:.3f}"
    )
    spent = sorted(loop_cpu[1:])  # the warm-up round's delivery left out
    print(
        f"event-loop thread CPU per binary delivery: least {spent[0] * 1000:.1f} ms, "
        f"median {spent[len(spent) // 2] * 1000:.1f} ms"
    )
    if read_s:
        print(f"decrypting every chapter at the seat:   {mib / min(read_s[1:]):8.1f} MiB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=16.0, help="MiB of chapters (default 16)")
    parser.add_argument("--chapters", type=int, default=8, help="number of chapters (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument(
        "--window",
        type=int,
        default=WINDOW,
        help=f"chunks the seat asks for ahead (default {WINDOW}, the agent's)",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="write a cProfile of the event loop during the timed binary deliveries to FILE",
    )
    parser.add_argument("--read", action="store_true", help="also time decryption at the seat")
    args = parser.parse_args()
    if args.repeat < 1 or args.chapters < 1 or args.mb <= 0 or args.window < 1:
        parser.error("--repeat, --chapters, --window and --mb must be positive")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
