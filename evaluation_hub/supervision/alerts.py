"""Incidents raised from conduct alerts (自动告警转监督事件): which incident an alert becomes.

The conduct monitor (``media.conduct``) raises debounced alerts per seat: seat empty, more than
one face, camera covered or dark, picture frozen, stream lost. Each becomes an incident owned
by the primary (host) site, of the kind and severity below; ``supervision.alert_incidents``
``raise_alert_incident`` writes it, keeping one open incident per seat and alert kind (a repeat
while that incident is open is added to its evidence instead of raising another).

Severities: a second person in view or a covered camera can hide outside contact or
unrecorded behaviour, so they are ``serious``; an empty seat, a frozen picture and a lost
stream are most often an absence or a technical fault, so they start ``minor`` and the host
supervisor raises them by handling the incident if needed.

Pure: no I/O, no clock (times are parameters); it must never import asyncio or sqlalchemy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from media.conduct import ALERT_LABELS, AlertKind

__all__ = [
    "ALERT_ACTOR",
    "ALERT_INCIDENTS",
    "AlertEvidence",
    "AlertIncident",
    "alert_incident",
]

# Who raised an automatic incident (``Incident.raised_by`` and the audit event's actor).
ALERT_ACTOR = "conduct_monitor"


@dataclass(frozen=True, slots=True)
class AlertIncident:
    """The incident kind (shown to supervisors) and severity an alert kind becomes."""

    kind: str
    severity: str


ALERT_INCIDENTS: dict[AlertKind, AlertIncident] = {
    AlertKind.SEAT_EMPTY: AlertIncident("离开工位", "minor"),
    AlertKind.MULTIPLE_FACES: AlertIncident("他人进入评标区域", "serious"),
    AlertKind.CAMERA_COVERED: AlertIncident("遮挡摄像头", "serious"),
    AlertKind.PICTURE_FROZEN: AlertIncident("视频画面冻结", "minor"),
    AlertKind.STREAM_LOST: AlertIncident("视频中断", "minor"),
}


def alert_incident(kind: AlertKind | str) -> AlertIncident:
    """The incident for alert ``kind``; ``ValueError`` names the kinds known."""
    try:
        return ALERT_INCIDENTS[AlertKind(kind)]
    except ValueError:
        known = ", ".join(k.value for k in AlertKind)
        raise ValueError(f"unknown conduct alert kind {kind!r}; known kinds: {known}") from None


@dataclass(frozen=True, slots=True)
class AlertEvidence:
    """One occurrence of an alert: when it started, and where in the recording, if known."""

    alert: AlertKind
    started_at: datetime
    recording_segment_id: str | None = None
    offset_s: int | None = None  # seconds into the segment (whole: audit payloads refuse floats)

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None:
            raise ValueError("alert started_at must be an aware datetime")
        if self.offset_s is not None and self.offset_s < 0:
            raise ValueError(f"alert offset_s must be >= 0, got {self.offset_s}")
        if self.offset_s is not None and self.recording_segment_id is None:
            raise ValueError("an alert offset needs the recording segment it is an offset into")

    def occurrence(self) -> dict[str, object]:
        """This occurrence as stored in the incident's evidence (plain JSON)."""
        out: dict[str, object] = {"started_at": self.started_at.isoformat()}
        if self.recording_segment_id is not None:
            out["recording_segment_id"] = self.recording_segment_id
        if self.offset_s is not None:
            out["offset_s"] = self.offset_s
        return out

    def first_evidence(self) -> dict[str, object]:
        """The evidence of a new incident: the first occurrence, also at the top level in the
        shape a supervisor's own incident uses (``recording_segment_id``, ``offset_s``)."""
        top = {k: v for k, v in self.occurrence().items() if k != "started_at"}
        return {
            "source": ALERT_ACTOR,
            "alert": self.alert.value,
            **top,
            "occurrences": [self.occurrence()],
        }

    def description(self, seat_label: str, local_time: str) -> str:
        return f"自动告警：工位 {seat_label} {ALERT_LABELS[self.alert]}（{local_time} 起）"
