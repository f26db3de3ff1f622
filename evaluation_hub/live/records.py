"""What live media leaves in the records (音视频监督留痕): audit events of its state changes,
and conduct alerts turned into supervision incidents.

The live hub (``live.hub``) reports each state change worth auditing and each conduct alert
raised or cleared; the application's shell hands them here with ``now``. A raised alert
becomes (or repeats) an incident of every session the seat's media belongs to now (an expert
checked in there and the session not over, or inside the booked window: ``live.owners``), the
supervision record's automatic incidents; a cleared alert closes its occurrence on that
incident (when it ended, how long it lasted).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.seatings import Seating
from evaluation_hub.live.owners import media_owners
from evaluation_hub.services import Services

# TODO(merge): evaluation_hub.supervision.alert_incidents (raise/clear_alert_incident move there)
from evaluation_hub.supervision import alert_incidents
from evaluation_hub.supervision.alerts import AlertEvidence
from media.conduct import ConductAlert

__all__ = ["record_alert", "record_live_event"]


async def record_live_event(
    hub: Services,
    kind: str,
    subject: str,
    actor: str,
    payload: Mapping[str, Any],
    *,
    now: datetime,
) -> None:
    """Append one live-media event (publisher connected, seat lost, viewer opened, alert…)."""
    async with hub.db.write() as s:
        await append_event(s, kind=kind, subject=subject, actor=actor, payload=payload, at=now)


async def _seated_now(hub: Services, seat_key: str, now: datetime) -> list[Seating]:
    async with hub.db.read() as s:
        return await media_owners(s, seat_key, now)


def _instant(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


async def record_alert(
    hub: Services,
    seat_key: str,
    alert: ConductAlert,
    *,
    recording: tuple[str, float] | None,
    now: datetime,
) -> None:
    """Raise (or repeat) the alert's incident for each session the seat's media belongs to now,
    or close the alert's occurrence there when it cleared. ``recording``: the segment
    file and offset where the alert started, if the seat is recorded."""
    seated = await _seated_now(hub, seat_key, now)
    if alert.cleared_at is not None:
        for seating in seated:
            await alert_incidents.clear_alert_incident(
                hub.db,
                seating.session_id,
                seat_id=seating.seat_id,
                alert=alert.kind,
                started_at=_instant(alert.started_at),
                cleared_at=_instant(alert.cleared_at),
                now=now,
            )
        return
    evidence = AlertEvidence(
        alert.kind,
        _instant(alert.started_at),
        recording_segment_id=recording[0] if recording else None,
        offset_s=int(recording[1]) if recording else None,
    )
    for seating in seated:
        await alert_incidents.raise_alert_incident(
            hub.db, seating.session_id, seat_id=seating.seat_id, evidence=evidence, now=now
        )
