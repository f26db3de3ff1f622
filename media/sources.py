"""Capture sources of a seat terminal (工位终端): the camera through OpenCV, the microphone.

:func:`open_camera` opens a V4L2 device (by index) or a video file with OpenCV and returns a
:class:`CameraTrack` producing yuv420p frames at the configured size and rate. OpenCV's
capture calls block, so they run on one dedicated thread per camera (``VideoCapture`` is
not meant to be shared between threads), never on the event loop, and never on the default
executor that aiortc's encoders use.

:func:`open_microphone` opens an FFmpeg capture input (ALSA here, PulseAudio where FFmpeg
has it; ``lavfi`` gives a synthetic tone for tests) through aiortc's ``MediaPlayer``.

Failures to open are raised at opening time as :class:`~media.errors.SourceError`
subclasses, not at the first frame. This module must never encode media.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from media._timing import VIDEO_TIME_BASE, FramePacer, check_fps, check_size
from media.errors import CameraUnavailable, MicrophoneUnavailable

__all__ = [
    "CameraSettings",
    "CameraTrack",
    "Microphone",
    "open_camera",
    "open_microphone",
]

AudioBackend = Literal["alsa", "pulse", "lavfi"]


@dataclass(frozen=True, slots=True)
class CameraSettings:
    """What the camera track produces, whatever the device or file delivers."""

    width: int = 640
    height: int = 480
    fps: float = 15
    loop: bool = True  # a file starts again at its end (a device ignores this)

    def __post_init__(self) -> None:
        check_size(self.width, self.height)
        check_fps(self.fps)


class CameraTrack(MediaStreamTrack):
    """Frames from an opened OpenCV capture, resized and converted off the event loop."""

    kind = "video"

    def __init__(
        self,
        capture: cv2.VideoCapture,
        source: int | str,
        settings: CameraSettings,
        executor: concurrent.futures.ThreadPoolExecutor,
    ) -> None:
        super().__init__()
        self.source = source
        self.settings = settings
        self._capture = capture
        self._executor = executor
        self._pacer = FramePacer(settings.fps)
        self._is_file = isinstance(source, str)

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._pacer.next_pts()
        loop = asyncio.get_running_loop()
        try:
            picture = await loop.run_in_executor(self._executor, self._grab)
        except RuntimeError as exc:  # the executor was shut down by stop()
            raise MediaStreamError from exc
        if picture is None:
            self.stop()
            raise MediaStreamError
        frame = VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        return frame

    def stop(self) -> None:
        if self.readyState == "live":
            # Release on the capture thread, after any read in progress.
            self._executor.submit(self._capture.release)
            self._executor.shutdown(wait=False)
        super().stop()

    def _grab(self) -> npt.NDArray[np.uint8] | None:
        ok, bgr = self._capture.read()
        if not ok and self._is_file and self.settings.loop:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = self._capture.read()
        if not ok or bgr is None:
            return None
        size = (self.settings.width, self.settings.height)
        if (bgr.shape[1], bgr.shape[0]) != size:
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)


async def open_camera(
    source: int | str | Path, settings: CameraSettings | None = None
) -> CameraTrack:
    """Open a camera device (index) or a video file (path); raise if it yields no picture."""
    settings = settings or CameraSettings()
    name: int | str = source if isinstance(source, int) else str(source)
    executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="camera")
    loop = asyncio.get_running_loop()
    try:
        capture = await loop.run_in_executor(executor, _open_capture, name, settings)
    except CameraUnavailable:
        executor.shutdown(wait=False)
        raise
    return CameraTrack(capture, name, settings, executor)


def _open_capture(source: int | str, settings: CameraSettings) -> cv2.VideoCapture:
    if isinstance(source, int):
        capture = cv2.VideoCapture(source, cv2.CAP_V4L2)
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, settings.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, settings.height)
        capture.set(cv2.CAP_PROP_FPS, settings.fps)
    elif not Path(source).is_file():
        raise CameraUnavailable(source, "no such file")
    else:
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        raise CameraUnavailable(source, "OpenCV cannot open it")
    ok, _ = capture.read()
    if not ok:
        capture.release()
        raise CameraUnavailable(source, "it opened but delivered no picture")
    if isinstance(source, str):
        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
    return capture


@dataclass(frozen=True)
class Microphone:
    """An opened audio capture: publish :attr:`track`; :meth:`stop` releases the device."""

    player: MediaPlayer
    track: MediaStreamTrack

    def stop(self) -> None:
        self.track.stop()


def open_microphone(
    device: str = "default", *, backend: AudioBackend = "alsa", sample_rate: int = 48_000
) -> Microphone:
    """Open an audio capture device through FFmpeg.

    ``device`` is an ALSA PCM name (``default``, ``hw:1,0``), a PulseAudio source, or for
    ``lavfi`` a filter graph such as ``sine=frequency=440`` (a tone, for tests).
    """
    options = {"sample_rate": str(sample_rate)}
    if backend != "lavfi":
        options["channels"] = "1"
    try:
        player = MediaPlayer(device, format=backend, options=options)
    except ValueError as exc:  # PyAV: this FFmpeg build has no such input format
        raise MicrophoneUnavailable(
            device, backend, f"this FFmpeg has no {backend!r} input"
        ) from exc
    except av.FFmpegError as exc:
        raise MicrophoneUnavailable(device, backend, exc.strerror or str(exc)) from exc
    if player.audio is None:
        raise MicrophoneUnavailable(device, backend, "it has no audio stream")
    return Microphone(player, player.audio)
