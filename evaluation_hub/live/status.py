"""What the hub knows of a seat's live media (工位音视频状态): its state, its alerts and the bus
events that carry them, and the refusal of a media request. Pure: no I/O.

A seat is ``offline`` until it first publishes, ``connecting`` while its peer connection
forms or before the first frame, ``live`` while frames arrive, and ``lost`` when frames stop
for longer than ``lost_after`` seconds or its connection failed or ended. A seat whose media
is ``live`` or ``connecting`` while its control link (the seat websocket, over which it saves
scores, signs and is told things) is down is ``control_lost`` (控制连接中断): its picture alone
does not mean the seat can take part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evaluation_hub.errors import Conflict, InvalidInput, ProblemError
from media.conduct import ConductAlert
from media.stats import StreamStats

__all__ = [
    "MediaRefused",
    "SeatStatus",
    "alert_fields",
    "audited_alert",
    "seat_channel",
    "seat_state",
]


class MediaRefused(ProblemError):
    """An offer the hub cannot answer: ``code`` is a slug, ``detail`` Simplified Chinese.

    A conflict with the seat's state (409: not publishing, too many viewers, the hub closing)
    or an offer that cannot be used (422). The seat websocket passes code and message to the
    seat; over HTTP the problem middleware renders it like any refusal."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(code, message)
        self.status = status
        self.title = Conflict.title if status == Conflict.status else InvalidInput.title

    @property
    def message(self) -> str:
        return self.detail


def seat_channel(seat_key: str) -> str:
    """The bus channel of one seat's live events."""
    return f"live-seat:{seat_key}"


@dataclass(frozen=True, slots=True)
class SeatStatus:
    """What the wall and the API show of one seat's live media."""

    state: str
    alerts: tuple[ConductAlert, ...]
    stats: tuple[StreamStats, ...]
    viewers: int
    publications: int  # peer connections the seat has made, for the wall's detail line


def seat_state(
    connection: str | None,
    last_frame_at: float | None,
    *,
    publications: int,
    now: float,
    lost_after: float,
    link_up: bool = True,
) -> str:
    """The seat's state from its current connection's state (None: it has none), when its
    last frame arrived and whether its control link is up."""
    media = _media_state(
        connection, last_frame_at, publications=publications, now=now, lost_after=lost_after
    )
    if not link_up and media in ("live", "connecting"):
        return "control_lost"
    return media


def _media_state(
    connection: str | None,
    last_frame_at: float | None,
    *,
    publications: int,
    now: float,
    lost_after: float,
) -> str:
    if connection is None:
        return "lost" if publications else "offline"
    if connection == "connected":
        if last_frame_at is not None and now - last_frame_at <= lost_after:
            return "live"
        return "connecting" if last_frame_at is None else "lost"
    if connection in ("new", "connecting"):
        return "connecting"
    return "lost"


def audited_alert(alert: ConductAlert) -> dict[str, Any]:
    """An alert as the audit chain records it: its canonical form takes no floats, so the
    times are ISO 8601 text."""
    return {
        **alert_fields(alert),
        "started_at": _iso(alert.started_at),
        "cleared_at": None if alert.cleared_at is None else _iso(alert.cleared_at),
    }


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def alert_fields(alert: ConductAlert) -> dict[str, Any]:
    """An alert as the seat's bus events, its audit events and the wall carry it."""
    return {
        "seat_key": alert.seat,
        "kind": alert.kind.value,
        "label": alert.label,
        "started_at": alert.started_at,
        "cleared_at": alert.cleared_at,
    }
