"""Benchmark: encrypted chapter delivery over the seat link against plain loopback HTTP.

**Two processes, as in the field.** This process is the hub: the real hub (``create_app`` on
SQLite behind aiohttp's runner) with one seat whose terminal key is approved, and beside it a
minimal aiohttp server of the plain download. The client ends run in a second process
(``bench/chapter_sync_seat.py``, started here and driven through a pipe): the real seat
(``SeatLink`` + ``ChapterCache`` in a temporary state directory, wired as ``SeatAgent.open``
wires them) and the plain download's aiohttp client. Why: a real seat is another machine, so
its receiving, checking and writing never share an event loop (or a CPU) with the hub's
sending; running both ends in one event loop (as this bench did until round 6) charged the
seat's work to the hub's loop and made the delivery look slower than it is, and a baseline
whose client and server share one loop is not the download an expert's terminal sees either.
Both transfers cross the same loopback between the same two processes; on this 2-core machine
each end can have a core (when nothing else runs).

1. **Seal**: ``--chapters`` chapters of random text, ``--mb`` MiB in all, are sealed for the
   seat's X25519 key with ``seat_protocol.chapter_crypto`` (timed apart, not part of delivery)
   and handed to the hub's chunk store, as ``evaluation_hub.seats.chapters`` does on release.
2. **Encrypted delivery, binary frames**: from the hub sending the ``chapter_manifest`` until
   every chapter is on the seat's disk, written and synced (chunks in binary websocket frames,
   ``seat_protocol.chunk_frames``; protocol acknowledgements; the cache's request window of
   ``--window`` chunks; one file and one fsync per chapter). The start is taken in this
   process, the end in the seat's (``time.perf_counter``: ``CLOCK_MONOTONIC`` on Linux, one
   clock for both processes).
3. **Encrypted delivery, JSON/base64**: the same, the seat speaking as an agent from before
   binary framing (protocol version 2, no ``chunk_framings``): base64 in JSON text frames.
4. **Plain HTTP**: the same bytes (the sealed chunks, concatenated) served by a minimal aiohttp
   handler from memory in this process and read by the aiohttp client in the other one, from
   the request until its last byte.
5. **Plain HTTP written as the cache does**: the same download, and every chapter's worth of
   bytes written to its own file as it completes by the cache's ``write_chapter`` (one
   ``writev``, one fsync, a rename and a directory fsync, in a worker thread while the rest
   arrives), until every file is synced: the share of the disk, without encryption or the
   seat protocol. Why: on this virtual machine writing fresh page-cache pages costs much
   more CPU than the copy (perf: ``copy_folio_from_iter_atomic`` was 26 % of the seat's
   samples) and an fsync 1-6 ms, none of which the in-memory download pays.
6. **The disk alone**: the same chapters, already in the seat process's memory, written by
   ``write_chapter`` with every chapter started at once in its own worker thread, until every
   file is synced: no link, no encryption, no waiting for bytes. The least time any delivery
   that makes these chapters durable on this disk can take, so ``plain / disk`` is the highest
   ratio to the in-memory plain download such a delivery can reach on this machine.
7. Optionally (``--read``) the time to decrypt every chapter at the seat.

The transfers run interleaved in every round (their order turned each round), so other
load on the machine falls on all of them alike; each runs ``--repeat`` times after one warm-up
round and the best run of each counts. Prints the throughputs, the ratios to the plain download,
how long the last chapter's write and fsync took after its last chunk arrived (every round
ends with the cleanup's deletions synced, outside the timing, so a round's first fsync does
not commit the previous round's deletions), and the CPU
seconds per transfer of each end (whole process, every thread) and of each end's event loop
thread, which move less than the wall clock when other work shares the machine. The previous
framing's agent checks each chunk's SHA-256, as it did. ``--profile FILE`` writes cProfiles of
both event loops during the timed binary deliveries (``FILE.hub``, ``FILE.seat``). Figures, not
a pass/fail test; other work on the machine disturbs them.

    .venv/bin/python bench/chapter_sync.py --mb 16 --chapters 8 --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluation_hub.api.seat_link import CHAPTERS, SEAT_HUB
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Seat, Venue
from evaluation_hub.db.seat_terminals import SeatEnrolment
from seat_agent.chapters import WINDOW
from seat_protocol.auth import enrolment_code
from seat_protocol.chapter_crypto import chapter_context, seal_chapter
from seat_protocol.messages import CHUNK_SIZE, ChapterManifest, ManifestChapter
from tests.support.postgres_server import free_port

HUB_ID = "evaluation-hub"
SEAT_KEY = "BN.BN-01"
SEAT_END = Path(__file__).resolve().parent / "chapter_sync_seat.py"
KINDS = ("binary", "json", "plain", "plain+disk", "disk")


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


class SeatProcess:
    """The client ends' process (``bench/chapter_sync_seat.py``), one JSON line each way."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, setup: dict[str, Any]) -> SeatProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SEAT_END),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        end = cls(proc)
        await end.ask(setup, "ready")
        return end

    async def ask(self, cmd: dict[str, Any], expect: str | None = None) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        return await self.answer(expect)

    async def answer(self, expect: str | None = None) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 600)
        if not line:
            raise RuntimeError(f"the seat process ended (exit {await self.proc.wait()})")
        got: dict[str, Any] = json.loads(line)
        if expect is not None and expect not in got:
            raise RuntimeError(f"the seat process answered {got}, not {expect}")
        return got

    async def stop(self) -> None:
        await self.ask({"op": "stop"}, "stopped")
        await self.proc.wait()


async def run(args: argparse.Namespace) -> None:
    from evaluation_hub.api.app import create_app
    from evaluation_hub.config import HubConfig

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(40),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
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

        # As ``evaluation-hub serve`` does once its app is up (``cli._freeze_startup_objects``):
        # what start-up made stays out of garbage collection. Without it, a full collection
        # over the ~200 000 start-up objects (0.1-0.2 s of the hub's loop here) lands in some
        # deliveries, which the real hub does not have.
        gc.freeze()
        seat_state = work / "seat"
        seat_state.mkdir()
        seat_end = await SeatProcess.start(
            {
                "ed25519": ed.private_bytes_raw().hex(),
                "x25519": x.private_bytes_raw().hex(),
                "seat_key": SEAT_KEY,
                "hub_url": f"ws://127.0.0.1:{port}/ws/seat",
                "hub_id": HUB_ID,
                "work": str(seat_state),
                "window": args.window,
                "profile": f"{args.profile}.seat" if args.profile else None,
            }
        )

        hub = app[SEAT_HUB]
        store = app[CHAPTERS]
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        # CPU seconds per transfer, each end's whole process (every thread) and each end's
        # event loop thread: steadier than the wall clock when other work shares the machine.
        cpu: dict[str, dict[str, list[float]]] = {
            kind: {"hub": [], "seat": [], "hub loop": [], "seat loop": []} for kind in KINDS
        }
        # Per delivery: seconds from the last chunk's arrival until the last chapter file was
        # written and synced (the part of delivery that is the disk's, not the link's).
        tails: dict[str, list[float]] = {"binary": [], "json": []}
        seal_s: list[float] = []
        read_s: list[float] = []
        delivered = 0
        # --profile: the hub's event loop during the timed binary deliveries only, in CPU time
        # (the thread's, not the wall clock: under load, waiting for a core is not cost).
        profiler = cProfile.Profile(time.thread_time) if args.profile else None

        async def deliver(
            manifest: ChapterManifest, chunks: dict[str, bytes], framings: list[int], timed: bool
        ) -> tuple[float, float, dict[str, float]]:
            """Seconds from the manifest leaving the hub until every chapter is on the seat's
            disk (written, synced), of those the seconds after the last chunk arrived, and the
            CPU each end spent; ``framings`` empty: the seat speaks as an agent from before
            binary chunks."""
            profiling = profiler is not None and bool(framings) and timed
            await seat_end.ask(
                {
                    "op": "seat",
                    "framings": framings,
                    "chapters": len(manifest.chapters),
                    "chunks": len({h for c in manifest.chapters for h in c.chunks}),
                    "profile": profiling,
                    "read": args.read and bool(framings),
                },
                "connected",
            )
            # The seat saw its welcome; the hub's socket is registered before it sends that.
            for _ in range(30_000):
                if hub.connected(SEAT_KEY):
                    break
                await asyncio.sleep(0.001)
            store.put(SEAT_KEY, manifest, chunks)
            if profiling:
                assert profiler is not None
                profiler.enable()
            t0, c0, l0 = time.perf_counter(), time.process_time(), time.thread_time()
            await hub.send(SEAT_KEY, manifest)
            done = await seat_end.answer("delivered")
            spent = {
                "hub": time.process_time() - c0,
                "hub loop": time.thread_time() - l0,
                "seat": done["cpu"],
                "seat loop": done["loop"],
            }
            if profiling:
                assert profiler is not None
                profiler.disable()
            finished = await seat_end.answer("finished")
            if finished["read"] is not None and timed:
                read_s.append(finished["read"])
            return done["end"] - t0, done["end"] - done["arrived"], spent

        async def baseline(kind: str) -> tuple[float, dict[str, float]]:
            """``plain``, ``plain+disk`` or ``disk`` (the writes alone, no link)."""
            c0, l0 = time.process_time(), time.thread_time()
            chapter = -(-delivered // args.chapters) if kind != "plain" else None
            got = await seat_end.ask(
                {
                    "op": "disk" if kind == "disk" else "plain",
                    "url": f"http://127.0.0.1:{plain_port}/blob",
                    "chapter": chapter,
                },
                "took",
            )
            spent = {
                "hub": time.process_time() - c0,
                "hub loop": time.thread_time() - l0,
                "seat": got["cpu"],
                "seat loop": got["cpu"],
            }
            assert got["got"] == delivered, (got, delivered)
            return got["took"], spent

        for n in range(args.repeat + 1):
            t0 = time.perf_counter()
            manifest, chunks = seal(x, f"bench-{n}", total, args.chapters)
            seal_s.append(time.perf_counter() - t0)
            blob = b"".join(chunks[h] for c in manifest.chapters for h in c.chunks)
            delivered = len(blob)
            # Interleaved, the order turned each round, so the machine's other load (other
            # work on it) falls on all three alike.
            kinds = [kind for kind in KINDS if kind != "json" or not args.no_json]
            order = kinds[n % len(kinds) :] + kinds[: n % len(kinds)]
            timed = n > 0  # the first round warms up
            for kind in order:
                if kind.startswith("plain") or kind == "disk":
                    took, spent = await baseline(kind)
                else:
                    took, tail, spent = await deliver(
                        manifest, chunks, [1] if kind == "binary" else [], timed
                    )
                    if timed:
                        tails[kind].append(tail)
                if timed:
                    times[kind].append(took)
                    for side, s in spent.items():
                        cpu[kind][side].append(s)

        await seat_end.stop()
        await plain_runner.cleanup()
        await runner.cleanup()
        if profiler is not None:
            profiler.dump_stats(f"{args.profile}.hub")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report(args, delivered, times, cpu, tails, seal_s, read_s)


def report(
    args: argparse.Namespace,
    delivered: int,
    times: dict[str, list[float]],
    cpu: dict[str, dict[str, list[float]]],
    tails: dict[str, list[float]],
    seal_s: list[float],
    read_s: list[float],
) -> None:
    mib = delivered / (1024 * 1024)
    best = {kind: min(ts) if ts else float("nan") for kind, ts in times.items()}
    print(
        f"payload: {mib:.1f} MiB sealed ({args.chapters} chapters, "
        f"{CHUNK_SIZE // 1024} KiB chunks, window {args.window}), "
        f"best of {args.repeat} after one warm-up, interleaved; hub and seat in two processes"
    )
    print(f"sealing at the hub (not in delivery):   {mib / min(seal_s[1:]):8.1f} MiB/s")
    for kind, label in (
        ("binary", "encrypted delivery, binary frames:    "),
        ("json", "encrypted delivery, JSON/base64 (old):"),
        ("plain", "plain loopback HTTP (aiohttp):        "),
        ("plain+disk", "plain HTTP, written as the cache does:"),
        ("disk", "the disk alone (no link):             "),
    ):
        print(f"{label} {mib / best[kind]:8.1f} MiB/s ({best[kind]:.3f} s)")
    print(f"ratio binary / plain:                   {best['plain'] / best['binary']:8.3f}")
    print(f"ratio binary / plain written to disk:   {best['plain+disk'] / best['binary']:8.3f}")
    print(
        f"highest ratio to plain a durable delivery can have here: {best['plain'] / best['disk']:.3f}"
        " (plain / the disk alone)"
    )
    print(f"ratio JSON / plain:                     {best['plain'] / best['json']:8.3f}")
    print(f"binary over JSON:                       {best['json'] / best['binary']:8.2f}x")
    ratios = sorted(p / b for p, b in zip(times["plain"], times["binary"], strict=True))
    print(
        "ratio binary / plain per round, sorted: "
        + " ".join(f"{r:.3f}" for r in ratios)
        + f" (median {statistics.median(ratios):.3f})"
    )
    tail = statistics.median(tails["binary"])
    print(f"binary: last chunk to last chapter synced {tail * 1000:6.1f} ms (median)")
    arrived = min(t - d for t, d in zip(times["binary"], tails["binary"], strict=True))
    print(
        f"binary, until the last chunk arrived:   {mib / arrived:8.1f} MiB/s "
        f"(ratio to plain {best['plain'] / arrived:.3f}; the last chapter's write and fsync "
        "not counted)"
    )
    for kind in KINDS:
        spent = cpu[kind]
        if not spent["hub"]:
            continue  # --no-json
        print(
            f"CPU ms per {kind:6} transfer (least / median): "
            + ", ".join(
                f"{side} {min(s) * 1000:.1f} / {statistics.median(s) * 1000:.1f}"
                for side, s in spent.items()
                # The plain client is all loop; the disk alone's hub served the untimed fetch.
                if not (kind.startswith("plain") and side == "seat loop")
                and not (kind == "disk" and side != "seat")
            )
        )
    if read_s:
        print(f"decrypting every chapter at the seat:   {mib / min(read_s):8.1f} MiB/s")


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
        help="write cProfiles of both event loops during the timed binary deliveries to "
        "FILE.hub and FILE.seat",
    )
    parser.add_argument("--read", action="store_true", help="also time decryption at the seat")
    parser.add_argument(
        "--no-json",
        action="store_true",
        help="leave out the JSON/base64 delivery (to profile the binary one alone, e.g. with "
        "perf on each process)",
    )
    args = parser.parse_args()
    if args.repeat < 1 or args.chapters < 1 or args.mb <= 0 or args.window < 1:
        parser.error("--repeat, --chapters, --window and --mb must be positive")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
