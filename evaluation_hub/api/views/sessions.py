"""JSON of sessions, the expert pool, a session's progress, and the check-in PINs issued."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evaluation_hub.api.serialize import iso
from evaluation_hub.checkin.store import IssuedPin
from evaluation_hub.sessions import lifecycle
from evaluation_hub.sessions.committee import PROCUREMENT_TYPES
from evaluation_hub.sessions.membership import MemberAdded
from evaluation_hub.sessions.records import ExpertRecord, SessionDetail, SessionRecord
from evaluation_hub.sessions.states import state_name
from evaluation_hub.sessions.store import LifecycleView

__all__ = [
    "PINS_NOTE",
    "expert_json",
    "lifecycle_json",
    "member_added_json",
    "pins_json",
    "session_detail_json",
    "session_json",
]

PINS_NOTE = "签到码只显示这一次，请分别告知专家；重新发放会使旧签到码失效"


def session_json(s: SessionRecord) -> dict[str, Any]:
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
        "procurement_type": s.procurement_type,
        "procurement_type_name": PROCUREMENT_TYPES[s.procurement_type],
        "budget": None if s.budget is None else str(s.budget),
        "representatives": s.representatives,
    }


def expert_json(e: ExpertRecord) -> dict[str, Any]:
    return {
        "id": e.id,
        "code": e.code,
        "name": e.name,
        "home_region": e.home_region,
        "employer": e.employer,
    }


def session_detail_json(d: SessionDetail) -> dict[str, Any]:
    return {
        **session_json(d.session),
        "experts": [{**expert_json(m.expert), "placement": m.placement} for m in d.members],
    }


def member_added_json(added: MemberAdded) -> dict[str, Any]:
    return {**expert_json(added.member.expert), "placement": added.member.placement}


def lifecycle_json(view: LifecycleView) -> dict[str, Any]:
    return {
        "session_id": view.session_id,
        "state": view.state,
        "state_name": state_name(view.state),
        "paused_from": view.paused_from,
        "allowed_actions": [{"action": a, "name": lifecycle.ACTION_NAMES[a]} for a in view.allowed],
        "fault_started_at": iso(view.fault_started_at) if view.fault_started_at else None,
        "fault_note": view.fault_note,
        "due": [
            {"kind": d.kind, "due_at": iso(d.due_at), "due_now": d.due_now, "message": d.message}
            for d in view.due
        ],
        "transitions": [
            {
                "action": t.action,
                "action_name": lifecycle.ACTION_NAMES[t.action],
                "from_state": t.from_state,
                "to_state": t.to_state,
                "actor": t.actor,
                "actor_role": t.actor_role,
                "at": iso(t.at),
                "reason": t.reason,
            }
            for t in view.transitions
        ],
    }


def pins_json(issued: Sequence[IssuedPin]) -> dict[str, Any]:
    return {
        "note": PINS_NOTE,
        "pins": [
            {
                "expert_code": p.expert_code,
                "expert_name": p.expert_name,
                "venue_name": p.venue_name,
                "seat_label": p.seat_label,
                "pin": p.pin,
            }
            for p in issued
        ],
    }
