"""JSON of the seat directory: venues, seats, a venue's day of bookings."""

from __future__ import annotations

from typing import Any

from evaluation_hub.booking.directory import SeatRecord, VenueRecord, VenueTimeline
from evaluation_hub.booking.rules import STATE_NAMES

__all__ = ["seat_json", "timeline_json", "venue_json"]


def venue_json(v: VenueRecord) -> dict[str, Any]:
    return {
        "id": v.id,
        "code": v.code,
        "name": v.name,
        "region_code": v.region_code,
        "supervising_department": v.supervising_department,
        "contact_name": v.contact_name,
        "contact_phone": v.contact_phone,
        "latitude": v.latitude,
        "longitude": v.longitude,
        "enabled": v.enabled,
    }


def seat_json(s: SeatRecord, *, with_venue: bool = True) -> dict[str, Any]:
    """A seat; ``with_venue`` adds its venue's name and region (the directory's listing)."""
    out: dict[str, Any] = {
        "id": s.id,
        "venue_id": s.venue_id,
        "label": s.label,
        "room": s.room,
        "capabilities": list(s.capabilities),
        "status": s.status,
        "shared": s.shared,
    }
    if with_venue:
        out["venue_name"] = s.venue_name
        out["region_code"] = s.region_code
    return out


def timeline_json(t: VenueTimeline) -> dict[str, Any]:
    return {
        "venue": venue_json(t.venue),
        "date": t.day.isoformat(),
        "seats": [
            {
                **seat_json(day.seat, with_venue=False),
                "holds": [
                    {
                        "booking_id": h.booking_id,
                        "session_id": h.session_id,
                        "state": h.state,
                        "state_name": STATE_NAMES[h.state],
                        "starts_at": h.starts_at.isoformat(),
                        "ends_at": h.ends_at.isoformat(),
                    }
                    for h in day.holds
                ],
            }
            for day in t.seats
        ],
    }
