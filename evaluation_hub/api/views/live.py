"""JSON of the live supervision wall: seats with their state, alerts and media figures, and
the wall's event stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evaluation_hub.live.recording import RecordingState
from evaluation_hub.live.status import alert_fields
from evaluation_hub.live.watching import (
    LiveWall,
    OpenedSubscription,
    OpenedViewer,
    SeatOnWall,
    ViewerFigures,
)
from evaluation_hub.sessions.states import state_name
from media.stats import StreamStats

__all__ = [
    "opened_json",
    "recording_json",
    "snapshot_events",
    "stats_json",
    "viewer_figures_json",
    "wall_json",
]


def stats_json(stats: StreamStats) -> dict[str, Any]:
    return {
        "kind": stats.kind,
        "direction": stats.direction,
        "fps": None if stats.fps is None else round(stats.fps, 1),
        "bitrate_bps": None if stats.bitrate_bps is None else round(stats.bitrate_bps),
        "packets_lost": stats.packets_lost,
        "loss_fraction": stats.loss_fraction,
        "jitter_ms": stats.jitter_ms,
        "round_trip_time_ms": stats.round_trip_time_ms,
    }


_RECORDING_LABELS = {"recording": "录像中", "stopped": "录像已停止"}
_STOPPED_BECAUSE = {
    "disk_full": "录像磁盘空间不足",
    # Janus's recorder (``live.janus_recording``)
    "conversion_failed": "录像文件转换失败",
    "recorder_refused": "Janus 未能继续录像",
    "recorder_silent": "Janus 未写入录像文件",
}


def recording_json(state: RecordingState | None) -> dict[str, Any] | None:
    """The seat's recording as the wall shows it (None: the seat is not recorded here)."""
    if state is None:
        return None
    label = _RECORDING_LABELS.get(state.state, state.state)
    if state.reason is not None:
        label = f"{label}（{_STOPPED_BECAUSE.get(state.reason, state.reason)}）"
    return {"state": state.state, "reason": state.reason, "since": state.since, "label": label}


def _seat_json(on_wall: SeatOnWall) -> dict[str, Any]:
    seat, status = on_wall.seat, on_wall.status
    return {
        "seat_id": seat.seat_id,
        "seat_key": seat.seat_key,
        "label": seat.label,
        "room": seat.room,
        "venue_id": seat.venue_id,
        "venue_name": seat.venue_name,
        "expert_code": seat.expert_code,
        "state": status.state,
        "alerts": [alert_fields(a) for a in status.alerts],
        "stats": [stats_json(s) for s in status.stats],
        "viewers": status.viewers,
        "publications": status.publications,
        "recording": recording_json(on_wall.recording),
    }


def wall_json(wall: LiveWall) -> dict[str, Any]:
    return {
        "session_id": wall.session_id,
        "scope": "all" if wall.scope.everything else "venue",
        "seats": [_seat_json(seat) for seat in wall.seats],
        "state": wall.state,
        "state_name": state_name(wall.state) if wall.state else "",
        # Seats are watched from the opening of check-in until the evaluation ends.
        "on": wall.on,
        # How a viewer is signalled: "builtin" (offer → answer) or "janus" (subscribe → offer,
        # then the answer with the one-time token)
        "media": wall.media,
    }


def opened_json(opened: OpenedViewer | OpenedSubscription) -> dict[str, Any]:
    if isinstance(opened, OpenedSubscription):
        return {
            "viewer_id": opened.viewer_id,
            "seat_id": opened.seat_id,
            "type": "offer",
            "sdp": opened.sdp,
            "token": opened.token,
        }
    return {
        "viewer_id": opened.viewer_id,
        "seat_id": opened.seat_id,
        "type": "answer",
        "sdp": opened.sdp,
    }


def viewer_figures_json(figures: ViewerFigures) -> dict[str, Any]:
    return {"viewer_id": figures.viewer_id, "streams": [stats_json(s) for s in figures.streams]}


def snapshot_events(seats: Sequence[SeatOnWall]) -> list[dict[str, Any]]:
    """Each visible seat's state and active alerts, as the events that would have set them."""
    events: list[dict[str, Any]] = []
    for on_wall in seats:
        seat, status = on_wall.seat, on_wall.status
        events.append(
            {
                "type": "live.seat",
                "seat_key": seat.seat_key,
                "seat_id": seat.seat_id,
                "state": status.state,
                "snapshot": True,
            }
        )
        for alert in status.alerts:
            events.append(
                {
                    "type": "live.alert",
                    **alert_fields(alert),
                    "seat_id": seat.seat_id,
                    "snapshot": True,
                }
            )
    return events
