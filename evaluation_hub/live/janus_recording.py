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

Outages are reported as the built-in recorder's are (``live.recording``): through the same
:data:`~evaluation_hub.live.recording.OutageSink` (``recording.stopped`` /
``recording.resumed``, subject ``seat:<seat key>``) and the same wall announcement, and
:meth:`JanusRecordings.state` says ``stopped`` meanwhile. A part is lost when its conversion
fails (``conversion_failed``: a corrupt ``.mjr``, janus-pp-rec or FFmpeg failing, the seat's
folder unusable; ``disk_full`` when the system says no space is left), or when Janus refuses to
record the next part at a cut (``recorder_refused``: nothing more of that publication is
recorded). Janus may also accept every request and write nothing (its ``rec_dir`` cannot be
made or written, the disk is gone): while the publication's media flows, the hub watches the
current part's ``.mjr`` files, and when they do not appear or stop growing for
``silent_after`` seconds the recording is stopped (``recorder_silent``, ``stopped_at``: when they
last grew, or when the media began to flow); when they grow again it is resumed
(``resumed_at``: when the hub saw them grow). ``stopped_at`` is the start of the first part lost (the time in its base name), not
the moment the hub noticed; the next part converted of the same publication ends the outage
(``resumed_at``: its start). The payloads are the built-in recorder's, except that Janus counts
no frames for the hub: ``segments_lost`` (parts lost) stands for ``dropped_frames``. A lost
part's ``.mjr`` files stay in Janus's folder for whoever recovers them by hand.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import shutil
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation_hub.live.recording import (
    RESUMED_EVENT,
    STOPPED_EVENT,
    OutageSink,
    RecordingState,
    SegmentSink,
    seat_directory_name,
)
from evaluation_hub.secretfile import PRIVATE_FILE, private_dir
from media.errors import JanusError, JanusRecordingFailed
from media.janus.client import JanusHandle
from media.janus.postprocess import convert, recordings_of

__all__ = ["JanusRecordings"]

logger = logging.getLogger(__name__)

_SILENT = "recorder_silent"


@dataclass
class _Outage:
    reason: str
    detail: str
    #: wall-clock seconds: the start of the first part lost
    at: float
    lost: int = 1


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
    #: parts of this publication lost since this began (None: every part so far recorded)
    outage: _Outage | None = None
    #: watches that Janus writes while the media flows (``recorder_silent``)
    listener: asyncio.Task[None] | None = None


def _start_of(base: str) -> float:
    """When the part ``base`` began (wall-clock seconds): the hub put it in the name."""
    millis, _sep, _number = base.rpartition("--")[2].partition("-")
    return int(millis) / 1000


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


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
        outages: OutageSink | None = None,
        silent_after: float | None = 10.0,
        check_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        #: Janus's rec_dir (as the hub reaches it)
        self.janus_dir = janus_dir
        #: cut a publication's recording this often (None: one segment per publication)
        self.segment_seconds = segment_seconds
        #: a flowing publication whose files have not grown this long is ``recorder_silent``
        #: (None: not watched); looked at every ``check_interval`` seconds
        self.silent_after = silent_after
        self.check_interval = check_interval
        self._monotonic = monotonic
        self._sink = sink
        self._outages = outages
        self._wall_clock = wall_clock
        #: told each seat's new recording state as it stops or resumes (the wall's live event)
        self.announce: Callable[[str, RecordingState], Coroutine[Any, Any, None]] | None = None
        self._open: dict[str, _Publication] = {}  # by the publication's first base name
        #: segments converted since the start, and outages begun by reason (``/metrics``)
        self.segments = 0
        self.outages: dict[str, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def _base(self, seat_key: str, number: int) -> str:
        return f"{seat_directory_name(seat_key)}--{round(self._wall_clock() * 1000)}-{number}"

    def begin(self, seat_key: str, publication: int) -> str:
        """The base name Janus records the seat's new publication under (its first segment)."""
        try:
            self.janus_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # Janus will write nothing there: ``recorder_silent`` says so
            logger.error("janus recording folder %s unusable: %s", self.janus_dir, exc)
        base = self._base(seat_key, publication)
        self._open[base] = _Publication(seat_key, publication, self._wall_clock(), base)
        return base

    def follow(
        self, base: str, handle: JanusHandle, flowing: Callable[[], bool] = lambda: True
    ) -> None:
        """Cut the publication begun as ``base`` every ``segment_seconds`` through its
        publisher's handle: Janus closes one file and opens the next (with a keyframe); and,
        while ``flowing()`` says its media arrives, check that Janus writes it."""
        publication = self._open.get(base)
        if publication is None:
            return
        if self.segment_seconds is not None:
            publication.cutter = asyncio.ensure_future(self._cut_every(publication, handle))
        if self.silent_after is not None:
            publication.listener = asyncio.ensure_future(self._listen(publication, flowing))

    def state(self, seat_key: str) -> RecordingState | None:
        """The seat's recording now (its latest publication's); None if none is open here."""
        mine = [p for p in self._open.values() if p.seat_key == seat_key]
        if not mine:
            return None
        latest = max(mine, key=lambda p: p.started)
        if latest.outage is not None:
            return RecordingState("stopped", latest.outage.reason, latest.outage.at)
        return RecordingState("recording", since=latest.started)

    def states(self) -> dict[str, RecordingState]:
        """Every seat with a publication open here, and its recording now."""
        seats = {p.seat_key for p in self._open.values()}
        return {seat: state for seat in seats if (state := self.state(seat)) is not None}

    def end(self, seat_key: str, base: str) -> None:
        """The publication begun as ``base`` ended (its handle detached): convert the rest."""
        publication = self._open.pop(base, None)
        if publication is None:
            return
        for task in (publication.cutter, publication.listener):
            if task is not None:
                task.cancel()
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
                if publication in self._open.values():  # not the publisher leaving meanwhile
                    await self._stopped(
                        publication, "recorder_refused", str(exc), _start_of(following)
                    )
                return False
            return True

    async def _listen(self, publication: _Publication, flowing: Callable[[], bool]) -> None:
        """Stop the recording as ``recorder_silent`` when the flowing publication's files do
        not grow for ``silent_after`` seconds; resume it when they grow again."""
        assert self.silent_after is not None
        written: tuple[str, int] = ("", 0)  # the part and its size when they last grew
        grew: tuple[float, float] | None = None  # then: (monotonic, wall clock)
        silent = False
        while True:
            await asyncio.sleep(self.check_interval)
            if not flowing():
                grew = None  # no media, nothing to write: the clock starts when it flows
                continue
            base = publication.current
            size = await asyncio.to_thread(_written, self.janus_dir / base)
            now = (self._monotonic(), self._wall_clock())
            if size > (written[1] if base == written[0] else 0):
                written, grew = (base, size), now
                if silent:
                    silent = False
                    logger.info("janus writes the recording of %s again", publication.seat_key)
                    if publication.outage is not None and publication.outage.reason == _SILENT:
                        # shielded: the publication's end must not lose the audit event
                        await asyncio.shield(self._resumed(publication, now[1]))
            elif grew is None:
                grew = now
            elif not silent and now[0] - grew[0] >= self.silent_after:
                silent = True
                detail = f"janus wrote nothing under {self.janus_dir} for {self.silent_after:g} s"
                logger.error("recording of %s: %s", publication.seat_key, detail)
                await asyncio.shield(self._stopped(publication, _SILENT, detail, grew[1]))

    async def _finish(self, publication: _Publication) -> None:
        async with publication.lock:  # a cut under way completes first
            self._queue(publication, publication.current)

    def _queue(self, publication: _Publication, base: str) -> None:
        previous = publication.converting

        async def in_turn() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await self._convert(publication, base)

        task = asyncio.ensure_future(in_turn())
        publication.converting = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _convert(self, publication: _Publication, base: str) -> None:
        seat_key = publication.seat_key
        _seat, _sep, rest = base.rpartition("--")
        try:
            folder = private_dir(self.directory / seat_directory_name(seat_key))
            out = folder / f"janus-{rest}.webm"
            await _settled(self.janus_dir / base)
            segment = await convert(self.janus_dir / base, out)
            if segment is not None:
                out.chmod(PRIVATE_FILE)
        except (JanusRecordingFailed, OSError) as exc:
            logger.error("recording %s of seat %s lost: %s", base, seat_key, exc)
            if isinstance(exc, JanusRecordingFailed):
                full = "No space left on device" in exc.detail
                detail = f"{exc.step} could not convert {exc.recording}"
            else:
                full, detail = exc.errno == errno.ENOSPC, exc.strerror or str(exc)
            reason = "disk_full" if full else "conversion_failed"
            await self._stopped(publication, reason, detail, _start_of(base))
            return
        if segment is None:
            logger.info("janus recorded nothing for %s of seat %s", base, seat_key)
            return
        self.segments += 1
        outage = publication.outage
        if outage is None or _start_of(base) >= outage.at:  # not a part from before it
            await self._resumed(publication, _start_of(base))
        if self._sink is None:
            return
        file = out.relative_to(self.directory).as_posix()
        try:
            await self._sink(seat_key, file, segment)
        except Exception:
            logger.exception("recording segment %s of seat %s not audited", file, seat_key)

    # --- outages ---------------------------------------------------------------------------

    async def _stopped(
        self, publication: _Publication, reason: str, detail: str, at: float
    ) -> None:
        if publication.outage is not None:
            publication.outage.lost += 1  # the same outage goes on
            return
        publication.outage = _Outage(reason, detail, at)
        self.outages[reason] = self.outages.get(reason, 0) + 1
        payload = {"reason": reason, "detail": detail, "stopped_at": _iso(at)}
        await self._report(STOPPED_EVENT, publication, payload)

    async def _resumed(self, publication: _Publication, at: float) -> None:
        outage, publication.outage = publication.outage, None
        if outage is None:
            return
        payload = {
            "stopped_at": _iso(outage.at),
            "resumed_at": _iso(at),
            "outage_ms": round((at - outage.at) * 1000),
            "free_bytes": _free_bytes(self.directory),
            "segments_lost": outage.lost,
        }
        await self._report(RESUMED_EVENT, publication, payload)

    async def _report(self, kind: str, publication: _Publication, payload: dict[str, Any]) -> None:
        seat_key = publication.seat_key
        state = self.state(seat_key)
        if self.announce is not None and state is not None:
            self._track(self.announce(seat_key, state))
        if self._outages is not None:
            await self._audit(self._outages, kind, seat_key, payload)

    async def _audit(
        self, sink: OutageSink, kind: str, seat_key: str, payload: dict[str, Any]
    ) -> None:
        try:
            await sink(kind, seat_key, payload)
        except Exception:
            logger.exception("recording %s of seat %s not audited", kind, seat_key)


def _written(base: Path) -> int:
    """How many bytes Janus has written for the part ``base`` so far."""
    try:
        video, audio = recordings_of(base)
        return sum(f.stat().st_size for f in video + audio)
    except OSError:  # the folder is gone or never was: nothing written
        return 0


def _free_bytes(directory: Path) -> int | None:
    try:
        return shutil.disk_usage(directory).free
    except OSError:  # the outage's end is reported all the same
        return None


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
