"""Seat terminal enrolment (工位终端登记) for venue admins over HTTP.

A terminal's ``seat-agent enroll`` records a request through the seat websocket and prints a
short code; the venue admin lists the venue's requests here, approves one by typing the code
shown on the terminal's screen, or revokes one (a pending request is rejected, an approved key
withdrawn and the terminal's live connection closed with 4005). Rules, audit events, the admin
pages' notifications and the disconnection live in ``evaluation_hub.seats.enrolment_admin``;
handlers only read the request and answer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.views.seats import approval_json, enrolment_json
from evaluation_hub.errors import InvalidInput
from evaluation_hub.seats import enrolment_admin
from evaluation_hub.seats.enrolment_admin import ENROLMENT_STATUSES

__all__ = ["APPROVE", "ENROLMENT", "routes"]

routes = ApiRoutes()
TAG = "工位终端登记"

ENROLMENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "seat_key", "seat_id", "seat_label", "enrolment_code", "status"],
    "properties": {
        "id": {"type": "integer"},
        "seat_key": {"type": "string", "example": "DL.DL-01"},
        "seat_id": {"type": "integer"},
        "seat_label": {"type": "string", "example": "DL-01"},
        "enrolment_code": {"type": "string", "example": "04719 88231 50602 19374 66015"},
        "status": {"type": "string", "enum": list(ENROLMENT_STATUSES)},
        "status_name": {"type": "string", "example": "待批准"},
        "requested_at": {"type": "string", "format": "date-time"},
        "decided_by": {"type": ["string", "null"]},
        "decided_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
APPROVE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["enrolment_code"],
    "properties": {
        "enrolment_code": {
            "type": "string",
            "minLength": 1,
            "maxLength": 60,
            "example": "04719 88231 50602 19374 66015",
            "description": "评标终端屏幕上显示的登记码（25 位数字，空格和短横线可有可无）",
        }
    },
}
_APPROVED: dict[str, Any] = {
    "type": "object",
    "properties": {"approved": ENROLMENT, "revoked": {"oneOf": [ENROLMENT, {"type": "null"}]}},
}


def _status(request: web.Request) -> str | None:
    status = request.query.get("status")
    if status is not None and status not in ENROLMENT_STATUSES:
        raise InvalidInput(
            "invalid-status",
            "status 只能是 pending（待批准）、approved（已批准）或 revoked（已吊销）",
        )
    return status


@routes.route(
    "GET",
    "/api/venues/{venue_id}/seat-enrolments",
    summary="列出本场地工位终端的登记申请（场地管理员）",
    tag=TAG,
    query={"status": {"type": "string", "enum": list(ENROLMENT_STATUSES)}},
    response={"type": "array", "items": ENROLMENT},
    errors=(403, 404, 422),
)
async def list_enrolments(request: web.Request) -> web.Response:
    who = await principal(request)
    venue_id = path_id(request, "venue_id")
    status = _status(request)
    views = await enrolment_admin.list_enrolments(
        request.app[SERVICES], who, venue_id, status=status
    )
    return web.json_response([enrolment_json(v) for v in views])


@routes.route(
    "POST",
    "/api/seat-enrolments/{enrolment_id}/approve",
    summary="批准工位终端的登记申请：须输入终端屏幕上显示的登记码（场地管理员）",
    tag=TAG,
    body=APPROVE,
    response=_APPROVED,
    errors=(403, 404, 409, 422),
)
async def approve(request: web.Request) -> web.Response:
    who = await principal(request)
    enrolment_id = path_id(request, "enrolment_id")
    body = await read_json(request, APPROVE)
    decided = await enrolment_admin.approve_request(
        request.app[SERVICES], who, enrolment_id, body["enrolment_code"], now=request.app[CLOCK]()
    )
    return web.json_response(approval_json(decided))


@routes.route(
    "POST",
    "/api/seat-enrolments/{enrolment_id}/revoke",
    summary="吊销工位终端的登记（待批准的申请即为驳回；已批准的终端立即断开）（场地管理员）",
    tag=TAG,
    response=ENROLMENT,
    errors=(403, 404, 409),
)
async def revoke(request: web.Request) -> web.Response:
    who = await principal(request)
    enrolment_id = path_id(request, "enrolment_id")
    decided = await enrolment_admin.revoke_request(
        request.app[SERVICES], who, enrolment_id, now=request.app[CLOCK]()
    )
    return web.json_response(enrolment_json(decided.revoked))
