"""JSON of committee formation: members and where they sit, the lawfulness assessment, the
chair election (closed rounds with their tally, the open round's progress)."""

from __future__ import annotations

from typing import Any

from evaluation_hub.sessions.chair import OpenRound, RoundOutcome
from evaluation_hub.sessions.committee_view import CommitteeView
from evaluation_hub.sessions.formation import MemberView

__all__ = ["committee_json", "member_json", "open_round_json", "round_json"]


def member_json(m: MemberView) -> dict[str, Any]:
    return {
        "code": m.code,
        "name": m.name,
        "placement": m.placement,
        "decision": m.decision,
        "reason": m.reason,
        "decided_at": m.decided_at.isoformat() if m.decided_at else None,
        "is_chair": m.is_chair,
        "kind": m.kind,
        "title": m.title,
        "seat": {
            "venue_name": m.seat.venue_name,
            "label": m.seat.label,
            "checked_in": m.seat.checked_in,
        }
        if m.seat
        else None,
    }


def round_json(outcome: RoundOutcome) -> dict[str, Any]:
    return {
        "round": outcome.round,
        "votes": outcome.votes,
        "chair": outcome.chair,
        "tied": outcome.tied,
        "closed": outcome.closed,
        "waiting": outcome.waiting,
        "proxied": outcome.proxied,
    }


def open_round_json(current: OpenRound | None) -> dict[str, Any] | None:
    """Who has voted in the open round and who is still to (not for whom: that is shown once
    the round closes)."""
    if current is None:
        return None
    return {
        "round": current.round,
        "candidates": current.candidates,
        "voted": sorted(current.ballots),
        "waiting": current.waiting,
        "proxied": sorted(current.proxied),
    }


def committee_json(v: CommitteeView) -> dict[str, Any]:
    a = v.assessment
    return {
        "session_id": v.session_id,
        "members": [member_json(m) for m in v.members],
        "lawful": a.valid,
        "confirmed": a.size,
        "experts": a.experts,
        "experts_needed": a.experts_needed,
        "problems": list(a.problems),
        "chair": v.chair,
        "rounds": v.rounds,
        "next_candidates": v.next_candidates,
        "round_results": [round_json(r) for r in v.round_results],
        "open_round": open_round_json(v.open_round),
        "procurement_type": v.procurement_type,
        "must_replace": [
            {
                "code": m.code,
                "name": m.name,
                "reasons": [
                    {"kind": c.kind, "bidder_id": c.bidder_id, "message": c.message}
                    for c in m.conflicts
                ],
            }
            for m in v.must_replace
        ],
    }
