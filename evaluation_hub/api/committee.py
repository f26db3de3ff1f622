"""Committee formation at check-in over HTTP (评标委员会组建): the members' commitments and
recusals, the lawfulness assessment, and the chair election (主任委员推选).

Handlers read the request, call ``sessions.formation`` with the caller and the hub's clock,
and answer. Seat members decide at their seat (the ``commitment`` message); the host API
records the decisions of host members, who have no seat.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.directory import path_id
from evaluation_hub.api.keys import CLOCK, DB
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.errors import InvalidInput
from evaluation_hub.sessions import formation

__all__ = ["routes"]

routes = ApiRoutes()
TAG = "评标委员会组建"

_CODE = {"type": "string", "minLength": 1, "maxLength": 32}
DECISION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["decision"],
    "properties": {
        "decision": {"type": "string", "enum": list(formation.DECISIONS)},
        "reason": {"type": "string", "maxLength": 2000, "example": "曾任投标人技术顾问"},
    },
}
CHAIR_ROUND = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ballots"],
    "properties": {
        "ballots": {
            "type": "array",
            "description": "本轮选票：每位已确认成员一票",
            "minItems": 1,
            "maxItems": 200,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["voter", "candidate"],
                "properties": {"voter": _CODE, "candidate": _CODE},
            },
        }
    },
}
MEMBER = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "name": {"type": "string"},
        "placement": {"type": "string", "enum": ["host", "away"]},
        "decision": {"type": "string", "enum": ["pending", "confirmed", "recused"]},
        "reason": {"type": "string"},
        "decided_at": {"type": ["string", "null"], "format": "date-time"},
        "is_chair": {"type": "boolean"},
        "seat": {
            "type": ["object", "null"],
            "description": "客场成员当前就座的工位（场地名称、工位号）；未安排工位时为 null",
        },
    },
}
COMMITTEE = {
    "type": "object",
    "properties": {
        "session_id": {"type": "integer"},
        "members": {"type": "array", "items": MEMBER},
        "lawful": {"type": "boolean"},
        "confirmed": {"type": "integer"},
        "experts": {"type": "integer"},
        "experts_needed": {"type": ["integer", "null"]},
        "problems": {"type": "array", "items": {"type": "string"}},
        "chair": {"type": ["string", "null"]},
        "rounds": {"type": "array", "items": {"type": "object"}},
        "next_candidates": {"type": "array", "items": {"type": "string"}},
        "round_results": {"type": "array", "items": {"type": "object"}},
    },
}
ROUND = {
    "type": "object",
    "properties": {
        "round": {"type": "integer"},
        "votes": {"type": "object", "additionalProperties": {"type": "integer"}},
        "chair": {"type": ["string", "null"]},
        "tied": {"type": "array", "items": {"type": "string"}},
    },
}


def _member(m: formation.MemberView) -> dict[str, Any]:
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


def _expert_code(request: web.Request) -> str:
    code = request.match_info["expert_code"].strip()
    if not code or len(code) > 32:
        raise InvalidInput("bad-expert-code", "专家编号无效")
    return code


@routes.route(
    "GET",
    "/api/sessions/{session_id}/committee",
    summary="查看评标委员会组建情况：成员承诺或回避、组成是否合规、主任委员推选",
    tag=TAG,
    response=COMMITTEE,
    errors=(403, 404),
)
async def view(request: web.Request) -> web.Response:
    who = await principal(request)
    v = await formation.committee_view(request.app[DB], who, path_id(request, "session_id"))
    a = v.assessment
    return web.json_response(
        {
            "session_id": v.session_id,
            "members": [_member(m) for m in v.members],
            "lawful": a.valid,
            "confirmed": a.size,
            "experts": a.experts,
            "experts_needed": a.experts_needed,
            "problems": list(a.problems),
            "chair": v.chair,
            "rounds": v.rounds,
            "next_candidates": v.next_candidates,
            "round_results": [_round(r) for r in v.round_results],
        }
    )


@routes.route(
    "POST",
    "/api/sessions/{session_id}/committee/members/{expert_code}/decision",
    summary="登记主场专家的评标纪律承诺或回避声明（主场）",
    tag=TAG,
    body=DECISION,
    response=MEMBER,
    errors=(403, 404, 409),
)
async def decide(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    code = _expert_code(request)
    body = await read_json(request, DECISION)
    member = await formation.decide_at_host(
        request.app[DB],
        who,
        session_id,
        code,
        body["decision"],
        body.get("reason", ""),
        now=request.app[CLOCK](),
    )
    return web.json_response(_member(member))


@routes.route(
    "POST",
    "/api/sessions/{session_id}/committee/chair-votes",
    summary="登记一轮主任委员推选投票；票数相同则在并列者中再投一轮（主场）",
    tag=TAG,
    body=CHAIR_ROUND,
    response=ROUND,
    status=201,
    errors=(403, 404, 409),
)
async def chair_round(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, CHAIR_ROUND)
    outcome = await formation.record_chair_round(
        request.app[DB],
        who,
        session_id,
        [(b["voter"].strip(), b["candidate"].strip()) for b in body["ballots"]],
        now=request.app[CLOCK](),
    )
    return web.json_response(_round(outcome), status=201)


def _round(outcome: formation.RoundOutcome) -> dict[str, Any]:
    return {
        "round": outcome.round,
        "votes": outcome.votes,
        "chair": outcome.chair,
        "tied": outcome.tied,
    }
