"""JSON of the seat terminals' results: enrolment requests and chapter releases."""

from __future__ import annotations

from typing import Any

from evaluation_hub.api.serialize import iso
from evaluation_hub.seats.chapters import ChapterRelease
from evaluation_hub.seats.enrolment import EnrolmentView
from evaluation_hub.seats.enrolment_admin import EnrolmentApproval

__all__ = ["STATUS_NAMES", "approval_json", "enrolment_json", "release_json"]

STATUS_NAMES = {"pending": "待批准", "approved": "已批准", "revoked": "已吊销"}


def enrolment_json(view: EnrolmentView) -> dict[str, Any]:
    return {
        "id": view.id,
        "seat_key": view.seat_key,
        "seat_id": view.seat_id,
        "seat_label": view.seat_label,
        "enrolment_code": view.enrolment_code,
        "status": view.status,
        "status_name": STATUS_NAMES[view.status],
        "requested_at": iso(view.requested_at),
        "decided_by": view.decided_by,
        "decided_at": None if view.decided_at is None else iso(view.decided_at),
    }


def approval_json(decided: EnrolmentApproval) -> dict[str, Any]:
    return {
        "approved": enrolment_json(decided.approved),
        "revoked": None if decided.revoked is None else enrolment_json(decided.revoked),
    }


def release_json(release: ChapterRelease) -> dict[str, Any]:
    return {
        "session_id": release.session_id,
        "seats": [
            {
                "seat_key": r.seat_key,
                "expert_code": r.expert_code,
                "chapters": r.chapters,
                "size": r.size,
                "delivery": r.delivery,
            }
            for r in release.seats
        ],
        "skipped": [
            {"seat_key": k.seat_key, "expert_code": k.expert_code, "reason": k.reason}
            for k in release.skipped
        ],
    }
