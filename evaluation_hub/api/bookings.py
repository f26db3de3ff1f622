"""Seat bookings (工位预约): request, confirm, reject, cancel, change, and who may see which."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.directory import int_param, path_id
from evaluation_hub.api.events import publish_booking
from evaluation_hub.api.keys import CLOCK, CONFIG, DB
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.serialize import booking_json, list_of, ref
from evaluation_hub.booking import store
from evaluation_hub.booking.rules import STATE_NAMES
from evaluation_hub.db.models import Booking
from evaluation_hub.errors import Forbidden, InvalidInput
from evaluation_hub.principal import Principal

__all__ = ["booking_policy", "routes", "visible_booking"]

routes = ApiRoutes()

_SEAT_IDS = {
    "type": "array",
    "items": {"type": "integer", "minimum": 1},
    "maxItems": 200,
}
BOOKING_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["session_id", "venue_id", "seat_count"],
    "properties": {
        "session_id": {"type": "integer", "minimum": 1},
        "venue_id": {"type": "integer", "minimum": 1},
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


def booking_policy(request: web.Request) -> store.BookingPolicy:
    return store.BookingPolicy(request_ttl=request.app[CONFIG].regulation.booking_request_ttl)


async def visible_booking(request: web.Request, who: Principal, booking: Booking) -> dict[str, Any]:
    """The booking as ``who`` may see it; 403 if they may not see it at all."""
    if who.is_system or (who.role == "venue_admin" and who.venue_id == booking.venue_id):
        return booking_json(booking)
    if who.role == "host_operator" and who.venue_id == booking.session.host_venue_id:
        hide = booking.drawn and request.app[CLOCK]() < booking.session.starts_at
        return booking_json(booking, hide_venue=hide)
    raise Forbidden(
        "booking-not-visible",
        f"预约 #{booking.id} 既不在本场地，也不属于本场地主办的评标会，无权查看",
    )


async def _changed(
    request: web.Request, who: Principal, booking: Booking, status: int = 200
) -> web.Response:
    """After a change: tell the live pages, and answer with what the caller may see."""
    await publish_booking(request.app, booking)
    return web.json_response(await visible_booking(request, who, booking), status=status)


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
    venue_id = int_param(request, "venue_id")
    session_id = int_param(request, "session_id")
    state = request.query.get("state")
    if state is not None and state not in STATE_NAMES:
        raise InvalidInput(
            "bad-query", f"未知的预约状态：{state}（可选：{', '.join(STATE_NAMES)}）"
        )
    db = request.app[DB]
    states = [state] if state else None
    if who.is_system:
        found = await store.list_bookings(
            db, venue_id=venue_id, session_id=session_id, states=states
        )
    elif who.role == "venue_admin":
        found = await store.list_bookings(
            db, venue_id=who.venue_id, session_id=session_id, states=states
        )
        if venue_id is not None and venue_id != who.venue_id:
            found = []
    elif who.role == "host_operator":
        found = await store.list_bookings(
            db, host_venue_id=who.venue_id, session_id=session_id, states=states
        )
        if venue_id is not None:
            found = [b for b in found if b.venue_id == venue_id and not b.drawn]
    else:
        found = []
    return web.json_response([await visible_booking(request, who, b) for b in found])


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
    booking = await store.request_booking(
        request.app[DB],
        who,
        session_id=body["session_id"],
        venue_id=body["venue_id"],
        seat_count=body["seat_count"],
        seat_ids=body.get("seat_ids"),
        now=request.app[CLOCK](),
        policy=booking_policy(request),
    )
    return await _changed(request, who, booking, status=201)


@routes.route(
    "GET",
    "/api/bookings/{booking_id}",
    summary="查看预约及其状态变更记录",
    tag="工位预约",
    response=ref("Booking"),
    errors=(403, 404),
)
async def get_booking(request: web.Request) -> web.Response:
    who = await principal(request)
    booking = await store.get_booking(request.app[DB], path_id(request, "booking_id"))
    return web.json_response(await visible_booking(request, who, booking))


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
    booking = await store.confirm_booking(
        request.app[DB], who, booking_id, seat_ids=body.get("seat_ids"), now=request.app[CLOCK]()
    )
    return await _changed(request, who, booking)


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
    booking = await store.reject_booking(
        request.app[DB], who, booking_id, reason=body.get("reason"), now=request.app[CLOCK]()
    )
    return await _changed(request, who, booking)


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
    booking = await store.cancel_booking(
        request.app[DB], who, booking_id, reason=body.get("reason"), now=request.app[CLOCK]()
    )
    return await _changed(request, who, booking)


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
    booking = await store.change_booking(
        request.app[DB],
        who,
        booking_id,
        seat_count=body.get("seat_count"),
        seat_ids=body.get("seat_ids"),
        reason=body.get("reason"),
        now=request.app[CLOCK](),
        policy=booking_policy(request),
    )
    return await _changed(request, who, booking, status=201)
