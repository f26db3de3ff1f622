"""JSON of bookings, allocation proposals and random draws."""

from __future__ import annotations

from typing import Any

from evaluation_hub.api.serialize import iso
from evaluation_hub.booking.records import BookingRecord
from evaluation_hub.booking.rules import STATE_NAMES
from evaluation_hub.sessions.seat_allocation import DrawMade, DrawReveal, Proposal

__all__ = ["booking_json", "draw_json", "proposal_json", "reveal_json"]

DRAW_NOTE = "抽取结果在评标开始前对主场保密；开始后可查看种子并复核抽取"


def booking_json(b: BookingRecord) -> dict[str, Any]:
    """A booking as its record has it: a drawn booking's venue and seats are absent for whoever
    may not learn them yet (两随机、四不知)."""
    return {
        "id": b.id,
        "session_id": b.session_id,
        "venue_id": b.venue_id,
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
        "seats": [{"seat_id": h.seat_id, "label": h.label, "live": h.live} for h in b.seats],
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


def proposal_json(p: Proposal) -> dict[str, Any]:
    return {
        "policy": "nearest",
        "solver": p.proposal.solver,
        "total_distance_km": p.proposal.total_distance_km,
        "assignments": [
            {
                "expert_id": a.expert_id,
                "expert_code": a.expert_code,
                "seat_id": a.seat_id,
                "seat_label": a.seat_label,
                "venue_id": a.venue_id,
                "venue_name": a.venue_name,
                "distance_km": a.distance_km,
                "reason": a.reason,
            }
            for a in p.proposal.assignments
        ],
        "bookings": [booking_json(b) for b in p.bookings],
    }


def draw_json(d: DrawMade) -> dict[str, Any]:
    return {
        "policy": "random",
        "commitment": d.commitment,
        "booking_count": d.booking_count,
        "note": DRAW_NOTE,
    }


def reveal_json(r: DrawReveal) -> dict[str, Any]:
    return {
        "commitment": r.commitment,
        "drawn_by": r.drawn_by,
        "drawn_at": r.drawn_at.isoformat(),
        "revealed": r.seed_hex is not None,
        "reveal_at": r.starts_at.isoformat(),
        "seed": r.seed_hex,
        "inputs": r.inputs,
    }
