"""Recording with the Janus media plane (工位录像，Janus): Janus's recorder writes, the hub
converts and audits.

Each session's room is created with ``record`` on and Janus's ``rec_dir``
(``JanusSettings.record_dir``, a folder Janus and the hub both reach); each publication of a seat
is recorded under a base name the hub gives it (:meth:`JanusRecordings.begin`). When the
publication ends (the seat hangs up, publishes anew after a network drop, or the hub stops) and
the hub has detached its handle (Janus has then closed the files), :meth:`JanusRecordings.end`
converts the ``.mjr`` files to one WebM segment (``media.janus.postprocess``: janus-pp-rec and
FFmpeg, no transcoding) at ``<recordings dir>/<seat>/janus-<start ms>-<publication>.webm``
(0600, folder 0700) and hands it to the same :data:`~evaluation_hub.live.recording.SegmentSink`
as the built-in recorder: hashed into the audit chain for each session the seat's media belongs
to (``recording.segment_closed``), the archive lists and verifies it the same way.

Every ``segment_seconds`` (``recording_segment_s``) the hub cuts the publication's recording
(``configure`` ``record`` off, then on under the next base name: Janus opens the next file with
a keyframe it asks the seat for), and the closed part is converted and audited at once; the
cut loses the few milliseconds between the two requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluation_hub.live.recording import RecordingState, SegmentSink, seat_directory_name
from evaluation_hub.secretfile import PRIVATE_FILE, private_dir
from media.errors import JanusError
from media.janus.client import JanusHandle
from media.janus.postprocess import convert, recordings_of

__all__ = ["JanusRecordings"]

logger = logging.getLogger(__name__)


@dataclass
class _Publication:
    seat_key: str
    number: int
    started: float
    #: the base name of the segment Janus is writing now
    current: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    cutter: asyncio.Task[None] | None = None
    #: the latest conversion: each waits for the one before (segments audited in order)
    converting: asyncio.Future[Any] | None = None


class JanusRecordings:
    """This process's publishers' recordings, from Janus's files to audited segments."""

    def __init__(
        self,
        directory: Path,
        janus_dir: Path,
        sink: SegmentSink | None,
        *,
        segment_seconds: float | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        #: Janus's rec_dir (as the hub reaches it)
        self.janus_dir = janus_dir
        #: cut a publication's recording this often (None: one segment per publication)
        self.segment_seconds = segment_seconds
        self._sink = sink
        self._wall_clock = wall_clock
        self._open: dict[str, _Publication] = {}  # by the publication's first base name
        self._tasks: set[asyncio.Task[Any]] = set()

    def _base(self, seat_key: str, number: int) -> str:
        return f"{seat_directory_name(seat_key)}--{round(self._wall_clock() * 1000)}-{number}"

    def begin(self, seat_key: str, publication: int) -> str:
        """The base name Janus records the seat's new publication under (its first segment)."""
        self.janus_dir.mkdir(parents=True, exist_ok=True)
        base = self._base(seat_key, publication)
        self._open[base] = _Publication(seat_key, publication, self._wall_clock(), base)
        return base

    def follow(self, base: str, handle: JanusHandle) -> None:
        """Cut the publication begun as ``base`` every ``segment_seconds`` through its
        publisher's handle: Janus closes one file and opens the next (with a keyframe)."""
        publication = self._open.get(base)
        if publication is not None and self.segment_seconds is not None:
            publication.cutter = asyncio.ensure_future(self._cut_every(publication, handle))

    def state(self, seat_key: str) -> RecordingState | None:
        started = [p.started for p in self._open.values() if p.seat_key == seat_key]
        return RecordingState("recording", since=max(started)) if started else None

    def end(self, seat_key: str, base: str) -> None:
        """The publication begun as ``base`` ended (its handle detached): convert the rest."""
        publication = self._open.pop(base, None)
        if publication is None:
            return
        if publication.cutter is not None:
            publication.cutter.cancel()
        self._track(self._finish(publication))

    async def drain(self) -> None:
        """Wait for every conversion under way (the hub stopping, a test reading the chain)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _cut_every(self, publication: _Publication, handle: JanusHandle) -> None:
        assert self.segment_seconds is not None
        while True:
            await asyncio.sleep(self.segment_seconds)
            # Shielded: a cut once begun completes, so its segments are all accounted for.
            if not await asyncio.shield(self._cut(publication, handle)):
                return

    async def _cut(self, publication: _Publication, handle: JanusHandle) -> bool:
        async with publication.lock:
            following = self._base(publication.seat_key, publication.number)
            try:
                await handle.message({"request": "configure", "record": False})
            except JanusError as exc:  # the publisher is gone: its end converts the rest
                logger.info("recording of %s not cut: %s", publication.seat_key, exc)
                return False
            done, publication.current = publication.current, following
            self._queue(publication, done)
            try:
                await handle.message(
                    {"request": "configure", "record": True, "filename": following}
                )
            except JanusError as exc:
                logger.warning("recording of %s not resumed: %s", publication.seat_key, exc)
                return False
            return True

    async def _finish(self, publication: _Publication) -> None:
        async with publication.lock:  # a cut under way completes first
            self._queue(publication, publication.current)

    def _queue(self, publication: _Publication, base: str) -> None:
        previous = publication.converting

        async def in_turn() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await self._convert(publication.seat_key, base)

        task = asyncio.ensure_future(in_turn())
        publication.converting = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _convert(self, seat_key: str, base: str) -> None:
        folder = private_dir(self.directory / seat_directory_name(seat_key))
        _seat, _sep, rest = base.rpartition("--")
        out = folder / f"janus-{rest}.webm"
        await _settled(self.janus_dir / base)
        try:
            segment = await convert(self.janus_dir / base, out)
        except JanusError as exc:
            logger.error("recording %s of seat %s lost: %s", base, seat_key, exc)
            return
        if segment is None:
            logger.info("janus recorded nothing for %s of seat %s", base, seat_key)
            return
        out.chmod(PRIVATE_FILE)
        if self._sink is None:
            return
        file = out.relative_to(self.directory).as_posix()
        try:
            await self._sink(seat_key, file, segment)
        except Exception:
            logger.exception("recording segment %s of seat %s not audited", file, seat_key)


async def _settled(base: Path, *, interval: float = 0.1, limit: float = 3.0) -> None:
    """Wait until Janus has stopped writing ``base``'s files (it closes them as the handle
    goes, which may trail the detach's reply a little)."""

    def sizes() -> list[int]:
        video, audio = recordings_of(base)
        return [f.stat().st_size for f in video + audio]

    previous = await asyncio.to_thread(sizes)
    for _ in range(int(limit / interval)):
        await asyncio.sleep(interval)
        now = await asyncio.to_thread(sizes)
        if now == previous:
            return
        previous = now
