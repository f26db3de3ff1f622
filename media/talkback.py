"""Talk-back audio (喊话) toward one seat: :class:`TalkTrack`, the audio track a seat's receive-only
talk-back connection is answered with.

It carries nothing until someone speaks (its ``recv`` waits; aiortc's sender then sends no RTP),
then the speaker's decoded audio frames handed to :meth:`TalkTrack.put`. Each frame is copied
and stamped with this track's own running timestamp, so the seat hears one continuous stream
whoever speaks, turn after turn, and no frame object is shared between the encoders of several
seats (each runs in an executor thread). The queue is bounded: a seat whose connection cannot
keep up loses the oldest audio, never the hub's memory.
"""

from __future__ import annotations

import asyncio
import fractions

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

__all__ = ["TalkTrack"]

RATE = 48_000


class TalkTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, *, max_frames: int = 50) -> None:
        super().__init__()
        self._queue: asyncio.Queue[AudioFrame] = asyncio.Queue(max_frames)
        self._samples = 0
        #: frames handed to the seat's sender (for stats and tests)
        self.sent = 0
        self.dropped = 0

    def put(self, frame: AudioFrame) -> None:
        """Queue a copy of ``frame`` for the seat; the oldest queued frame goes if it is full."""
        if self.readyState != "live":
            return
        copy = AudioFrame.from_ndarray(
            frame.to_ndarray(), format=frame.format.name, layout=frame.layout.name
        )
        copy.sample_rate = frame.sample_rate
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(copy)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        # aiortc's decoders give 48 kHz; the encoder resamples anything else itself.
        rate = frame.sample_rate or RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, rate)
        self._samples += frame.samples
        self.sent += 1
        return frame
