"""The client end of ``bench/chapter_sync.py``, in a process of its own: the seat (``SeatLink`` +
``ChapterCache``, wired as ``SeatAgent.open`` wires them) and the plain download's aiohttp client.

A real seat is another machine: its receiving, checking and writing do not share an event loop
(or a CPU) with the hub's sending. Neither does the plain download's client share one with its
server, so both transfers are measured between two processes alike. The hub process starts this
one and drives it with one JSON object per line on stdin; every answer is one JSON line on
stdout (logs go to stderr). Times are ``time.perf_counter()``, which on Linux is
``CLOCK_MONOTONIC`` and so comparable between the two processes.

Commands (after a first line with the seat's keys and where to keep its state):

* ``{"op": "seat", ...}``: connect a fresh seat (new state directory, new channel), answer
  ``connected``; when every chapter of the manifest the hub then sends is written and synced,
  answer ``delivered`` at once (the time, the last chunk's arrival, this process's CPU and its
  event loop thread's CPU since ``connected``); then wait for the seat's status report, wipe,
  disconnect and answer ``finished``.
* ``{"op": "plain", "url": ..., "size": ...}``: download the URL, answer its time and CPU.
* ``{"op": "stop"}``: write the profile (if asked for) and end.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import structlog
from aiohttp import ClientSession
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seat_agent.chapter_files import write_chapter
from seat_agent.chapters import ChapterCache
from seat_agent.connection import SeatLink
from seat_agent.keys import SeatIdentity
from seat_protocol.events import ChunkReceived, Connected, Event
from seat_protocol.messages import CHUNK_SIZE, PROTOCOL_VERSION, AppMessage, ChapterStatus


def reply(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class SeatEnd:
    def __init__(self, setup: dict[str, Any]) -> None:
        self.ed = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(setup["ed25519"]))
        self.x = X25519PrivateKey.from_private_bytes(bytes.fromhex(setup["x25519"]))
        self.seat_key: str = setup["seat_key"]
        self.hub_url: str = setup["hub_url"]
        self.hub_id: str = setup["hub_id"]
        self.work = Path(setup["work"])
        self.window: int = setup["window"]
        self.runs = 0
        # The seat end's event loop during the timed binary deliveries (``--profile``).
        self.profiler = cProfile.Profile(time.thread_time) if setup.get("profile") else None
        self.profile_path: str | None = setup.get("profile")

    async def seat(self, cmd: dict[str, Any]) -> None:
        self.runs += 1
        framings = tuple(cmd["framings"])
        chapters: int = cmd["chapters"]
        wanted: int = cmd["chunks"]
        state = self.work / f"seat-{self.runs}"
        state.mkdir()
        identity = SeatIdentity(self.seat_key, self.hub_url, self.hub_id, self.ed, self.x, state)
        cache = await ChapterCache.open(state, identity, window=self.window)
        done = asyncio.Event()
        connected = asyncio.Event()
        arrived: list[float] = []
        received = 0

        def progress() -> None:
            # Cheap on purpose (called after every change): a real agent has no such listener.
            if cache.chapters_stored == chapters:
                done.set()

        cache.add_listener(progress)

        async def on_event(event: Event) -> None:
            nonlocal received
            if isinstance(event, ChunkReceived):
                received += 1
                if received == wanted:
                    arrived.append(time.perf_counter())
            await cache.on_event(event)
            if isinstance(event, Connected):
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
        profiling = self.profiler is not None and bool(cmd.get("profile"))
        if profiling:
            assert self.profiler is not None
            self.profiler.enable()
        c0, l0 = time.process_time(), time.thread_time()
        reply(connected=True)
        await asyncio.wait_for(done.wait(), 600)
        end = time.perf_counter()
        cpu, loop = time.process_time() - c0, time.thread_time() - l0
        if profiling:
            assert self.profiler is not None
            self.profiler.disable()
        reply(delivered=True, end=end, arrived=arrived[0], cpu=cpu, loop=loop)
        # The seat then decrypts every chapter to report its status: not part of delivery,
        # but waited for, so it does not run into the next transfer.
        await asyncio.wait_for(reported.wait(), 600)
        read = None
        if cmd.get("read"):
            t0 = time.perf_counter()
            for entry in cache.entries():
                await cache.read(entry.label)
            read = time.perf_counter() - t0
        await cache.wipe()
        # The wipe's deletions reach the disk before the next round: else the next round's
        # first fsync commits them (it took 33-36 ms against 3 ms here), a cost of the bench's
        # one-session-after-another, not of delivering a session's chapters.
        await asyncio.to_thread(os.sync)
        task.cancel()
        await asyncio.wait({task})
        reply(finished=True, read=read)

    async def plain(self, cmd: dict[str, Any]) -> None:
        # ``chapter`` set: the download is also written to disk as the cache writes chapters
        # (every ``chapter`` bytes one file, written and synced by ``write_chapter`` in a worker
        # thread while the rest arrives), and it ends once every file is synced.
        chapter: int | None = cmd.get("chapter")
        folder = self._folder("plain")
        writes: list[asyncio.Task[None]] = []
        pieces: list[bytes] = []
        held = 0

        def write(pieces: list[bytes]) -> None:
            path = folder / str(len(writes))
            writes.append(asyncio.create_task(asyncio.to_thread(write_chapter, path, pieces)))

        async with ClientSession() as client:
            t0, c0 = time.perf_counter(), time.process_time()
            async with client.get(cmd["url"]) as resp:
                got = 0
                async for piece in resp.content.iter_chunked(CHUNK_SIZE):
                    got += len(piece)
                    if chapter is not None:
                        pieces.append(piece)
                        held += len(piece)
                        if held >= chapter:
                            write(pieces)
                            pieces, held = [], 0
            if pieces:
                write(pieces)
            await asyncio.gather(*writes)
            took, cpu = time.perf_counter() - t0, time.process_time() - c0
        await _cleared(folder)
        reply(took=took, cpu=cpu, got=got)

    async def disk(self, cmd: dict[str, Any]) -> None:
        # The disk alone: the same bytes, already in this process's memory (fetched first, not
        # timed), written as the cache writes chapters (``write_chapter``: one writev, one
        # fsync, a rename, a directory fsync, each chapter in its own worker thread), every
        # chapter started at once: the least time any delivery that makes these chapters
        # durable on this disk can take, whatever its link.
        chapter: int = cmd["chapter"]
        folder = self._folder("disk")
        async with ClientSession() as client, client.get(cmd["url"]) as resp:
            pieces = [piece async for piece in resp.content.iter_chunked(CHUNK_SIZE)]
        per = -(-chapter // CHUNK_SIZE)  # pieces per chapter (each piece is one chunk's size)
        chapters = [pieces[i : i + per] for i in range(0, len(pieces), per)]
        t0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(
            *(
                asyncio.to_thread(write_chapter, folder / str(n), chunks)
                for n, chunks in enumerate(chapters)
            )
        )
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
        await _cleared(folder)
        reply(took=took, cpu=cpu, got=sum(map(len, pieces)))

    def _folder(self, kind: str) -> Path:
        """A new folder for one baseline transfer's files."""
        self.runs += 1
        folder = self.work / f"{kind}-{self.runs}"
        folder.mkdir()
        return folder


async def _cleared(folder: Path) -> None:
    """A baseline's files deleted and the deletions synced, as after a seat round (``seat``)."""
    await asyncio.to_thread(shutil.rmtree, folder)
    await asyncio.to_thread(os.sync)


async def main() -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(40),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    end = SeatEnd(json.loads(await reader.readline()))
    reply(ready=True)
    while line := await reader.readline():
        cmd = json.loads(line)
        if cmd["op"] == "seat":
            await end.seat(cmd)
        elif cmd["op"] == "plain":
            await end.plain(cmd)
        elif cmd["op"] == "disk":
            await end.disk(cmd)
        else:
            break
    if end.profiler is not None and end.profile_path:
        end.profiler.dump_stats(end.profile_path)
    reply(stopped=True)


if __name__ == "__main__":
    asyncio.run(main())
