"""Committee formation at check-in over HTTP (评标委员会组建): the members' commitments and
recusals, the lawfulness assessment, and the chair election (主任委员推选).

Handlers parse, call one use case of ``evaluation_hub.sessions`` (``committee_view``,
``formation``, ``chair``) with the caller and the hub's clock, and render with
``api.views.committee``. Seat members decide at their seat (the ``commitment`` message); the
host API records the decisions of host members, who have no seat.
"""

from __future__ import annotations

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.views.committee import committee_json, member_json, round_json
from evaluation_hub.errors import InvalidInput
from evaluation_hub.sessions import chair, committee_view, formation

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
    "required": ["ballots", "reason"],
    "properties": {
        "reason": {
            "type": "string",
            "maxLength": 2000,
            "description": "代为登记的原因（专家不在评标终端前时）",
            "example": "专家评标终端故障，当面口头投票",
        },
        "ballots": {
            "type": "array",
            "description": "代为登记的本轮选票：未在工位的已确认成员每人一票",
            "minItems": 1,
            "maxItems": 200,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["voter", "candidate"],
                "properties": {"voter": _CODE, "candidate": _CODE},
            },
        },
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
            "description": "成员当前就座的工位（场地名称、工位号、是否已签到）；未安排工位时为 null",
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
        "open_round": {"type": ["object", "null"]},
    },
}
ROUND = {
    "type": "object",
    "properties": {
        "round": {"type": "integer"},
        "votes": {"type": "object", "additionalProperties": {"type": "integer"}},
        "chair": {"type": ["string", "null"]},
        "tied": {"type": "array", "items": {"type": "string"}},
        "closed": {"type": "boolean"},
        "waiting": {"type": "array", "items": {"type": "string"}},
        "proxied": {"type": "object", "additionalProperties": {"type": "string"}},
    },
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
    seen = await committee_view.committee_view(
        request.app[SERVICES],
        await principal(request),
        path_id(request, "session_id"),
        now=request.app[CLOCK](),
    )
    return web.json_response(committee_json(seen))


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
        request.app[SERVICES],
        who,
        session_id,
        code,
        body["decision"],
        body.get("reason", ""),
        now=request.app[CLOCK](),
    )
    return web.json_response(member_json(member))


@routes.route(
    "POST",
    "/api/sessions/{session_id}/committee/chair-votes",
    summary="代为登记未在工位的成员的主任委员推选选票（须说明原因）；全体已确认成员投票后计票，票数相同则在并列者中再投一轮（主场）",
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
    outcome = await chair.record_chair_round(
        request.app[SERVICES],
        who,
        session_id,
        [(b["voter"].strip(), b["candidate"].strip()) for b in body["ballots"]],
        reason=body["reason"],
        now=request.app[CLOCK](),
    )
    return web.json_response(round_json(outcome), status=201)
