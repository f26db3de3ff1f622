"""Seat allocation proposals and random draws for a session (工位分配、随机抽取)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.bookings import booking_policy, visible_booking
from evaluation_hub.api.directory import CAPABILITIES, path_id
from evaluation_hub.api.events import publish_booking
from evaluation_hub.api.keys import CLOCK, DB, DISTANCES, SEALER
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.booking import proposals
from evaluation_hub.errors import AllocationError, InvalidInput

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


def _rules(body: dict[str, Any]) -> proposals.AllocationRules:
    return proposals.AllocationRules(
        required_capabilities=frozenset(
            body.get("required_capabilities", ["camera", "microphone"])
        ),
        max_per_employer_per_venue=body.get("max_per_employer_per_venue", 1),
    )


@routes.route(
    "POST",
    "/api/sessions/{session_id}/allocation",
    summary="为客场专家分配工位：就近分配（可直接申请预约）或随机抽取（只公布承诺值）",
    tag="工位分配",
    body=ALLOCATE,
    errors=(403, 404, 409),
)
async def allocate(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, ALLOCATE)
    app = request.app
    now = app[CLOCK]()
    try:
        if body["policy"] == "nearest":
            proposal, bookings = await proposals.propose(
                app[DB],
                who,
                session_id,
                distances=app[DISTANCES],
                rules=_rules(body),
                book=body.get("book", False),
                now=now,
                policy=booking_policy(request),
            )
            for booking in bookings:
                await publish_booking(app, booking)
            return web.json_response(
                {
                    "policy": "nearest",
                    "solver": proposal.solver,
                    "total_distance_km": proposal.total_distance_km,
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
                        for a in proposal.assignments
                    ],
                    "bookings": [await visible_booking(request, who, b) for b in bookings],
                }
            )
        if body.get("book") is False:
            raise InvalidInput(
                "invalid-body", "随机抽取的结果直接申请预约，不能只预览（book 不能为 false）"
            )
        commitment, bookings = await proposals.draw_and_book(
            app[DB],
            who,
            session_id,
            rules=_rules(body),
            sealer=app[SEALER],
            now=now,
            policy=booking_policy(request),
        )
    except AllocationError as exc:
        raise InvalidInput("allocation-infeasible", str(exc), reasons=exc.reasons) from exc
    for booking in bookings:
        await publish_booking(app, booking)
    return web.json_response(
        {
            "policy": "random",
            "commitment": commitment,
            "booking_count": len(bookings),
            "note": "抽取结果在评标开始前对主场保密；开始后可查看种子并复核抽取",
        },
        status=201,
    )


@routes.route(
    "GET",
    "/api/sessions/{session_id}/draw",
    summary="随机抽取的承诺值；评标开始后公开种子与输入，供任何人复核",
    tag="工位分配",
    errors=(403, 404),
)
async def get_draw(request: web.Request) -> web.Response:
    who = await principal(request)
    reveal = await proposals.reveal_draw(
        request.app[DB],
        who,
        path_id(request, "session_id"),
        sealer=request.app[SEALER],
        now=request.app[CLOCK](),
    )
    return web.json_response(
        {
            "commitment": reveal.commitment,
            "drawn_by": reveal.drawn_by,
            "drawn_at": reveal.drawn_at.isoformat(),
            "revealed": reveal.seed_hex is not None,
            "reveal_at": reveal.starts_at.isoformat(),
            "seed": reveal.seed_hex,
            "inputs": reveal.inputs,
        }
    )
