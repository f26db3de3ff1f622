"""Test-pattern sources: a synthetic seat camera with a machine-readable timestamp, and a tone.

The video track plays an expert at a seat (评标工位) for tests, demos and benchmarks: the
scene is a wall and an empty chair, onto which the astronaut portrait shipped with
scikit-image is composited as the expert. Scenes: present, absent (empty chair), two faces,
covered (dark lens) and frozen (the last picture repeated unchanged).

Every frame carries its capture time: two rows of 40 black/white blocks at the top of the
picture encode a 64-bit microsecond wall-clock timestamp and a CRC-16 of it, big enough
(16×16 px at 640×480) to survive VP8 at aiortc's default bitrates. :func:`read_timestamp`
decodes it from any received frame, which gives glass-to-glass latency on one machine.

Frames are produced directly in yuv420p: aiortc relaying frames in another pixel format
to several encoders reformats one shared frame concurrently and crashes (aiortc issue 767).
This module must never block the event loop for longer than drawing one frame.
"""

from __future__ import annotations

import asyncio
import binascii
import enum
import fractions
import importlib.util
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from media._timing import VIDEO_TIME_BASE, FramePacer, check_fps, check_size
from media.errors import TestImageMissing

__all__ = [
    "BLOCKS_PER_ROW",
    "Scene",
    "SceneRenderer",
    "TestPatternTrack",
    "ToneTrack",
    "astronaut_path",
    "draw_timestamp",
    "load_astronaut",
    "luma_plane",
    "read_timestamp",
    "wall_clock_us",
]

Gray = npt.NDArray[np.uint8]

BLOCKS_PER_ROW: Final = 40
_ROWS: Final = 2
_TIMESTAMP_BITS: Final = 64
_CRC_BITS: Final = 16
_BLACK: Final = 16
_WHITE: Final = 235
AUDIO_RATE: Final = 48_000
AUDIO_SAMPLES: Final = 960  # 20 ms, Opus' usual packet duration


def wall_clock_us() -> int:
    """Microseconds since the epoch: the clock drawn into test-pattern frames."""
    return time.time_ns() // 1000


class Scene(enum.StrEnum):
    """What the test-pattern camera shows."""

    PRESENT = "present"
    ABSENT = "absent"
    TWO_FACES = "two_faces"
    COVERED = "covered"
    FROZEN = "frozen"


# --- timestamp strip -------------------------------------------------------------------------


def _block_size(width: int) -> int:
    return width // BLOCKS_PER_ROW


def _bits_of(timestamp_us: int) -> list[int]:
    payload = timestamp_us.to_bytes(8, "big")
    crc = binascii.crc_hqx(payload, 0xFFFF)
    value = (timestamp_us << _CRC_BITS) | crc
    total = _TIMESTAMP_BITS + _CRC_BITS
    return [(value >> (total - 1 - i)) & 1 for i in range(total)]


def draw_timestamp(i420: Gray, width: int, height: int, timestamp_us: int) -> None:
    """Draw ``timestamp_us`` into the top rows of a yuv420p picture laid out as (h*3/2, w)."""
    if not 0 <= timestamp_us < 1 << _TIMESTAMP_BITS:
        raise ValueError(f"timestamp {timestamp_us} does not fit in 64 bits")
    block = _block_size(width)
    luma = i420[:height]
    for index, bit in enumerate(_bits_of(timestamp_us)):
        row, col = divmod(index, BLOCKS_PER_ROW)
        luma[row * block : (row + 1) * block, col * block : (col + 1) * block] = (
            _WHITE if bit else _BLACK
        )
    # Neutral chroma under the strip, so the blocks stay pure black and white.
    chroma_rows = _ROWS * block // 2
    chroma = i420[height:].reshape(-1)
    plane = (width // 2) * (height // 2)
    chroma[: chroma_rows * (width // 2)] = 128
    chroma[plane : plane + chroma_rows * (width // 2)] = 128


def luma_plane(frame: VideoFrame | Gray) -> Gray:
    """The luma (grey) picture of a frame, without copying when it is yuv420p already."""
    if isinstance(frame, np.ndarray):
        if frame.ndim != 2:
            raise ValueError("expected a 2-D grey picture")
        return frame
    if frame.format.name in ("yuv420p", "yuvj420p", "gray"):
        plane = frame.planes[0]
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(frame.height, plane.line_size)
        return rows[:, : frame.width]
    return np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)


def read_timestamp(frame: VideoFrame | Gray) -> int | None:
    """The microsecond timestamp drawn by :func:`draw_timestamp`, or None if none is readable."""
    luma = luma_plane(frame)
    height, width = luma.shape
    block = _block_size(width)
    if block < 4 or height < _ROWS * block:
        return None
    inner = slice(block // 4, block - block // 4)
    strip = luma[: _ROWS * block, : BLOCKS_PER_ROW * block].astype(np.float32)
    cells = strip.reshape(_ROWS, block, BLOCKS_PER_ROW, block)[:, inner, :, inner]
    means = cells.mean(axis=(1, 3)).reshape(-1)
    value = 0
    for bit in means[: _TIMESTAMP_BITS + _CRC_BITS] > (_BLACK + _WHITE) / 2:
        value = (value << 1) | int(bit)
    timestamp, crc = value >> _CRC_BITS, value & 0xFFFF
    if binascii.crc_hqx(timestamp.to_bytes(8, "big"), 0xFFFF) != crc:
        return None
    return timestamp


# --- the scene -------------------------------------------------------------------------------


def astronaut_path() -> Path:
    """Where scikit-image keeps ``astronaut.png``; found without importing scikit-image."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise TestImageMissing
    path = Path(spec.origin).parent / "data" / "astronaut.png"
    if not path.is_file():
        raise TestImageMissing
    return path


def load_astronaut() -> npt.NDArray[np.uint8]:
    """The astronaut portrait as a BGR picture."""
    image = cv2.imread(str(astronaut_path()), cv2.IMREAD_COLOR)
    if image is None:
        raise TestImageMissing
    return np.asarray(image, dtype=np.uint8)


# Head and shoulders of the astronaut portrait (512×512): the face is at about (177, 66, 95, 95).
_PORTRAIT = (slice(0, 300), slice(105, 345))


class SceneRenderer:
    """Draws the test-pattern scenes as yuv420p pictures. Pure computation, no clocks."""

    def __init__(self, width: int, height: int, portrait: npt.NDArray[np.uint8] | None) -> None:
        check_size(width, height)
        self.width = width
        self.height = height
        self._block = _block_size(width)
        room = self._draw_room()
        self._bases: dict[Scene, Gray] = {Scene.ABSENT: _to_i420(room)}
        if portrait is not None:
            crop = portrait[_PORTRAIT]
            one = room.copy()
            self._paste(one, crop, centre_x=width // 2, scale=0.6)
            self._bases[Scene.PRESENT] = _to_i420(one)
            two = one.copy()
            self._paste(two, crop[:, ::-1], centre_x=width * 5 // 6, scale=0.5)
            self._bases[Scene.TWO_FACES] = _to_i420(two)
        dark = np.full((height * 3 // 2, width), 128, np.uint8)
        dark[:height] = 12
        self._bases[Scene.COVERED] = dark

    def scenes(self) -> frozenset[Scene]:
        """The scenes this renderer can draw (faces need the portrait)."""
        return frozenset(self._bases) | {Scene.FROZEN}

    def render(self, scene: Scene, frame_index: int, timestamp_us: int) -> Gray:
        """One picture of ``scene``; FROZEN is the caller's business (it repeats a picture)."""
        if scene not in self._bases:
            raise TestImageMissing
        picture = self._bases[scene].copy()
        if scene is not Scene.COVERED:
            self._draw_motion(picture, frame_index)
        draw_timestamp(picture, self.width, self.height, timestamp_us)
        return picture

    def _draw_room(self) -> npt.NDArray[np.uint8]:
        w, h = self.width, self.height
        room = np.empty((h, w, 3), np.uint8)
        # A pale wall with a soft vertical gradient, a desk and an office chair.
        shade = np.linspace(200, 160, h, dtype=np.float32)[:, None]
        room[:, :, 0] = (shade * 0.92).astype(np.uint8)
        room[:, :, 1] = (shade * 0.97).astype(np.uint8)
        room[:, :, 2] = shade.astype(np.uint8)
        cx = w // 2
        cv2.rectangle(room, (cx - w // 7, h // 4), (cx + w // 7, h * 3 // 4), (60, 60, 70), -1)
        cv2.rectangle(room, (cx - w // 7, h // 4), (cx + w // 7, h * 3 // 4), (40, 40, 45), 3)
        cv2.rectangle(room, (0, h * 3 // 4), (w, h), (70, 105, 140), -1)
        cv2.line(room, (0, h * 3 // 4), (w, h * 3 // 4), (50, 80, 110), 3)
        return room

    def _paste(
        self,
        room: npt.NDArray[np.uint8],
        crop: npt.NDArray[np.uint8],
        centre_x: int,
        scale: float,
    ) -> None:
        target_h = int(self.height * scale)
        target_w = int(crop.shape[1] * target_h / crop.shape[0])
        person = cv2.resize(
            np.ascontiguousarray(crop), (target_w, target_h), interpolation=cv2.INTER_AREA
        )
        bottom = self.height * 3 // 4
        top = bottom - target_h
        left = max(0, min(self.width - target_w, centre_x - target_w // 2))
        # An elliptical soft mask: a cut-out person rather than a pasted rectangle.
        oval = np.zeros((target_h, target_w), np.float32)
        cv2.ellipse(
            oval,
            (target_w // 2, target_h // 2 + target_h // 8),
            (target_w // 2, target_h // 2 + target_h // 8),
            0,
            0,
            360,
            1.0,
            -1,
        )
        mask = np.asarray(cv2.GaussianBlur(oval, (0, 0), 4), np.float32)[:, :, None]
        region = room[top:bottom, left : left + target_w].astype(np.float32)
        blended = region * (1 - mask) + person.astype(np.float32) * mask
        room[top:bottom, left : left + target_w] = blended.astype(np.uint8)

    def _draw_motion(self, picture: Gray, frame_index: int) -> None:
        # A square sliding along the desk edge: the picture of a live camera changes.
        size = self._block * 2
        track = self.width - size
        x = (frame_index * self._block) % (2 * track)
        x = x if x < track else 2 * track - x
        y = self.height - size - self._block
        picture[y : y + size, x : x + size] = 40


def _to_i420(bgr: npt.NDArray[np.uint8]) -> Gray:
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)


class TestPatternTrack(MediaStreamTrack):
    """A video track of the test scene; change :attr:`scene` at any time."""

    # Not a pytest test class, despite the name.
    __test__ = False
    kind = "video"

    def __init__(
        self,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 15,
        scene: Scene = Scene.PRESENT,
        clock_us: Callable[[], int] = wall_clock_us,
        with_faces: bool = True,
    ) -> None:
        check_size(width, height)
        check_fps(fps)
        super().__init__()
        self.scene = scene
        self._pacer = FramePacer(fps)
        self._clock_us = clock_us
        self._renderer = SceneRenderer(width, height, load_astronaut() if with_faces else None)
        self._last: Gray | None = None

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._pacer.next_pts()
        if self.scene is Scene.FROZEN:
            if self._last is None:
                self._last = self._render(Scene.PRESENT)
            picture = self._last
        else:
            picture = self._last = self._render(self.scene)
        frame = VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        return frame

    def _render(self, scene: Scene) -> Gray:
        if scene not in self._renderer.scenes():
            scene = Scene.ABSENT
        return self._renderer.render(scene, self._pacer.index, self._clock_us())


class ToneTrack(MediaStreamTrack):
    """A microphone stand-in: a sine tone, s16 mono at 48 kHz in 20 ms frames."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.3) -> None:
        super().__init__()
        self._step = 2 * math.pi * frequency / AUDIO_RATE
        self._amplitude = int(amplitude * 32767)
        self._samples = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            wait = self._start + self._samples / AUDIO_RATE - now
            if wait > 0:
                await asyncio.sleep(wait)
        phase = (self._samples + np.arange(AUDIO_SAMPLES)) * self._step
        samples = (np.sin(phase) * self._amplitude).astype(np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._samples += AUDIO_SAMPLES
        return frame
