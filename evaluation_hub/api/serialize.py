"""JSON shapes of the API's resources, and their schemas for the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from evaluation_hub.booking.rules import STATE_NAMES
from evaluation_hub.db.models import Booking, EvaluationSession, Expert, Seat, Venue

__all__ = ["SCHEMAS", "booking_json", "expert_json", "seat_json", "session_json", "venue_json"]


def iso(dt: datetime) -> str:
    """API times are always UTC; pages show them in Beijing time."""
    return dt.astimezone(UTC).isoformat()


def venue_json(v: Venue) -> dict[str, Any]:
    return {
        "id": v.id,
        "code": v.code,
        "name": v.name,
        "region_code": v.region_code,
        "supervising_department": v.supervising_department,
        "contact_name": v.contact_name,
        "contact_phone": v.contact_phone,
    }


def seat_json(s: Seat, venue: Venue | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": s.id,
        "venue_id": s.venue_id,
        "label": s.label,
        "room": s.room,
        "capabilities": sorted(s.capabilities),
        "status": s.status,
        "shared": s.shared,
    }
    if venue is not None:
        out["venue_name"] = venue.name
        out["region_code"] = venue.region_code
    return out


def expert_json(e: Expert) -> dict[str, Any]:
    return {
        "id": e.id,
        "code": e.code,
        "name": e.name,
        "home_region": e.home_region,
        "employer": e.employer,
    }


def session_json(s: EvaluationSession) -> dict[str, Any]:
    return {
        "id": s.id,
        "project_code": s.project_code,
        "project_name": s.project_name,
        "section": s.section,
        "host_venue_id": s.host_venue_id,
        "starts_at": iso(s.starts_at),
        "ends_at": iso(s.ends_at),
        "committee_size": s.committee_size,
        "state": s.state,
    }


def booking_json(b: Booking, *, hide_venue: bool = False) -> dict[str, Any]:
    """A booking; ``hide_venue`` withholds where a drawn booking is (两随机、四不知)."""
    return {
        "id": b.id,
        "session_id": b.session_id,
        "venue_id": None if hide_venue else b.venue_id,
        "seat_count": b.seat_count,
        "starts_at": iso(b.starts_at),
        "ends_at": iso(b.ends_at),
        "state": b.state,
        "state_name": STATE_NAMES[b.state],
        "requested_by": b.requested_by,
        "requested_at": iso(b.requested_at),
        "expires_at": iso(b.expires_at),
        "replaces_id": b.replaces_id,
        "reason": b.reason,
        "drawn": b.drawn,
        "seats": []
        if hide_venue
        else [{"seat_id": h.seat_id, "label": h.seat.label, "live": h.live} for h in b.seats],
        "events": [
            {
                "from_state": e.from_state,
                "to_state": e.to_state,
                "actor": e.actor,
                "at": iso(e.at),
                "reason": e.reason,
            }
            for e in b.events
        ],
    }


_DT = {"type": "string", "format": "date-time"}
_INT = {"type": "integer"}
_STR = {"type": "string"}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "properties": {
            "type": _STR,
            "title": _STR,
            "status": _INT,
            "detail": _STR,
            "instance": _STR,
        },
        "required": ["type", "title", "status", "detail"],
    },
    "Venue": {
        "type": "object",
        "properties": {
            "id": _INT,
            "code": _STR,
            "name": _STR,
            "region_code": _STR,
            "supervising_department": _STR,
            "contact_name": _STR,
            "contact_phone": _STR,
        },
    },
    "Seat": {
        "type": "object",
        "properties": {
            "id": _INT,
            "venue_id": _INT,
            "label": _STR,
            "room": _STR,
            "capabilities": {"type": "array", "items": _STR},
            "status": {"type": "string", "enum": ["available", "maintenance", "retired"]},
            "shared": {"type": "boolean"},
        },
    },
    "Expert": {
        "type": "object",
        "properties": {
            "id": _INT,
            "code": _STR,
            "name": _STR,
            "home_region": _STR,
            "employer": _STR,
        },
    },
    "Session": {
        "type": "object",
        "properties": {
            "id": _INT,
            "project_code": _STR,
            "project_name": _STR,
            "section": _STR,
            "host_venue_id": _INT,
            "starts_at": _DT,
            "ends_at": _DT,
            "committee_size": _INT,
            "state": _STR,
        },
    },
    "Booking": {
        "type": "object",
        "properties": {
            "id": _INT,
            "session_id": _INT,
            "venue_id": {"type": ["integer", "null"]},
            "seat_count": _INT,
            "starts_at": _DT,
            "ends_at": _DT,
            "state": {"type": "string", "enum": list(STATE_NAMES)},
            "state_name": _STR,
            "requested_by": _STR,
            "requested_at": _DT,
            "expires_at": _DT,
            "replaces_id": {"type": ["integer", "null"]},
            "reason": _STR,
            "drawn": {"type": "boolean"},
            "seats": {"type": "array", "items": {"type": "object"}},
            "events": {"type": "array", "items": {"type": "object"}},
        },
    },
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def list_of(name: str) -> dict[str, Any]:
    return {"type": "array", "items": ref(name)}
