"""Frame analysis for the conduct monitor: faces (OpenCV Haar cascade), darkness, motion.

:class:`FrameAnalyser` turns one decoded picture of a seat into a
:class:`~media.conduct.Observation`: how many frontal faces it shows, whether the camera
is covered or the picture too dark, and how much it changed since the previous sample.
It works on the grey picture only, scaled down, and is meant to run a few times a second
at most, on a worker thread: a call takes milliseconds to tens of milliseconds, which the
event loop must never wait for.

The cascade is OpenCV's ``haarcascade_frontalface_default.xml`` (shipped by
opencv-python-headless 4.x as ``cv2.data.haarcascades``; 5.x dropped it). This module
must never decide alerts: that is :mod:`media.conduct`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from av import VideoFrame

from media.conduct import Observation
from media.errors import ConductConfigError
from media.testpattern import luma_plane

__all__ = ["DEFAULT_CASCADE", "AnalyserSettings", "FrameAnalyser"]

# cv2.data is missing from OpenCV's type stubs.
DEFAULT_CASCADE = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]

Gray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class AnalyserSettings:
    """How a picture is judged. Grey levels are 0..255 (video range is 16..235)."""

    analysis_width: int = 320  # faces are searched in a picture scaled to this width
    min_face: int = 24  # pixels, at the analysis width
    min_neighbours: int = 5  # Haar detections that must agree: fewer = more false faces
    dark_level: int = 50  # 90 % of the picture darker than this = dark or covered
    flat_range: int = 16  # contrast (5th to 95th percentile) below this = covered
    motion_width: int = 160

    def __post_init__(self) -> None:
        if self.analysis_width < 64:
            raise ConductConfigError("analysis_width", self.analysis_width, "at least 64 pixels")
        if self.min_face < 12:
            raise ConductConfigError("min_face", self.min_face, "at least 12 pixels")


class FrameAnalyser:
    """Analyses successive samples of one seat's picture (it remembers the previous one)."""

    def __init__(
        self, settings: AnalyserSettings | None = None, cascade: Path = DEFAULT_CASCADE
    ) -> None:
        self.settings = settings or AnalyserSettings()
        self._classifier = cv2.CascadeClassifier(str(cascade))
        if self._classifier.empty():
            raise ConductConfigError("cascade", str(cascade), "a readable OpenCV Haar cascade")
        self._previous: npt.NDArray[np.float32] | None = None

    def analyse(self, frame: VideoFrame | Gray, at: float) -> Observation:
        """Observe one picture taken at ``at`` (seconds, the caller's clock)."""
        luma = luma_plane(frame)
        dark = self._is_dark(luma)
        faces = 0 if dark else self.count_faces(luma)
        return Observation(at=at, faces=faces, dark=dark, motion=self._motion(luma))

    def count_faces(self, luma: Gray) -> int:
        """Frontal faces in a grey picture."""
        s = self.settings
        height, width = luma.shape
        scale = s.analysis_width / width
        small = luma if scale >= 1 else _resize(luma, s.analysis_width, int(height * scale))
        found = self._classifier.detectMultiScale(
            cv2.equalizeHist(small),
            scaleFactor=1.1,
            minNeighbors=s.min_neighbours,
            minSize=(s.min_face, s.min_face),
        )
        boxes = [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]
        return len(_outermost_removed(boxes))

    def _is_dark(self, luma: Gray) -> bool:
        # Percentiles, not the mean: a bright overlay strip or a lamp in a corner must not
        # hide a covered lens.
        sample = luma[::4, ::4]
        p5, p90, p95 = np.percentile(sample, (5, 90, 95))
        return bool(p90 < self.settings.dark_level or p95 - p5 < self.settings.flat_range)

    def _motion(self, luma: Gray) -> float | None:
        height, width = luma.shape
        width_small = self.settings.motion_width
        small = _resize(luma, width_small, max(1, height * width_small // width))
        current = small.astype(np.float32)
        previous, self._previous = self._previous, current
        if previous is None or previous.shape != current.shape:
            return None
        return float(np.mean(np.abs(current - previous)))


Box = tuple[int, int, int, int]


def _outermost_removed(boxes: list[Box]) -> list[Box]:
    """Drop detections that enclose another one.

    On a blurred (heavily compressed) picture the cascade also fires on a whole head and
    shoulders around the real face; two real faces never enclose each other.
    """
    return [box for box in boxes if not any(_encloses(box, other) for other in boxes)]


def _encloses(outer: Box, inner: Box) -> bool:
    if outer == inner:
        return False
    ox, oy, ow, oh = outer
    ix, iy, iw, ih = inner
    return ox <= ix and oy <= iy and ix + iw <= ox + ow and iy + ih <= oy + oh


def _resize(luma: Gray, width: int, height: int) -> Gray:
    resized = cv2.resize(luma, (width, height), interpolation=cv2.INTER_AREA)
    return np.asarray(resized, dtype=np.uint8)
