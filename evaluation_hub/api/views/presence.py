"""JSON of presence at check-in (签到在场核验) as the supervision page reads it."""

from __future__ import annotations

from typing import Any

from evaluation_hub.api.serialize import iso
from evaluation_hub.checkin.presence import PresenceRecord

__all__ = ["presence_json"]


def presence_json(p: PresenceRecord) -> dict[str, Any]:
    return {
        "session_id": p.session_id,
        "expert_code": p.expert_code,
        "seat": {"id": p.seat_id, "label": p.seat_label},
        "venue": {"id": p.venue_id, "name": p.venue_name},
        "checked_in_at": iso(p.checked_in_at) if p.checked_in_at else None,
        "presence": p.presence,
        "presence_name": p.presence_name,
        "note": p.note,
        "faces": p.faces,
        "confirmed_by": p.confirmed_by,
        "confirmed_at": iso(p.confirmed_at) if p.confirmed_at else None,
        "reason": p.reason,
    }
