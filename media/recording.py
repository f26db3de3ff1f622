"""Per-seat recording (工位录像) without transcoding: forwarded VP8 and Opus remuxed into WebM.

A :class:`SeatRecorder` subscribes to a seat's :class:`~media.forwarding.PublisherForwarder`
like one more viewer, with its own bounded buffers, and cuts what it receives into WebM
segments on the pure rules of :mod:`media.segmenting`: every segment starts at a keyframe, and
the recorder asks the publisher for one when a segment is due. Muxing, closing and hashing
happen on one writer thread per recorder, behind a bounded queue: a slow disk makes the
recorder drop frames until the next keyframe (counted), never grow memory or stall the event
loop. Each closed segment is reported, with its SHA-256 and duration, to a callback on the
event loop (the hub records it as an audit event). :func:`prune` applies retention.

A segment is written as ``<name>.webm.part`` and renamed when complete, so a reader, a hasher
or :func:`prune` never sees a half-written file. Set-up errors are raised at once
(:class:`~media.segmenting.RecordingConfigError`, :class:`~media.errors.PublisherNotReady`);
a segment the disk or PyAV fails to write is logged, removed, counted in
``segments_failed`` and never reported, and recording goes on with the next segment.

A full disk (``ENOSPC``, a quota or the file size limit) is not retried segment by segment:
the recorder abandons the segment being written, reports :class:`RecordingStopped` to its
``on_outage`` callback and drops what it receives (counted) while it looks, every
``probe_interval`` seconds, at the free space of its directory; once ``resume_free_bytes`` are
free it reports :class:`RecordingResumed` and starts a new segment at the next keyframe. Closed
segments are never touched, so the hashes already reported stay true.

This module must never decode or encode media, and must never touch aiortc internals.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import av
import av.error
from aiortc.mediastreams import MediaStreamError

from media.diskspace import free_bytes, out_of_space, prune, sha256_of
from media.errors import PublisherNotReady
from media.fanout import is_keyframe
from media.forwarding import ForwardedTrack, PublisherForwarder
from media.segmenting import (
    AUDIO_CLOCK_RATE,
    VIDEO_CLOCK_RATE,
    Action,
    CloseSegment,
    OpenSegment,
    PlannerCounters,
    RecordingConfigError,
    SegmentPlanner,
    WritePacket,
)

__all__ = [
    "DEFAULT_QUEUE_CAPACITY",
    "RecordedSegment",
    "RecorderCounters",
    "RecordingConfigError",
    "RecordingResumed",
    "RecordingStopped",
    "SeatRecorder",
    "SegmentWriter",
    "out_of_space",
    "prune",
    "sha256_of",
]

logger = logging.getLogger(__name__)

# About four seconds of 15 fps video with its audio: rides out a disk hiccup, and bounds
# what a stuck disk can hold in memory to a few hundred kilobytes.
DEFAULT_QUEUE_CAPACITY: Final = 256
# Close, open and the keyframe of a cut may follow a full queue's last frame.
_CUT_ACTIONS: Final = 3
_SUFFIX: Final = ".webm"
_PART: Final = ".part"
# Also safe inside the glob that looks for earlier recordings with the same prefix.
_PREFIX: Final = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_TIME_BASES: Final = {
    "video": Fraction(1, VIDEO_CLOCK_RATE),
    "audio": Fraction(1, AUDIO_CLOCK_RATE),
}


@dataclass(frozen=True, slots=True)
class RecordedSegment:
    """A closed, complete segment file, as reported to the recorder's callback."""

    path: Path
    index: int
    sha256: str  # hex digest of the file's bytes
    duration: float  # seconds of media, from the opening keyframe to the end of the last packet
    video_frames: int
    audio_frames: int
    size: int  # bytes


@dataclass(frozen=True, slots=True)
class RecordingStopped:
    """The recorder stopped writing because its disk is full; ``at`` is wall-clock seconds."""

    reason: str  # "disk_full"
    detail: str  # the error as the system worded it
    at: float


@dataclass(frozen=True, slots=True)
class RecordingResumed:
    """The recorder writes again: ``free_bytes`` were free at ``at`` (wall-clock seconds)."""

    stopped_at: float
    at: float
    free_bytes: int
    dropped_frames: int  # frames received and not recorded while it was stopped


@dataclass(frozen=True, slots=True)
class RecorderCounters:
    """A snapshot of one recorder's counters."""

    planner: PlannerCounters
    dropped_by_forwarder: int  # frames the recorder's fan-out buffers overflowed
    segments_closed: int
    segments_failed: int
    queue_high_water: int
    outages: int = 0  # times the disk filled up
    dropped_while_stopped: int = 0


class SegmentWriter:
    """Muxes one segment at a time into a WebM file; runs on the recorder's writer thread."""

    def __init__(self) -> None:
        self._container: av.container.OutputContainer | None = None
        self._streams: dict[str, av.stream.Stream] = {}
        self._part: Path | None = None

    def open(self, part: Path, action: OpenSegment, with_audio: bool) -> None:
        container = av.open(str(part), "w", format="webm")
        self._container, self._part = container, part
        video = container.add_mux_stream("vp8", width=action.width, height=action.height)
        video.time_base = _TIME_BASES["video"]
        self._streams = {"video": video}
        if with_audio:
            audio = container.add_mux_stream("opus", rate=AUDIO_CLOCK_RATE)
            audio.time_base = _TIME_BASES["audio"]
            self._streams["audio"] = audio

    def write(self, action: WritePacket) -> None:
        stream = self._streams.get(action.kind)
        if self._container is None or stream is None:
            return  # the segment failed to open: its packets have nowhere to go
        packet = av.Packet(action.data)
        packet.stream = stream
        packet.time_base = _TIME_BASES[action.kind]
        packet.pts = packet.dts = action.pts
        if action.duration:
            packet.duration = action.duration
        packet.is_keyframe = action.keyframe
        self._container.mux(packet)

    def close(self, final: Path) -> None:
        container, part = self._container, self._part
        self._container, self._part, self._streams = None, None, {}
        if container is None or part is None:
            raise OSError(f"segment {final.name} was never opened")
        container.close()
        os.replace(part, final)

    def abandon(self) -> None:
        """Give up the segment being written after an error, and remove its partial file."""
        container, part = self._container, self._part
        self._container, self._part, self._streams = None, None, {}
        if container is not None:
            try:
                container.close()
            except (av.error.FFmpegError, OSError) as exc:
                if not out_of_space(exc):  # a full disk is reported once, by the recorder
                    logger.warning("closing an abandoned segment failed", exc_info=True)
        if part is not None:
            part.unlink(missing_ok=True)


_STOP: Final = object()
_RESUME: Final = object()  # the writer thread skips everything after a full disk until this


class SeatRecorder:
    """Records one seat's forwarded video (VP8) and audio (Opus) into WebM segments."""

    def __init__(
        self,
        forwarder: PublisherForwarder,
        directory: Path,
        prefix: str,
        on_segment: Callable[[RecordedSegment], None],
        *,
        segment_seconds: float = 10.0,
        capacity: int = DEFAULT_QUEUE_CAPACITY,
        clock: Callable[[], float] = time.monotonic,
        writer: SegmentWriter | None = None,
        wall_clock: Callable[[], float] = time.time,
        on_outage: Callable[[RecordingStopped | RecordingResumed], None] | None = None,
        resume_free_bytes: int = 64 << 20,
        probe_interval: float = 2.0,
        free_space: Callable[[Path], int] = free_bytes,
    ) -> None:
        if capacity < 1:
            raise RecordingConfigError("capacity", capacity, "at least 1 queued frame")
        if not _PREFIX.fullmatch(prefix):
            raise RecordingConfigError(
                "prefix", prefix, "letters, digits, '-', '_' or '.', not starting with '.'"
            )
        if not directory.is_dir():
            raise RecordingConfigError("directory", str(directory), "an existing directory")
        if any(directory.glob(f"{prefix}-*")):
            raise RecordingConfigError(
                "prefix", prefix, f"a prefix no earlier recording in {directory} used"
            )
        self._planner = SegmentPlanner(segment_seconds)
        self._forwarder = forwarder
        self._directory = directory
        self._prefix = prefix
        self._on_segment = on_segment
        self._capacity = capacity
        self._clock = clock
        self._writer = writer or SegmentWriter()
        self._queue: queue.Queue[Action | object] = queue.Queue(capacity + _CUT_ACTIONS)
        self._tracks: dict[str, ForwardedTrack] = {}
        self._pumps: list[asyncio.Task[None]] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = 0
        self._failed = 0
        self._high_water = 0
        self._wall_clock = wall_clock
        # The segment being written and the wall-clock time its first frame was queued, so an
        # alert can point at a place in the recording (supervision evidence).
        self._open_segment: tuple[str, float] | None = None
        self._on_outage = on_outage
        self._resume_free_bytes = resume_free_bytes
        self._probe_interval = probe_interval
        self._free_space = free_space
        self._outage: RecordingStopped | None = None
        self._outages = 0
        self._dropped_while_stopped = 0
        self._stopped_drops = 0  # of the current outage
        self._next_probe = 0.0

    @property
    def outage(self) -> RecordingStopped | None:
        """Why the recorder is not writing now (its disk is full), or None while it writes."""
        return self._outage

    def start(self) -> None:
        """Subscribe to the forwarder and start writing (call on the event loop)."""
        video = self._forwarder.video.codec
        if video is None:
            raise PublisherNotReady("video")
        if video.mime_type.lower() != "video/vp8":
            raise RecordingConfigError("video codec", video.mime_type, "video/VP8 (WebM)")
        audio = self._forwarder.audio.codec
        if audio is not None and audio.mime_type.lower() != "audio/opus":
            raise RecordingConfigError("audio codec", audio.mime_type, "audio/opus (WebM)")
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(
            target=self._write_segments,
            args=(audio is not None,),
            name=f"recorder-{self._prefix}",
            daemon=True,
        )
        self._thread.start()
        self._tracks["video"] = self._forwarder.video.subscribe(self._capacity)
        if audio is not None:
            self._tracks["audio"] = self._forwarder.audio.subscribe(self._capacity)
        for kind, track in self._tracks.items():
            self._pumps.append(asyncio.create_task(self._pump(kind, track)))

    async def stop(self) -> None:
        """Stop receiving, close the open segment and wait until it is written and reported."""
        for track in self._tracks.values():
            track.stop()
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        self._pumps.clear()
        if self._thread is None:
            return
        # The writer may be behind; these waits happen off the event loop.
        for action in self._planner.finish():
            await asyncio.to_thread(self._queue.put, action)
        await asyncio.to_thread(self._queue.put, _STOP)
        await asyncio.to_thread(self._thread.join)
        self._thread = None
        # Reports the writer posted just before it stopped run before stop() returns.
        await asyncio.sleep(0)

    @property
    def counters(self) -> RecorderCounters:
        return RecorderCounters(
            planner=self._planner.counters,
            dropped_by_forwarder=sum(t.buffer.dropped for t in self._tracks.values()),
            segments_closed=self._closed,
            segments_failed=self._failed,
            queue_high_water=self._high_water,
            outages=self._outages,
            dropped_while_stopped=self._dropped_while_stopped,
        )

    # --- event loop side ---------------------------------------------------------------------

    async def _pump(self, kind: str, track: ForwardedTrack) -> None:
        while True:
            try:
                packet = await track.recv()
            except MediaStreamError:
                return
            self._feed(kind, bytes(packet), int(packet.pts or 0))

    def _feed(self, kind: str, data: bytes, timestamp: int) -> None:
        planner = self._planner
        if self._outage is not None:
            self._dropped_while_stopped += 1
            self._stopped_drops += 1
            if self._clock() >= self._next_probe:
                self._probe()
            return
        if self._queue.qsize() >= self._capacity:
            # The disk is behind: drop rather than queue more (video then waits for a keyframe).
            planner.drop(kind, timestamp if kind == "video" else None)
        elif kind == "video":
            keyframe = is_keyframe("video/vp8", data)
            self._enqueue(planner.video(data, timestamp, keyframe, self._clock()))
        else:
            self._enqueue(planner.audio(data, timestamp, self._clock()))
        if planner.wants_keyframe:
            planner.wants_keyframe = False
            self._forwarder.video.request_keyframe()

    def position(self, at: float) -> tuple[str, float] | None:
        """The file name of the segment being written and how many seconds wall-clock time
        ``at`` (epoch seconds) lies into it; None before the first segment opens."""
        if self._open_segment is None:
            return None
        name, started = self._open_segment
        return name, max(0.0, at - started)

    def _enqueue(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, OpenSegment):
                self._open_segment = (self._path(action.index).name, self._wall_clock())
            # Never blocks: the capacity check above leaves room for one cut's actions.
            self._queue.put_nowait(action)
        self._high_water = max(self._high_water, self._queue.qsize())

    def _segment_closed(self, segment: RecordedSegment) -> None:
        self._closed += 1
        self._on_segment(segment)

    def _segment_failed(self) -> None:
        self._failed += 1

    def _space_lost(self, detail: str) -> None:
        if self._outage is not None:
            return
        self._outage = RecordingStopped("disk_full", detail, self._wall_clock())
        self._outages += 1
        self._stopped_drops = 0
        # The writer abandoned the open segment; after the outage the next one opens at a
        # keyframe (what the planner queued meanwhile is skipped by the writer).
        self._planner.finish()
        self._open_segment = None
        self._next_probe = self._clock() + self._probe_interval
        logger.warning(
            "recording %s stopped: no space left in %s (%s); it resumes once %d MiB are free",
            self._prefix, self._directory, detail, self._resume_free_bytes >> 20,
        )  # fmt: skip
        if self._on_outage is not None:
            self._on_outage(self._outage)

    def _probe(self) -> None:
        """While stopped: resume if the disk has room again (and the writer caught up)."""
        assert self._outage is not None
        self._next_probe = self._clock() + self._probe_interval
        try:
            free = self._free_space(self._directory)
        except OSError:
            return  # looked at again at the next probe
        if free < self._resume_free_bytes or self._queue.qsize() >= self._capacity:
            return
        self._queue.put_nowait(_RESUME)
        resumed = RecordingResumed(self._outage.at, self._wall_clock(), free, self._stopped_drops)
        self._outage = None
        self._forwarder.video.request_keyframe()
        logger.info("recording %s resumed: %d MiB free", self._prefix, free >> 20)
        if self._on_outage is not None:
            self._on_outage(resumed)

    # --- writer thread -----------------------------------------------------------------------

    def _path(self, index: int) -> Path:
        return self._directory / f"{self._prefix}-{index:05d}{_SUFFIX}"

    def _write_segments(self, with_audio: bool) -> None:
        assert self._loop is not None
        loop = self._loop
        abandoned = False  # the current segment failed: skip its packets and its close
        full = False  # the disk is full: skip everything until the recorder resumes
        while (action := self._queue.get()) is not _STOP:
            if action is _RESUME:
                full, abandoned = False, True
                continue
            if full:
                continue
            if isinstance(action, OpenSegment):
                abandoned = False
            elif abandoned:
                continue
            try:
                if isinstance(action, OpenSegment):
                    final = self._path(action.index)
                    self._writer.open(final.with_name(final.name + _PART), action, with_audio)
                elif isinstance(action, WritePacket):
                    self._writer.write(action)
                elif isinstance(action, CloseSegment):
                    loop.call_soon_threadsafe(self._segment_closed, self._finish(action))
            except (av.error.FFmpegError, OSError) as exc:
                abandoned = True
                if out_of_space(exc):
                    full = True  # logged once, as an outage, by the recorder
                    loop.call_soon_threadsafe(self._space_lost, str(exc))
                else:
                    logger.exception("recording segment failed; it is abandoned")
                self._writer.abandon()
                loop.call_soon_threadsafe(self._segment_failed)

    def _finish(self, action: CloseSegment) -> RecordedSegment:
        final = self._path(action.index)
        self._writer.close(final)
        return RecordedSegment(
            path=final,
            index=action.index,
            sha256=sha256_of(final),
            duration=float(action.duration),
            video_frames=action.video_frames,
            audio_frames=action.audio_frames,
            size=final.stat().st_size,
        )
