"""JSON of committee formation: members, the lawfulness assessment, the chair election."""

from __future__ import annotations

from typing import Any

from evaluation_hub.sessions.chair import RoundOutcome
from evaluation_hub.sessions.committee_view import CommitteeView
from evaluation_hub.sessions.formation import MemberView

__all__ = ["committee_json", "member_json", "round_json"]


def member_json(m: MemberView) -> dict[str, Any]:
    return {
        "code": m.code,
        "name": m.name,
        "placement": m.placement,
        "decision": m.decision,
        "reason": m.reason,
        "decided_at": m.decided_at.isoformat() if m.decided_at else None,
        "is_chair": m.is_chair,
        "seat": {"venue_name": m.seat[0], "label": m.seat[1]} if m.seat else None,
    }


def round_json(outcome: RoundOutcome) -> dict[str, Any]:
    return {
        "round": outcome.round,
        "votes": outcome.votes,
        "chair": outcome.chair,
        "tied": outcome.tied,
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
    }
