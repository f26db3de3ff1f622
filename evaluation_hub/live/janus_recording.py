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

One segment per publication: Janus's recorder is not cut every ``recording_segment_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evaluation_hub.live.recording import RecordingState, SegmentSink, seat_directory_name
from evaluation_hub.secretfile import PRIVATE_FILE, private_dir
from media.errors import JanusError
from media.janus.postprocess import convert, recordings_of

__all__ = ["JanusRecordings"]

logger = logging.getLogger(__name__)


class JanusRecordings:
    """This process's publishers' recordings, from Janus's files to audited segments."""

    def __init__(
        self,
        directory: Path,
        janus_dir: Path,
        sink: SegmentSink | None,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        #: Janus's rec_dir (as the hub reaches it)
        self.janus_dir = janus_dir
        self._sink = sink
        self._wall_clock = wall_clock
        self._recording: dict[str, tuple[str, float]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def begin(self, seat_key: str, publication: int) -> str:
        """The base name Janus records the seat's new publication under."""
        self.janus_dir.mkdir(parents=True, exist_ok=True)
        started = self._wall_clock()
        base = f"{seat_directory_name(seat_key)}--{round(started * 1000)}-{publication}"
        self._recording[seat_key] = (base, started)
        return base

    def state(self, seat_key: str) -> RecordingState | None:
        found = self._recording.get(seat_key)
        return None if found is None else RecordingState("recording", since=found[1])

    def end(self, seat_key: str, base: str) -> None:
        """The publication recorded as ``base`` ended (its handle detached): convert it."""
        if self._recording.get(seat_key, ("",))[0] == base:
            del self._recording[seat_key]
        task = asyncio.ensure_future(self._convert(seat_key, base))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every conversion under way (the hub stopping, a test reading the chain)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

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
