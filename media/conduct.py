"""Conduct monitor rules (评标纪律监督): debounced alerts from sampled observations of a seat.

The frame analyser (:mod:`media.faces`) turns a sampled picture into an
:class:`Observation`; :class:`ConductMonitor` turns observations, and the time since the
last received frame, into :class:`ConductAlert` events for the supervisors' wall and the
supervision record. Each alert is raised once, when its condition has held for the
configured time, and cleared once, when the condition has been gone for ``clear_after``:
a face missed in one sample or a brief stall raises nothing.

Conditions that a picture cannot tell are left alone, not guessed: a dark or covered camera
says nothing about faces or motion, so those alerts neither start nor clear meanwhile.

Pure logic: time is a parameter (seconds, any epoch); no I/O, no clocks, and it must never
import asyncio, aiortc, PyAV or OpenCV.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from media.errors import ConductConfigError

__all__ = [
    "ALERT_LABELS",
    "AlertKind",
    "ConductAlert",
    "ConductMonitor",
    "ConductRules",
    "Debouncer",
    "Observation",
]


class AlertKind(enum.StrEnum):
    """What a conduct alert is about."""

    SEAT_EMPTY = "seat_empty"
    MULTIPLE_FACES = "multiple_faces"
    CAMERA_COVERED = "camera_covered"
    PICTURE_FROZEN = "picture_frozen"
    STREAM_LOST = "stream_lost"


# What supervisors read on the wall and in the record.
ALERT_LABELS: dict[AlertKind, str] = {
    AlertKind.SEAT_EMPTY: "工位无人",
    AlertKind.MULTIPLE_FACES: "画面中多于一人",
    AlertKind.CAMERA_COVERED: "摄像头被遮挡或画面过暗",
    AlertKind.PICTURE_FROZEN: "画面冻结",
    AlertKind.STREAM_LOST: "视频中断",
}


@dataclass(frozen=True, slots=True)
class Observation:
    """What one sampled picture of a seat shows."""

    at: float
    faces: int
    dark: bool
    motion: float | None  # mean absolute luma change since the previous sample; None at first


@dataclass(frozen=True, slots=True)
class ConductAlert:
    """An alert event: raised (``cleared_at`` None) or cleared, for one seat and kind."""

    seat: str
    kind: AlertKind
    started_at: float
    cleared_at: float | None = None

    @property
    def label(self) -> str:
        return ALERT_LABELS[self.kind]


@dataclass(frozen=True, slots=True)
class ConductRules:
    """Thresholds, in seconds unless stated. Every number is configuration."""

    empty_after: float = 10.0
    multiple_faces_after: float = 3.0
    covered_after: float = 3.0
    frozen_after: float = 10.0
    lost_after: float = 5.0
    clear_after: float = 2.0
    frozen_motion: float = 0.5  # grey levels of mean change below which nothing moved

    def __post_init__(self) -> None:
        for name in ("empty_after", "multiple_faces_after", "covered_after", "frozen_after"):
            if getattr(self, name) < 0:
                raise ConductConfigError(name, getattr(self, name), "a duration >= 0 seconds")
        if self.lost_after <= 0:
            raise ConductConfigError("lost_after", self.lost_after, "a duration > 0 seconds")
        if self.clear_after < 0:
            raise ConductConfigError("clear_after", self.clear_after, "a duration >= 0 seconds")
        if self.frozen_motion <= 0:
            raise ConductConfigError(
                "frozen_motion", self.frozen_motion, "a mean grey-level change > 0"
            )


@dataclass
class Debouncer:
    """Raise once after a condition holds ``raise_after``; clear once after it is gone
    ``clear_after``. Feed it ``(now, condition)`` in time order."""

    raise_after: float
    clear_after: float
    since: float | None = None  # start of the current run of the condition
    gone_since: float | None = None  # start of the current run without it, while raised
    raised_at: float | None = field(default=None)  # started_at of the raised alert

    def update(self, now: float, condition: bool) -> tuple[str, float, float | None] | None:
        """Return ("raise", started_at, None), ("clear", started_at, cleared_at) or None."""
        if condition:
            self.gone_since = None
            if self.since is None:
                self.since = now
            if self.raised_at is None and now - self.since >= self.raise_after:
                self.raised_at = self.since
                return ("raise", self.since, None)
            return None
        self.since = None
        if self.raised_at is None:
            return None
        if self.gone_since is None:
            self.gone_since = now
        if now - self.gone_since >= self.clear_after:
            started, cleared = self.raised_at, self.gone_since
            self.raised_at = self.gone_since = None
            return ("clear", started, cleared)
        return None


class ConductMonitor:
    """The debounced conduct alerts of one seat."""

    def __init__(self, seat: str, rules: ConductRules, now: float) -> None:
        self.seat = seat
        self.rules = rules
        self._created_at = now
        self._debouncers = {
            AlertKind.SEAT_EMPTY: Debouncer(rules.empty_after, rules.clear_after),
            AlertKind.MULTIPLE_FACES: Debouncer(rules.multiple_faces_after, rules.clear_after),
            AlertKind.CAMERA_COVERED: Debouncer(rules.covered_after, rules.clear_after),
            AlertKind.PICTURE_FROZEN: Debouncer(rules.frozen_after, rules.clear_after),
            AlertKind.STREAM_LOST: Debouncer(rules.lost_after, rules.clear_after),
        }

    def observe(self, observation: Observation) -> list[ConductAlert]:
        """Alerts raised or cleared by one sampled picture."""
        at = observation.at
        events = self._update(AlertKind.CAMERA_COVERED, at, observation.dark)
        if not observation.dark:
            events += self._update(AlertKind.SEAT_EMPTY, at, observation.faces == 0)
            events += self._update(AlertKind.MULTIPLE_FACES, at, observation.faces > 1)
            if observation.motion is not None:
                frozen = observation.motion < self.rules.frozen_motion
                events += self._update(AlertKind.PICTURE_FROZEN, at, frozen)
        return events

    def check(self, now: float, last_frame_at: float | None) -> list[ConductAlert]:
        """Alerts raised or cleared by the stream's silence; call it periodically."""
        silent_since = self._created_at if last_frame_at is None else last_frame_at
        lost = now - silent_since >= self.rules.lost_after
        debouncer = self._debouncers[AlertKind.STREAM_LOST]
        if lost and debouncer.since is None:
            # The loss began when the last frame came, not when it was noticed.
            debouncer.since = silent_since
        return self._update(AlertKind.STREAM_LOST, now, lost)

    def active(self) -> list[ConductAlert]:
        """The alerts raised and not yet cleared."""
        return [
            ConductAlert(self.seat, kind, debouncer.raised_at)
            for kind, debouncer in self._debouncers.items()
            if debouncer.raised_at is not None
        ]

    def _update(self, kind: AlertKind, now: float, condition: bool) -> list[ConductAlert]:
        change = self._debouncers[kind].update(now, condition)
        if change is None:
            return []
        _, started_at, cleared_at = change
        return [ConductAlert(self.seat, kind, started_at, cleared_at)]
