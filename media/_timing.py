"""Frame pacing and size checks shared by the capture and test-pattern sources.

Must never block: waiting happens with ``asyncio.sleep`` on the event loop.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from typing import Final

from media.errors import SourceConfigError

__all__ = ["VIDEO_CLOCK_RATE", "VIDEO_TIME_BASE", "FramePacer", "check_fps", "check_size"]

VIDEO_CLOCK_RATE: Final = 90_000
VIDEO_TIME_BASE: Final = fractions.Fraction(1, VIDEO_CLOCK_RATE)


def check_size(width: int, height: int) -> None:
    """Raise unless the picture size is one every source and VP8 can produce."""
    if width < 160 or width % 2 or width > 3840:
        raise SourceConfigError("width", width, "an even number of pixels from 160 to 3840")
    if height < 120 or height % 2 or height > 2160:
        raise SourceConfigError("height", height, "an even number of pixels from 120 to 2160")


def check_fps(fps: float) -> None:
    """Raise unless the frame rate is between 1 and 60."""
    if not 1 <= fps <= 60:
        raise SourceConfigError("fps", fps, "a frame rate from 1 to 60")


class FramePacer:
    """Paces a source at a fixed frame rate and numbers its frames in a 90 kHz clock.

    A consumer that falls behind gets the late frames at once rather than skipped: the
    sender's own queueing decides what to drop.
    """

    def __init__(self, fps: float) -> None:
        check_fps(fps)
        self.fps = fps
        self._start: float | None = None
        self.index = 0

    async def next_pts(self) -> int:
        """Wait until the next frame is due; return its presentation time (90 kHz)."""
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            wait = self._start + self.index / self.fps - now
            if wait > 0:
                await asyncio.sleep(wait)
        pts = round(self.index * VIDEO_CLOCK_RATE / self.fps)
        self.index += 1
        return pts
