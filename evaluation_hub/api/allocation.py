"""Seat allocation proposals and random draws for a session (工位分配、随机抽取) over HTTP.
Handlers parse, call one use case of ``evaluation_hub.sessions.seat_allocation`` and render."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.views.bookings import draw_json, proposal_json, reveal_json
from evaluation_hub.booking.directory import CAPABILITIES
from evaluation_hub.errors import InvalidInput
from evaluation_hub.sessions import seat_allocation

__all__ = ["routes"]

routes = ApiRoutes()

ALLOCATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["policy"],
    "properties": {
        "policy": {"type": "string", "enum": ["nearest", "random"]},
        "required_capabilities": {
            "type": "array",
            "items": {"type": "string", "enum": list(CAPABILITIES)},
            "uniqueItems": True,
        },
        "max_per_employer_per_venue": {"type": "integer", "minimum": 1, "maximum": 50},
        "book": {"type": "boolean", "description": "nearest: also request the proposed seats"},
    },
}


def _rules(body: dict[str, Any]) -> seat_allocation.AllocationRules:
    default = seat_allocation.AllocationRules()
    return seat_allocation.AllocationRules(
        required_capabilities=frozenset(
            body.get("required_capabilities", default.required_capabilities)
        ),
        max_per_employer_per_venue=body.get(
            "max_per_employer_per_venue", default.max_per_employer_per_venue
        ),
    )


@routes.route(
    "POST",
    "/api/sessions/{session_id}/allocation",
    summary="为客场专家分配工位：就近分配（可直接申请预约）或随机抽取（只公布承诺值）",
    tag="工位分配",
    body=ALLOCATE,
    errors=(403, 404, 409),
    also=(201,),
)
async def allocate(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, ALLOCATE)
    hub, now = request.app[SERVICES], request.app[CLOCK]()
    if body["policy"] == "nearest":
        proposal = await seat_allocation.propose(
            hub, who, session_id, rules=_rules(body), book=body.get("book", False), now=now
        )
        return web.json_response(proposal_json(proposal))
    if body.get("book") is False:
        raise InvalidInput(
            "invalid-body", "随机抽取的结果直接申请预约，不能只预览（book 不能为 false）"
        )
    drawn = await seat_allocation.draw_and_book(hub, who, session_id, rules=_rules(body), now=now)
    return web.json_response(draw_json(drawn), status=201)


@routes.route(
    "GET",
    "/api/sessions/{session_id}/draw",
    summary="随机抽取的承诺值；评标开始后公开种子与输入，供任何人复核",
    tag="工位分配",
    errors=(403, 404),
)
async def get_draw(request: web.Request) -> web.Response:
    reveal = await seat_allocation.reveal_draw(
        request.app[SERVICES],
        await principal(request),
        path_id(request, "session_id"),
        now=request.app[CLOCK](),
    )
    return web.json_response(reveal_json(reveal))
