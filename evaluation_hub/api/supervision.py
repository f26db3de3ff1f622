"""Joint supervision (主场为主、客场为辅) over HTTP: the supervision record, incidents, 函告,
copy notices (抄送告知) and away-site handovers (客场资料移交).

Handlers only read the request, call ``supervision.store`` with the caller and the hub's clock,
and answer; access and deadline rules live in ``supervision.access`` and ``supervision.notices``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.directory import path_id
from evaluation_hub.api.keys import CLOCK, CONFIG, DB
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.supervision import store

__all__ = ["routes"]

routes = ApiRoutes()
TAG = "联合监督"

_TEXT = {"type": "string", "minLength": 1, "maxLength": 4000}
INCIDENT_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "severity", "expert_id", "description"],
    "properties": {
        "kind": {"type": "string", "minLength": 1, "maxLength": 60, "example": "评标期间离开工位"},
        "severity": {"type": "string", "enum": list(store.SEVERITY_NAMES)},
        "expert_id": {"type": "integer", "minimum": 1},
        "seat_id": {"type": "integer", "minimum": 1},
        "description": _TEXT,
        "evidence": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "recording_segment_id": {"type": "string", "minLength": 1, "maxLength": 200},
                "offset_s": {"type": "integer", "minimum": 0},
                "audit_seqs": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1},
                    "maxItems": 100,
                },
            },
        },
    },
}
HANDLING = {
    "type": "object",
    "additionalProperties": False,
    "required": ["note"],
    "properties": {"note": _TEXT},
}
CONCLUDE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["result"],
    "properties": {"result": _TEXT},
}
ASSISTANCE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["venue_id", "content"],
    "properties": {"venue_id": {"type": "integer", "minimum": 1}, "content": _TEXT},
}
RESPONSE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["response"],
    "properties": {"response": _TEXT},
}
EMPTY: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}

_OBJECT: dict[str, Any] = {"type": "object"}
_LIST: dict[str, Any] = {"type": "array", "items": {"type": "object"}}


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


@routes.route(
    "GET",
    "/api/supervision/sessions",
    summary="列出本人监督的评标会（主场或有专家在本场地就座的客场）",
    tag=TAG,
    response=_LIST,
    errors=(403,),
)
async def list_sessions(request: web.Request) -> web.Response:
    who = await principal(request)
    return _json(await store.supervised_sessions(request.app[DB], who))


@routes.route(
    "GET",
    "/api/sessions/{session_id}/supervision",
    summary="评标会的联合监督记录：每位专家的工位、主监督地与协助监督地",
    tag=TAG,
    response=_OBJECT,
    errors=(403, 404),
)
async def supervision_record(request: web.Request) -> web.Response:
    who = await principal(request)
    record = await store.supervision_record(request.app[DB], who, path_id(request, "session_id"))
    return _json(record)


@routes.route(
    "GET",
    "/api/sessions/{session_id}/incidents",
    summary="列出评标会的监督事件（客场监督只见本场地就座专家的事件）",
    tag=TAG,
    response=_LIST,
    errors=(403, 404),
)
async def list_incidents(request: web.Request) -> web.Response:
    who = await principal(request)
    return _json(await store.list_incidents(request.app[DB], who, path_id(request, "session_id")))


@routes.route(
    "POST",
    "/api/sessions/{session_id}/incidents",
    summary="登记监督事件（主场监督人员）",
    tag=TAG,
    body=INCIDENT_CREATE,
    response=_OBJECT,
    status=201,
    errors=(403, 404),
)
async def raise_incident(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, INCIDENT_CREATE)
    incident = await store.raise_incident(
        request.app[DB],
        who,
        session_id,
        kind=body["kind"],
        severity=body["severity"],
        expert_id=body["expert_id"],
        seat_id=body.get("seat_id"),
        evidence=body.get("evidence", {}),
        description=body["description"],
        now=request.app[CLOCK](),
    )
    return _json(incident, status=201)


@routes.route(
    "GET",
    "/api/incidents/{incident_id}",
    summary="查看监督事件及其处理记录",
    tag=TAG,
    response=_OBJECT,
    errors=(403, 404),
)
async def get_incident(request: web.Request) -> web.Response:
    who = await principal(request)
    return _json(await store.get_incident(request.app[DB], who, path_id(request, "incident_id")))


@routes.route(
    "POST",
    "/api/incidents/{incident_id}/handling",
    summary="记录监督事件的处理情况（主场监督人员）",
    tag=TAG,
    body=HANDLING,
    response=_OBJECT,
    errors=(403, 404, 409),
)
async def record_handling(request: web.Request) -> web.Response:
    who = await principal(request)
    incident_id = path_id(request, "incident_id")
    body = await read_json(request, HANDLING)
    incident = await store.record_handling(
        request.app[DB], who, incident_id, note=body["note"], now=request.app[CLOCK]()
    )
    return _json(incident)


@routes.route(
    "POST",
    "/api/incidents/{incident_id}/conclude",
    summary="监督事件结案；涉及客场就座专家的，自动生成抄送告知（7 个工作日内）",
    tag=TAG,
    body=CONCLUDE,
    response=_OBJECT,
    errors=(403, 404, 409),
)
async def conclude_incident(request: web.Request) -> web.Response:
    who = await principal(request)
    incident_id = path_id(request, "incident_id")
    body = await read_json(request, CONCLUDE)
    incident = await store.conclude_incident(
        request.app[DB],
        who,
        incident_id,
        result=body["result"],
        now=request.app[CLOCK](),
        deadlines=request.app[CONFIG].regulation.supervision,
    )
    return _json(incident)


@routes.route(
    "GET",
    "/api/sessions/{session_id}/assistance-requests",
    summary="列出评标会的函告（客场监督只见发往本场地的函告）",
    tag=TAG,
    response=_LIST,
    errors=(403, 404),
)
async def list_assistance(request: web.Request) -> web.Response:
    who = await principal(request)
    found = await store.list_assistance_requests(
        request.app[DB], who, path_id(request, "session_id")
    )
    return _json(found)


@routes.route(
    "POST",
    "/api/sessions/{session_id}/assistance-requests",
    summary="向客场发出函告（主场监督人员）",
    tag=TAG,
    body=ASSISTANCE,
    response=_OBJECT,
    status=201,
    errors=(403, 404),
)
async def request_assistance(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, ASSISTANCE)
    row = await store.request_assistance(
        request.app[DB],
        who,
        session_id,
        venue_id=body["venue_id"],
        content=body["content"],
        now=request.app[CLOCK](),
    )
    return _json(row, status=201)


@routes.route(
    "POST",
    "/api/assistance-requests/{request_id}/respond",
    summary="答复函告（被函告场地的监督人员）",
    tag=TAG,
    body=RESPONSE,
    response=_OBJECT,
    errors=(403, 404, 409),
)
async def respond_assistance(request: web.Request) -> web.Response:
    who = await principal(request)
    request_id = path_id(request, "request_id")
    body = await read_json(request, RESPONSE)
    row = await store.respond_assistance(
        request.app[DB], who, request_id, response=body["response"], now=request.app[CLOCK]()
    )
    return _json(row)


@routes.route(
    "GET",
    "/api/sessions/{session_id}/copy-notices",
    summary="列出抄送告知及其期限、逾期状态（客场监督只见抄送本场地的）",
    tag=TAG,
    response=_LIST,
    errors=(403, 404),
)
async def list_copy_notices(request: web.Request) -> web.Response:
    who = await principal(request)
    found = await store.list_copy_notices(
        request.app[DB], who, path_id(request, "session_id"), now=request.app[CLOCK]()
    )
    return _json(found)


@routes.route(
    "POST",
    "/api/copy-notices/{notice_id}/acknowledge",
    summary="确认接收抄送告知（被抄送场地的监督人员）",
    tag=TAG,
    body=EMPTY,
    response=_OBJECT,
    errors=(403, 404, 409),
)
async def acknowledge_copy_notice(request: web.Request) -> web.Response:
    who = await principal(request)
    notice_id = path_id(request, "notice_id")
    await read_json(request, EMPTY)
    row = await store.acknowledge_copy_notice(
        request.app[DB], who, notice_id, now=request.app[CLOCK]()
    )
    return _json(row)


@routes.route(
    "GET",
    "/api/sessions/{session_id}/handovers",
    summary="列出客场资料移交及其期限、逾期状态",
    tag=TAG,
    response=_LIST,
    errors=(403, 404),
)
async def list_handovers(request: web.Request) -> web.Response:
    who = await principal(request)
    found = await store.list_handovers(
        request.app[DB], who, path_id(request, "session_id"), now=request.app[CLOCK]()
    )
    return _json(found)


@routes.route(
    "POST",
    "/api/sessions/{session_id}/handovers",
    summary="评标结束后为每个客场开启资料移交（主场监督人员，5 个工作日内）",
    tag=TAG,
    body=EMPTY,
    response=_LIST,
    status=201,
    errors=(403, 404, 409),
)
async def open_handovers(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    await read_json(request, EMPTY)
    rows = await store.open_handovers(
        request.app[DB],
        who,
        session_id,
        now=request.app[CLOCK](),
        deadlines=request.app[CONFIG].regulation.supervision,
    )
    return _json(rows, status=201)


@routes.route(
    "POST",
    "/api/handovers/{handover_id}/handed-over",
    summary="标记本场地资料已移交主场（客场监督人员）",
    tag=TAG,
    body=EMPTY,
    response=_OBJECT,
    errors=(403, 404, 409),
)
async def mark_handed_over(request: web.Request) -> web.Response:
    who = await principal(request)
    handover_id = path_id(request, "handover_id")
    await read_json(request, EMPTY)
    row = await store.mark_handed_over(request.app[DB], who, handover_id, now=request.app[CLOCK]())
    return _json(row)
