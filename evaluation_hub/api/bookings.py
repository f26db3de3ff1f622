"""Seat bookings (工位预约) over HTTP: request, confirm, reject, cancel, change, and the
bookings a caller may see. Handlers parse, call one use case (the host's requests:
``sessions.seat_requests``; answers and reading: ``booking``) and render; the use cases check access, cut what the caller may see and tell the live pages."""

from __future__ import annotations

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import int_param, path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import ID, read_json
from evaluation_hub.api.serialize import list_of, ref
from evaluation_hub.api.views.bookings import booking_json
from evaluation_hub.booking import answers, reading
from evaluation_hub.booking.rules import STATE_NAMES
from evaluation_hub.sessions import seat_requests

__all__ = ["routes"]

routes = ApiRoutes()

_SEAT_IDS = {
    "type": "array",
    "items": ID,
    "maxItems": 200,
}
BOOKING_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["session_id", "venue_id", "seat_count"],
    "properties": {
        "session_id": ID,
        "venue_id": ID,
        "seat_count": {"type": "integer", "minimum": 1, "maximum": 200},
        "seat_ids": _SEAT_IDS,
    },
}
CONFIRM = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"seat_ids": _SEAT_IDS},
}
REJECT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"reason": {"type": "string", "maxLength": 500}},
}
CANCEL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reason"],
    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}},
}
CHANGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reason"],
    "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": 500},
        "seat_count": {"type": "integer", "minimum": 1, "maximum": 200},
        "seat_ids": _SEAT_IDS,
    },
}


@routes.route(
    "GET",
    "/api/bookings",
    summary="列出本人可见的预约",
    tag="工位预约",
    response=list_of("Booking"),
    query={
        "venue_id": {"type": "integer"},
        "session_id": {"type": "integer"},
        "state": {"type": "string", "enum": list(STATE_NAMES)},
    },
    errors=(422,),
)
async def list_bookings(request: web.Request) -> web.Response:
    who = await principal(request)
    found = await reading.list_bookings(
        request.app[SERVICES],
        who,
        venue_id=int_param(request, "venue_id"),
        session_id=int_param(request, "session_id"),
        state=request.query.get("state"),
        now=request.app[CLOCK](),
    )
    return web.json_response([booking_json(b) for b in found])


@routes.route(
    "POST",
    "/api/bookings",
    summary="主场申请预约某场地的工位",
    tag="工位预约",
    body=BOOKING_REQUEST,
    response=ref("Booking"),
    status=201,
    errors=(403, 404, 409),
)
async def request_booking(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, BOOKING_REQUEST)
    booking = await seat_requests.request_booking(
        request.app[SERVICES],
        who,
        session_id=body["session_id"],
        venue_id=body["venue_id"],
        seat_count=body["seat_count"],
        seat_ids=body.get("seat_ids"),
        now=request.app[CLOCK](),
    )
    return web.json_response(booking_json(booking), status=201)


@routes.route(
    "GET",
    "/api/bookings/{booking_id}",
    summary="查看预约及其状态变更记录",
    tag="工位预约",
    response=ref("Booking"),
    errors=(403, 404),
)
async def get_booking(request: web.Request) -> web.Response:
    booking = await reading.get_booking(
        request.app[SERVICES],
        await principal(request),
        path_id(request, "booking_id"),
        now=request.app[CLOCK](),
    )
    return web.json_response(booking_json(booking))


@routes.route(
    "POST",
    "/api/bookings/{booking_id}/confirm",
    summary="确认预约并分配恰好所申请数量的工位（被预约场地管理员）",
    tag="工位预约",
    body=CONFIRM,
    response=ref("Booking"),
    errors=(403, 404, 409),
)
async def confirm_booking(request: web.Request) -> web.Response:
    who = await principal(request)
    booking_id = path_id(request, "booking_id")
    body = await read_json(request, CONFIRM)
    booking = await answers.confirm_booking(
        request.app[SERVICES],
        who,
        booking_id,
        seat_ids=body.get("seat_ids"),
        now=request.app[CLOCK](),
    )
    return web.json_response(booking_json(booking))


@routes.route(
    "POST",
    "/api/bookings/{booking_id}/reject",
    summary="拒绝预约申请（被预约场地管理员）",
    tag="工位预约",
    body=REJECT,
    response=ref("Booking"),
    errors=(403, 404, 409),
)
async def reject_booking(request: web.Request) -> web.Response:
    who = await principal(request)
    booking_id = path_id(request, "booking_id")
    body = await read_json(request, REJECT)
    booking = await answers.reject_booking(
        request.app[SERVICES], who, booking_id, reason=body.get("reason"), now=request.app[CLOCK]()
    )
    return web.json_response(booking_json(booking))


@routes.route(
    "POST",
    "/api/bookings/{booking_id}/cancel",
    summary="取消已确认的预约（须填写原因）",
    tag="工位预约",
    body=CANCEL,
    response=ref("Booking"),
    errors=(403, 404, 409),
)
async def cancel_booking(request: web.Request) -> web.Response:
    who = await principal(request)
    booking_id = path_id(request, "booking_id")
    body = await read_json(request, CANCEL)
    booking = await answers.cancel_booking(
        request.app[SERVICES], who, booking_id, reason=body.get("reason"), now=request.app[CLOCK]()
    )
    return web.json_response(booking_json(booking))


@routes.route(
    "POST",
    "/api/bookings/{booking_id}/change",
    summary="变更已确认的预约：原预约置为已变更，新申请关联原预约",
    tag="工位预约",
    body=CHANGE,
    response=ref("Booking"),
    status=201,
    errors=(403, 404, 409),
)
async def change_booking(request: web.Request) -> web.Response:
    who = await principal(request)
    booking_id = path_id(request, "booking_id")
    body = await read_json(request, CHANGE)
    booking = await seat_requests.change_booking(
        request.app[SERVICES],
        who,
        booking_id,
        seat_count=body.get("seat_count"),
        seat_ids=body.get("seat_ids"),
        reason=body.get("reason"),
        now=request.app[CLOCK](),
    )
    return web.json_response(booking_json(booking), status=201)
