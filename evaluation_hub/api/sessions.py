"""Evaluation sessions (评标会) over HTTP: create, read, list, register experts, and the
session's progress (lifecycle moves and the fault clocks). Handlers parse, call one use case of
``evaluation_hub.sessions`` and render with ``api.views.sessions``.

The evaluation's committed shuffle follows the committee (a member added, the review
started): these handlers hand the evaluation's use cases to the session's (``follow``,
``start``), so the sessions package never imports the evaluation package, which imports it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import ID, read_json
from evaluation_hub.api.serialize import list_of, ref
from evaluation_hub.api.views.sessions import (
    expert_json,
    lifecycle_json,
    member_added_json,
    session_detail_json,
    session_json,
)
from evaluation_hub.evaluation.package import recommit_members, start_evaluation_in
from evaluation_hub.sessions import lifecycle, membership, records
from evaluation_hub.sessions import store as progress

__all__ = ["routes"]

routes = ApiRoutes()

SESSION_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "project_code",
        "project_name",
        "section",
        "starts_at",
        "ends_at",
        "committee_size",
    ],
    "properties": {
        "project_code": {"type": "string", "minLength": 1, "maxLength": 64},
        "project_name": {"type": "string", "minLength": 1, "maxLength": 300},
        "section": {"type": "string", "minLength": 1, "maxLength": 100},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
        "committee_size": {"type": "integer", "minimum": 1, "maximum": 99},
        "host_venue_id": ID,
        "procurement_type": {
            "type": "string",
            "enum": ["engineering", "government"],
            "description": "engineering 工程招标（默认）/ government 政府采购",
        },
        "budget": {
            "type": "integer",
            "minimum": 0,
            "maximum": 999_999_999_999_999,
            "description": "预算金额（元，整数）",
        },
        "representatives": {
            "type": "integer",
            "minimum": 0,
            "maximum": 99,
            "description": "其中采购人代表人数",
        },
    },
}
SESSION_EXPERT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expert_id"],
    "properties": {
        "expert_id": ID,
        "placement": {"type": "string", "enum": list(membership.PLACEMENTS)},
    },
}


@routes.route(
    "GET",
    "/api/sessions",
    summary="列出本场地主办的评标会",
    tag="评标会",
    response=list_of("Session"),
)
async def list_sessions(request: web.Request) -> web.Response:
    sessions = await records.list_sessions(request.app[SERVICES], await principal(request))
    return web.json_response([session_json(x) for x in sessions])


@routes.route(
    "POST",
    "/api/sessions",
    summary="创建评标会（主场业务人员，主场即本场地）",
    tag="评标会",
    body=SESSION_CREATE,
    response=ref("Session"),
    status=201,
    errors=(403, 404),
)
async def create_session(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await read_json(request, SESSION_CREATE)
    draft = records.SessionDraft(
        project_code=body["project_code"],
        project_name=body["project_name"],
        section=body["section"],
        starts_at=datetime.fromisoformat(body["starts_at"]),
        ends_at=datetime.fromisoformat(body["ends_at"]),
        committee_size=body["committee_size"],
        host_venue_id=body.get("host_venue_id"),
        procurement_type=body.get("procurement_type", "engineering"),
        budget=Decimal(body["budget"]) if "budget" in body else None,
        representatives=body.get("representatives", 0),
    )
    session = await records.create_session(
        request.app[SERVICES], who, draft, now=request.app[CLOCK]()
    )
    return web.json_response(session_json(session), status=201)


@routes.route(
    "GET",
    "/api/sessions/{session_id}",
    summary="查看评标会及其专家",
    tag="评标会",
    response=ref("Session"),
    errors=(403, 404),
)
async def get_session(request: web.Request) -> web.Response:
    detail = await records.get_session(
        request.app[SERVICES], await principal(request), path_id(request, "session_id")
    )
    return web.json_response(session_detail_json(detail))


@routes.route(
    "POST",
    "/api/sessions/{session_id}/experts",
    summary="为评标会登记抽取的专家",
    tag="评标会",
    body=SESSION_EXPERT,
    status=201,
    errors=(403, 404, 409),
)
async def add_session_expert(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, SESSION_EXPERT)
    added = await membership.add_member(
        request.app[SERVICES],
        who,
        session_id,
        body["expert_id"],
        placement=body.get("placement", "away"),
        now=request.app[CLOCK](),
        follow=recommit_members,
    )
    return web.json_response(member_added_json(added), status=201)


@routes.route(
    "GET",
    "/api/experts",
    summary="列出专家库（主场业务人员、系统管理员）",
    tag="评标会",
    response=list_of("Expert"),
    errors=(403,),
)
async def list_experts(request: web.Request) -> web.Response:
    experts = await records.list_experts(request.app[SERVICES], await principal(request))
    return web.json_response([expert_json(e) for e in experts])


ACTION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["action"],
    "properties": {
        "action": {"type": "string", "enum": list(lifecycle.TRANSITIONS)},
        "reason": {"type": "string", "maxLength": 1000},
    },
}
FAULT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "note": {"type": "string", "maxLength": 1000},
        "fixed": {"type": "boolean", "description": "true: the fault is fixed and the clocks stop"},
    },
}


@routes.route(
    "GET",
    "/api/sessions/{session_id}/lifecycle",
    summary="评标会进程：当前状态、可执行操作、变更记录和故障到期事项",
    tag="评标会",
    errors=(403, 404),
)
async def get_lifecycle(request: web.Request) -> web.Response:
    view = await progress.lifecycle_view(
        request.app[SERVICES],
        await principal(request),
        path_id(request, "session_id"),
        now=request.app[CLOCK](),
    )
    return web.json_response(lifecycle_json(view))


@routes.route(
    "POST",
    "/api/sessions/{session_id}/actions",
    summary="推进评标会进程（开始、暂停、恢复、封存等，仅主场）",
    tag="评标会",
    body=ACTION,
    errors=(403, 404, 409),
)
async def session_action(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, ACTION)
    view = await progress.act(
        request.app[SERVICES],
        who,
        session_id,
        body["action"],
        reason=body.get("reason"),
        now=request.app[CLOCK](),
        start=start_evaluation_in,
    )
    return web.json_response(lifecycle_json(view))


@routes.route(
    "POST",
    "/api/sessions/{session_id}/fault",
    summary="登记或解除故障（启动或停止故障计时，仅主场）",
    tag="评标会",
    body=FAULT,
    errors=(403, 404, 409),
)
async def session_fault(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, FAULT)
    view = await progress.report_fault(
        request.app[SERVICES],
        who,
        session_id,
        note=body.get("note"),
        fixed=body.get("fixed", False),
        now=request.app[CLOCK](),
    )
    return web.json_response(lifecycle_json(view))
