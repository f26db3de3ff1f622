"""The API's JSON conventions (times in UTC) and its resources' schemas for the OpenAPI
document. The shapes themselves are the views' (``evaluation_hub.api.views``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from evaluation_hub.booking.rules import STATE_NAMES

__all__ = ["SCHEMAS", "iso", "list_of", "ref"]


def iso(dt: datetime) -> str:
    """API times are always UTC; pages show them in Beijing time."""
    return dt.astimezone(UTC).isoformat()


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
            "latitude": {"type": ["number", "null"]},
            "longitude": {"type": ["number", "null"]},
            "enabled": {"type": "boolean"},
        },
    },
    "User": {
        "type": "object",
        "properties": {
            "id": _INT,
            "username": _STR,
            "display_name": _STR,
            "role": _STR,
            "role_name": _STR,
            "venue_id": {"type": ["integer", "null"]},
            "venue_code": {"type": ["string", "null"]},
            "venue_name": {"type": ["string", "null"]},
            "active": {"type": "boolean"},
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
            "procurement_type": {"type": "string", "enum": ["engineering", "government"]},
            "procurement_type_name": _STR,
            "budget": {"type": ["string", "null"], "description": "元，十进制字符串"},
            "representatives": _INT,
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
