"""The conduct monitor of one seat, wired to its forwarded video stream.

:class:`SeatMonitor` samples the seat's picture at a low rate without decoding the stream:
every ``sample_interval`` it asks the publisher for a keyframe (through the forwarder's
paced requests), decodes only keyframes, at most one at a time, on its own worker thread,
analyses them with :class:`~media.faces.FrameAnalyser`, and feeds the observations and the
stream's silence to :class:`~media.conduct.ConductMonitor`. Alert events go to a callback
on the event loop.

Times are in the forwarder's clock (``TrackForwarder.clock``): give the forwarder
``clock=time.time`` for wall-clock alert times. This module must never run a decode or an
analysis on the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Callable

import av
from av import VideoFrame
from av.video.codeccontext import VideoCodecContext

from media.conduct import ConductAlert, ConductMonitor, ConductRules, Observation
from media.faces import AnalyserSettings, FrameAnalyser
from media.forwarding import EncodedFrame, TrackForwarder

__all__ = ["SeatMonitor"]

logger = logging.getLogger(__name__)

_DECODERS = {"video/vp8": "libvpx", "video/h264": "h264"}


class _KeyframeDecoder:
    """Decodes self-contained keyframes; lives on the monitor's worker thread."""

    def __init__(self) -> None:
        self._codecs: dict[str, VideoCodecContext] = {}

    def decode(self, frame: EncodedFrame) -> VideoFrame | None:
        name = _DECODERS.get(frame.mime_type.lower())
        if name is None:
            return None
        codec = self._codecs.get(name)
        if codec is None:
            created = av.CodecContext.create(name, "r")
            assert isinstance(created, VideoCodecContext)
            codec = self._codecs[name] = created
        try:
            pictures = codec.decode(av.Packet(frame.data))
        except av.FFmpegError as exc:
            logger.warning("conduct monitor could not decode a keyframe: %s", exc)
            return None
        for picture in pictures:
            if isinstance(picture, VideoFrame):
                return picture
        return None


class SeatMonitor:
    """Samples one seat's forwarded video and reports debounced conduct alerts."""

    def __init__(
        self,
        seat: str,
        forwarder: TrackForwarder,
        on_alert: Callable[[ConductAlert], None],
        *,
        rules: ConductRules | None = None,
        analyser: AnalyserSettings | None = None,
        sample_interval: float = 1.0,
    ) -> None:
        if sample_interval <= 0:
            raise ValueError(f"sample interval must be > 0 seconds, not {sample_interval}")
        self.seat = seat
        self._forwarder = forwarder
        self._on_alert = on_alert
        self._interval = sample_interval
        self._clock = forwarder.clock
        self._rules = ConductMonitor(seat, rules or ConductRules(), self._clock())
        self._analyser = FrameAnalyser(analyser)
        self._decoder = _KeyframeDecoder()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="conduct")
        self._busy = False
        self._closed = False
        self._last_sample: float | None = None
        self._remove_listener: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.observations: list[Observation] = []  # the latest few, for the wall's detail view

    def start(self) -> None:
        self._remove_listener = self._forwarder.add_keyframe_listener(self._on_keyframe)
        self._task = asyncio.ensure_future(self._tick())

    async def close(self) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._closed = True
        # Do not wait for an analysis in progress: its result is ignored once closed.
        self._executor.shutdown(wait=False, cancel_futures=True)

    def active(self) -> list[ConductAlert]:
        return self._rules.active()

    async def _tick(self) -> None:
        while True:
            self._forwarder.request_keyframe()
            now = self._clock()
            last = self._forwarder.counters.last_frame_at
            self._emit(self._rules.check(now, last))
            await asyncio.sleep(self._interval)

    def _on_keyframe(self, frame: EncodedFrame) -> None:
        due = self._last_sample is None or frame.received_at - self._last_sample >= (
            self._interval / 2
        )
        if self._busy or self._closed or not due:
            return
        self._busy = True
        self._last_sample = frame.received_at
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._sample, frame)
        future.add_done_callback(self._sampled)

    def _sample(self, frame: EncodedFrame) -> Observation | None:
        picture = self._decoder.decode(frame)
        return None if picture is None else self._analyser.analyse(picture, frame.received_at)

    def _sampled(self, future: asyncio.Future[Observation | None]) -> None:
        self._busy = False
        if self._closed or future.cancelled():
            return
        error = future.exception()
        if error is not None:
            logger.error("conduct analysis failed for seat %s", self.seat, exc_info=error)
            return
        observation = future.result()
        if observation is None:
            return
        self.observations = [*self.observations[-9:], observation]
        self._emit(self._rules.observe(observation))

    def _emit(self, alerts: list[ConductAlert]) -> None:
        for alert in alerts:
            self._on_alert(alert)
