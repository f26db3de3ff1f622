"""Pure rules of encoded forwarding: keyframe detection, per-viewer buffers, request pacing.

A forwarded video stream can only be joined, or resumed after frames were dropped, at a
keyframe: every later frame refers to the ones before it. So a viewer's buffer accepts
frames only from a keyframe on, holds a bounded number of them, and on overflow drops all
it holds and waits for the next keyframe. Keyframe requests to the publisher are paced
(at most one per interval) because each costs the publisher a large frame for every viewer.

This module does no I/O and keeps no clock: callers pass ``now`` (seconds, any epoch).
It must never import asyncio, aiortc or PyAV.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = [
    "KeyframeRequestGate",
    "Offer",
    "ViewerBuffer",
    "is_keyframe",
]

T = TypeVar("T")

_VP8_START_CODE = b"\x9d\x01\x2a"
_H264_IDR = 5
_H264_SPS = 7


def is_keyframe(mime_type: str, data: bytes) -> bool:
    """Whether an encoded frame (as reassembled by the receiver) can start a decode.

    Audio codecs have no inter-frame dependency, so every audio frame counts as one.
    """
    kind, _, codec = mime_type.lower().partition("/")
    if kind == "audio":
        return True
    if codec == "vp8":
        # RFC 6386 §9.1: bit 0 of the frame tag is 0 for a key frame, which carries a start code.
        return len(data) >= 10 and not data[0] & 1 and data[3:6] == _VP8_START_CODE
    if codec == "h264":
        return any(nal_type in (_H264_IDR, _H264_SPS) for nal_type in _h264_nal_types(data))
    return False


def _h264_nal_types(data: bytes) -> list[int]:
    types = []
    start = data.find(b"\x00\x00\x01")
    while start != -1 and start + 3 < len(data):
        types.append(data[start + 3] & 0x1F)
        start = data.find(b"\x00\x00\x01", start + 3)
    return types


class Offer(enum.Enum):
    """What a viewer buffer did with an offered frame."""

    QUEUED = "queued"
    SKIPPED = "skipped"  # waiting for a keyframe, the frame is useless to this viewer
    OVERFLOWED = "overflowed"  # the buffer was full: everything dropped, now waiting


@dataclass
class ViewerBuffer(Generic[T]):
    """A bounded frame queue for one viewer that only ever restarts at a keyframe."""

    capacity: int
    waiting_for_keyframe: bool = True
    dropped: int = 0
    overflows: int = 0
    _frames: deque[T] = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"viewer buffer capacity must be at least 1, not {self.capacity}")

    def __len__(self) -> int:
        return len(self._frames)

    def offer(self, frame: T, keyframe: bool) -> Offer:
        """Queue ``frame`` if the viewer can decode from it and there is room."""
        if self.waiting_for_keyframe and not keyframe:
            self.dropped += 1
            return Offer.SKIPPED
        if len(self._frames) >= self.capacity:
            # Frames after a gap cannot be decoded, so keep none of them: the viewer
            # resumes at the next keyframe, with no backlog adding to its delay.
            self.dropped += len(self._frames)
            self._frames.clear()
            self.overflows += 1
            self.waiting_for_keyframe = True
            if keyframe:
                return self.offer(frame, keyframe)
            self.dropped += 1
            return Offer.OVERFLOWED
        self.waiting_for_keyframe = False
        self._frames.append(frame)
        return Offer.QUEUED

    def pop(self) -> T | None:
        """The oldest queued frame, or None."""
        return self._frames.popleft() if self._frames else None

    def restart(self) -> None:
        """Drop everything and wait for a keyframe (the viewer lost pictures downstream)."""
        self.dropped += len(self._frames)
        self._frames.clear()
        self.waiting_for_keyframe = True


@dataclass
class KeyframeRequestGate:
    """Paces keyframe requests to the publisher: at most one per ``min_interval`` seconds.

    A request refused for pacing stays pending; :meth:`due_at` says when it may go, and a
    keyframe arriving meanwhile satisfies it.
    """

    min_interval: float
    sent: int = 0
    suppressed: int = 0
    pending: bool = False
    _last_sent: float | None = None

    def __post_init__(self) -> None:
        if self.min_interval < 0:
            raise ValueError(f"keyframe request interval must be >= 0, not {self.min_interval}")

    def ask(self, now: float) -> bool:
        """A keyframe is wanted: True if a request should be sent now."""
        if self._last_sent is None or now - self._last_sent >= self.min_interval:
            self._last_sent = now
            self.sent += 1
            self.pending = False
            return True
        self.suppressed += 1
        self.pending = True
        return False

    def due_at(self) -> float | None:
        """When a pending request may be sent, or None if nothing is pending."""
        if not self.pending or self._last_sent is None:
            return None
        return self._last_sent + self.min_interval

    def keyframe_seen(self) -> None:
        """A keyframe arrived: whoever was waiting has it, nothing is pending any more."""
        self.pending = False
