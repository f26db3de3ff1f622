"""Seating experts at booked seats, booking host seats for host members (主场工位), and issuing
their one-time check-in PINs (签到码) over HTTP. Handlers parse, call one use case
(``evaluation_hub.checkin.store``, ``evaluation_hub.sessions.seat_requests``) and render."""

from __future__ import annotations

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import ID, read_json
from evaluation_hub.api.serialize import ref
from evaluation_hub.api.views.bookings import booking_json
from evaluation_hub.api.views.sessions import pins_json
from evaluation_hub.checkin import store
from evaluation_hub.sessions import seat_requests

__all__ = ["routes"]

routes = ApiRoutes()

SEAT_EXPERT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expert_id"],
    "properties": {"expert_id": ID},
}


HOST_SEATS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["seats"],
    "properties": {
        "seats": {
            "type": "array",
            "description": "主场工位及在该工位评标的主场专家",
            "minItems": 1,
            "maxItems": 200,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["seat_id", "expert_id"],
                "properties": {
                    "seat_id": {"type": "integer", "minimum": 1},
                    "expert_id": {"type": "integer", "minimum": 1},
                },
            },
        }
    },
}


@routes.route(
    "POST",
    "/api/sessions/{session_id}/host-seats",
    summary="为主场专家预约主场工位并安排就座（主场；由主场场地管理员确认预约）",
    tag="专家签到",
    body=HOST_SEATS,
    response=ref("Booking"),
    status=201,
    errors=(403, 404, 409),
)
async def book_host_seats(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, HOST_SEATS)
    booking = await seat_requests.book_host_seats(
        request.app[SERVICES],
        who,
        session_id,
        [(x["seat_id"], x["expert_id"]) for x in body["seats"]],
        now=request.app[CLOCK](),
    )
    return web.json_response(booking_json(booking), status=201)


@routes.route(
    "POST",
    "/api/bookings/{booking_id}/seats/{seat_id}/expert",
    summary="安排评标委员会成员到预约占用的工位（主场）",
    tag="专家签到",
    body=SEAT_EXPERT,
    status=204,
    errors=(403, 404, 409),
)
async def seat_expert(request: web.Request) -> web.Response:
    who = await principal(request)
    booking_id = path_id(request, "booking_id")
    seat_id = path_id(request, "seat_id")
    body = await read_json(request, SEAT_EXPERT)
    await store.assign_expert(
        request.app[SERVICES], who, booking_id, seat_id, body["expert_id"], now=request.app[CLOCK]()
    )
    return web.Response(status=204)


@routes.route(
    "POST",
    "/api/sessions/{session_id}/checkin-pins",
    summary="为已安排工位的专家发放一次性签到码（仅此一次显示，主场）",
    tag="专家签到",
    status=201,
    errors=(403, 404, 409),
)
async def issue_pins(request: web.Request) -> web.Response:
    issued = await store.issue_pins(
        request.app[SERVICES],
        await principal(request),
        path_id(request, "session_id"),
        now=request.app[CLOCK](),
    )
    return web.json_response(pins_json(issued), status=201, headers={"Cache-Control": "no-store"})
