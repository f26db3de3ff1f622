"""Pure rules of per-seat recording (工位录像): where segments start, packet timing, retention.

A seat's recording is a series of WebM segments remuxed from the encoded frames the hub
forwards, never decoded or encoded. :class:`SegmentPlanner` turns the stream of received
frames into actions for the writer: open a segment at a VP8 keyframe, write a packet with its
presentation time in the segment, close the segment once it is long enough and the next
keyframe arrives. Video times come from the 90 kHz RTP clock, audio times from the 48 kHz one;
the two clocks start at unrelated values, so each is anchored once to the arrival time of its
first frame. :func:`expired_segments` decides which closed segments retention removes.

This module does no I/O and keeps no clock: callers pass ``now``. It must never import
asyncio, aiortc or PyAV.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from media.errors import MediaError

__all__ = [
    "AUDIO_CLOCK_RATE",
    "VIDEO_CLOCK_RATE",
    "Action",
    "CloseSegment",
    "OpenSegment",
    "PlannerCounters",
    "RecordingConfigError",
    "SegmentPlanner",
    "StoredSegment",
    "WritePacket",
    "expired_segments",
    "opus_samples",
    "vp8_dimensions",
]

VIDEO_CLOCK_RATE: Final = 90_000
AUDIO_CLOCK_RATE: Final = 48_000
# How long (media time) the planner waits between two keyframe requests of its own: the
# forwarder paces requests too, this only keeps a lost request from leaving a segment open.
_KEYFRAME_ASK_INTERVAL: Final = VIDEO_CLOCK_RATE

# RFC 6716 §3.1: frame size in 48 kHz samples by TOC configuration number.
_SILK_SAMPLES: Final = (480, 960, 1920, 2880)
_HYBRID_SAMPLES: Final = (480, 960)
_CELT_SAMPLES: Final = (120, 240, 480, 960)


class RecordingConfigError(MediaError):
    """The recorder or retention was configured with a value it cannot use."""

    def __init__(self, setting: str, value: object, expected: str) -> None:
        self.setting = setting
        self.value = value
        self.expected = expected
        super().__init__(f"invalid recording setting {setting} = {value!r}: expected {expected}")


def vp8_dimensions(keyframe: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386 §9.1), or None if not one."""
    if len(keyframe) < 10 or keyframe[0] & 1 or keyframe[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(keyframe[6:8], "little") & 0x3FFF
    height = int.from_bytes(keyframe[8:10], "little") & 0x3FFF
    return width, height


def opus_samples(packet: bytes) -> int:
    """How many 48 kHz samples an Opus packet holds (RFC 6716 §3.1), 0 if it is malformed."""
    if not packet:
        return 0
    config = packet[0] >> 3
    if config < 12:
        per_frame = _SILK_SAMPLES[config % 4]
    elif config < 16:
        per_frame = _HYBRID_SAMPLES[config % 2]
    else:
        per_frame = _CELT_SAMPLES[config % 4]
    code = packet[0] & 3
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    elif len(packet) >= 2:
        frames = packet[1] & 0x3F
    else:
        return 0
    return per_frame * frames


@dataclass(frozen=True, slots=True)
class OpenSegment:
    """Start segment ``index``; its video track has this picture size."""

    index: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class WritePacket:
    """Mux one encoded frame; ``pts`` and ``duration`` are in the kind's clock, from 0."""

    kind: str  # "video" or "audio"
    data: bytes
    pts: int
    duration: int
    keyframe: bool


@dataclass(frozen=True, slots=True)
class CloseSegment:
    """Finish segment ``index``: what it holds, and its length in seconds."""

    index: int
    video_frames: int
    audio_frames: int
    duration: Fraction


Action = OpenSegment | WritePacket | CloseSegment


@dataclass(frozen=True, slots=True)
class PlannerCounters:
    """What the planner kept and threw away."""

    segments_opened: int
    video_written: int
    audio_written: int
    skipped_before_keyframe: int  # frames that arrived while no segment could start
    dropped_video: int  # frames the writer had no room for, and non-keyframes after them
    dropped_audio: int
    late_audio: int  # audio older than the keyframe that opened its segment


@dataclass
class _Segment:
    index: int
    start: int  # video RTP timestamp of the opening keyframe
    size: tuple[int, int]
    video_frames: int = 0
    audio_frames: int = 0
    end: Fraction = Fraction(0)  # seconds from the start to the end of the last packet


@dataclass
class SegmentPlanner:
    """Cuts one seat's encoded frames into segments that each start at a video keyframe.

    Feed every video frame to :meth:`video` and every audio frame to :meth:`audio`, with
    the time it arrived; tell :meth:`drop` about a frame the writer had no room for. A
    segment closes at the first keyframe once it has lasted ``segment_seconds`` of media
    time; :attr:`wants_keyframe` then asks the caller to request one from the publisher.
    """

    segment_seconds: float
    wants_keyframe: bool = False
    _segment: _Segment | None = None
    _next_index: int = 0
    _waiting_for_keyframe: bool = True
    _video_origin: float | None = None  # arrival time minus media time of the first frame
    _audio_offset: Fraction | None = None  # audio media time minus video media time, seconds
    _last_ask: int | None = None
    _counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.segment_seconds <= 3600:
            raise RecordingConfigError(
                "segment_seconds", self.segment_seconds, "a length from above 0 to 3600 seconds"
            )

    def video(self, data: bytes, timestamp: int, keyframe: bool, now: float) -> list[Action]:
        """A video frame (RTP ``timestamp``, 90 kHz) arrived at ``now``."""
        if self._video_origin is None:
            self._video_origin = now - timestamp / VIDEO_CLOCK_RATE
        size = vp8_dimensions(data) if keyframe else None
        actions: list[Action] = []
        segment = self._segment
        if size is not None and (
            segment is None
            or size != segment.size
            or timestamp - segment.start >= self.segment_seconds * VIDEO_CLOCK_RATE
        ):
            # A new picture size also needs a new segment: a WebM track has one size.
            actions += self.finish()
            segment = self._segment = _Segment(self._next_index, timestamp, size)
            self._next_index += 1
            self._count("segments_opened")
            self._waiting_for_keyframe = False
            self._last_ask = None
            actions.append(OpenSegment(segment.index, *size))
        elif segment is None or (self._waiting_for_keyframe and size is None):
            self._count("skipped_before_keyframe" if segment is None else "dropped_video")
            self._ask_for_keyframe(timestamp)
            return actions
        self._waiting_for_keyframe = False
        pts = timestamp - segment.start
        segment.video_frames += 1
        segment.end = max(segment.end, Fraction(pts, VIDEO_CLOCK_RATE))
        self._count("video_written")
        actions.append(WritePacket("video", data, pts, 0, size is not None))
        if pts >= self.segment_seconds * VIDEO_CLOCK_RATE:
            self._ask_for_keyframe(timestamp)
        else:
            self.wants_keyframe = False
        return actions

    def audio(self, data: bytes, timestamp: int, now: float) -> list[Action]:
        """An audio frame (RTP ``timestamp``, 48 kHz) arrived at ``now``."""
        if self._audio_offset is None and self._video_origin is not None:
            origin = now - timestamp / AUDIO_CLOCK_RATE
            # Rounded to whole audio samples, so every later time is exact.
            self._audio_offset = Fraction(round((origin - self._video_origin) * AUDIO_CLOCK_RATE))
        segment = self._segment
        if segment is None or self._audio_offset is None:
            self._count("skipped_before_keyframe")
            return []
        samples = (
            timestamp
            + self._audio_offset
            - Fraction(segment.start * AUDIO_CLOCK_RATE, VIDEO_CLOCK_RATE)
        )
        if samples < 0:
            self._count("late_audio")
            return []
        pts = round(samples)
        duration = opus_samples(data)
        segment.audio_frames += 1
        segment.end = max(segment.end, Fraction(pts + duration, AUDIO_CLOCK_RATE))
        self._count("audio_written")
        return [WritePacket("audio", data, pts, duration, True)]

    def drop(self, kind: str, timestamp: int | None = None) -> None:
        """The writer had no room for a ``kind`` frame: video resumes at the next keyframe."""
        if kind == "video":
            self._count("dropped_video")
            self._waiting_for_keyframe = True
            if timestamp is not None:
                self._ask_for_keyframe(timestamp)
        else:
            self._count("dropped_audio")

    def finish(self) -> list[Action]:
        """Close the open segment, if any (the stream ended or a new segment starts)."""
        segment, self._segment = self._segment, None
        self._waiting_for_keyframe = True
        if segment is None:
            return []
        return [
            CloseSegment(segment.index, segment.video_frames, segment.audio_frames, segment.end)
        ]

    @property
    def counters(self) -> PlannerCounters:
        get = self._counts.get
        return PlannerCounters(
            segments_opened=get("segments_opened", 0),
            video_written=get("video_written", 0),
            audio_written=get("audio_written", 0),
            skipped_before_keyframe=get("skipped_before_keyframe", 0),
            dropped_video=get("dropped_video", 0),
            dropped_audio=get("dropped_audio", 0),
            late_audio=get("late_audio", 0),
        )

    def _count(self, name: str) -> None:
        self._counts[name] = self._counts.get(name, 0) + 1

    def _ask_for_keyframe(self, timestamp: int) -> None:
        # At most once per second of media time; the caller requests on True.
        if self._last_ask is None or timestamp - self._last_ask >= _KEYFRAME_ASK_INTERVAL:
            self._last_ask = timestamp
            self.wants_keyframe = True
        else:
            self.wants_keyframe = False


@dataclass(frozen=True, slots=True, order=True)
class StoredSegment:
    """A closed segment file: when it was closed (seconds, the caller's epoch) and its name."""

    closed_at: float
    name: str


def expired_segments(
    segments: Iterable[StoredSegment],
    *,
    keep_seconds: float | None = None,
    keep_count: int | None = None,
    now: float,
) -> list[StoredSegment]:
    """The segments retention removes, oldest first.

    A segment is kept only if every given rule keeps it: ``keep_seconds`` keeps those closed
    at most that long before ``now``; ``keep_count`` keeps the newest that many.
    """
    if keep_seconds is None and keep_count is None:
        raise RecordingConfigError(
            "retention", None, "keep_seconds, keep_count or both (nothing would ever be deleted)"
        )
    if keep_seconds is not None and keep_seconds < 0:
        raise RecordingConfigError("keep_seconds", keep_seconds, "0 or more seconds")
    if keep_count is not None and keep_count < 0:
        raise RecordingConfigError("keep_count", keep_count, "0 or more segments")
    ordered: Sequence[StoredSegment] = sorted(segments)
    kept_by_count = len(ordered) if keep_count is None else keep_count
    first_kept = max(0, len(ordered) - kept_by_count)
    expired = []
    for position, segment in enumerate(ordered):
        too_old = keep_seconds is not None and now - segment.closed_at > keep_seconds
        if position < first_kept or too_old:
            expired.append(segment)
    return expired
