"""Joint supervision (主场为主、客场为辅) over HTTP: the supervision record, incidents, 函告,
copy notices (抄送告知), away-site handovers (客场资料移交), and presence at check-in (签到在场
核验: what the seat's picture showed, and a host supervisor's confirmation by hand).

Each handler reads the request, calls one supervision use case (``supervision.record``,
``incidents``, ``assistance``, ``copy_notices``, ``handovers``) with the caller and the hub's
clock, and answers with a view of ``api.views.supervision``. Access rules live in
``evaluation_hub.access``, deadline rules in ``supervision.notices``, their numbers in
``HubConfig.regulation.supervision``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import ID, read_json
from evaluation_hub.api.views.evaluation import signals_json
from evaluation_hub.api.views.presence import presence_json
from evaluation_hub.audit.canonical import MAX_SAFE_INTEGER
from evaluation_hub.checkin import presence
from evaluation_hub.errors import InvalidInput
from evaluation_hub.evaluation import collusion
from evaluation_hub.supervision import (
    assistance,
    copy_notices,
    handovers,
    incidents,
    record,
)
from evaluation_hub.supervision import documents as views
from evaluation_hub.supervision.models import Severity
from evaluation_hub.supervision.notices import SupervisionDeadlines

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
        "severity": {"type": "string", "enum": [s.value for s in Severity]},
        "expert_id": ID,
        "seat_id": ID,
        "description": _TEXT,
        "evidence": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "recording_segment_id": {"type": "string", "minLength": 1, "maxLength": 200},
                # seconds into the segment: a segment is seconds long, a day is plenty
                "offset_s": {"type": "integer", "minimum": 0, "maximum": 86_400},
                "audit_seqs": {
                    "type": "array",
                    # an audit payload holds integers JSON readers all agree on (±(2**53 - 1))
                    "items": {"type": "integer", "minimum": 1, "maximum": MAX_SAFE_INTEGER},
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
    "properties": {"venue_id": ID, "content": _TEXT},
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

# The national defaults, named in the route summaries; a deployment may configure its own.
_DEFAULTS = SupervisionDeadlines()


PRESENCE_CONFIRM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reason"],
    "properties": {"reason": {**_TEXT, "example": "经视频连线核对本人身份证件"}},
}


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
    found = await record.supervised_sessions(request.app[SERVICES], who)
    return _json(views.supervised_sessions_json(found))


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
    session_id = path_id(request, "session_id")
    found = await record.supervision_record(
        request.app[SERVICES], who, session_id, now=request.app[CLOCK]()
    )
    return _json(views.record_json(found))


@routes.route(
    "GET",
    "/api/sessions/{session_id}/supervision/signals",
    summary="串通投标提示信号（提示信号，不构成违规认定）：投标人之间的雷同、相同异常字符串、"
    "报价尾数相同，专家之间的评分表高度一致（客场监督只见涉及本场地就座专家的信号）",
    tag=TAG,
    response=_OBJECT,
    errors=(403, 404, 409),
)
async def supervision_signals(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    found = await collusion.supervision_signals(request.app[SERVICES], who, session_id)
    return _json(signals_json(found))


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
    session_id = path_id(request, "session_id")
    found = await incidents.list_incidents(request.app[SERVICES], who, session_id)
    return _json([views.incident_json(i) for i in found])


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
    incident = await incidents.raise_incident(
        request.app[SERVICES],
        who,
        session_id,
        kind=body["kind"],
        severity=Severity(body["severity"]),
        expert_id=body["expert_id"],
        seat_id=body.get("seat_id"),
        evidence=body.get("evidence", {}),
        description=body["description"],
        now=request.app[CLOCK](),
    )
    return _json(views.incident_json(incident), status=201)


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
    incident_id = path_id(request, "incident_id")
    incident = await incidents.get_incident(request.app[SERVICES], who, incident_id)
    return _json(views.incident_json(incident))


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
    incident = await incidents.record_handling(
        request.app[SERVICES], who, incident_id, note=body["note"], now=request.app[CLOCK]()
    )
    return _json(views.incident_json(incident))


@routes.route(
    "POST",
    "/api/incidents/{incident_id}/conclude",
    summary="监督事件结案；涉及客场就座专家的，自动生成抄送告知"
    f"（默认 {_DEFAULTS.copy_notice_working_days} 个工作日内，可配置）",
    tag=TAG,
    body=CONCLUDE,
    response=_OBJECT,
    errors=(403, 404, 409),
)
async def conclude_incident(request: web.Request) -> web.Response:
    who = await principal(request)
    incident_id = path_id(request, "incident_id")
    body = await read_json(request, CONCLUDE)
    incident = await incidents.conclude_incident(
        request.app[SERVICES], who, incident_id, result=body["result"], now=request.app[CLOCK]()
    )
    return _json(views.incident_json(incident))


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
    session_id = path_id(request, "session_id")
    found = await assistance.list_assistance_requests(request.app[SERVICES], who, session_id)
    return _json([views.assistance_json(r) for r in found])


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
    sent = await assistance.request_assistance(
        request.app[SERVICES],
        who,
        session_id,
        venue_id=body["venue_id"],
        content=body["content"],
        now=request.app[CLOCK](),
    )
    return _json(views.assistance_json(sent), status=201)


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
    answered = await assistance.respond_assistance(
        request.app[SERVICES],
        who,
        request_id,
        response=body["response"],
        now=request.app[CLOCK](),
    )
    return _json(views.assistance_json(answered))


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
    session_id = path_id(request, "session_id")
    found = await copy_notices.list_copy_notices(
        request.app[SERVICES], who, session_id, now=request.app[CLOCK]()
    )
    return _json([views.copy_notice_json(n) for n in found])


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
    notice = await copy_notices.acknowledge_copy_notice(
        request.app[SERVICES], who, notice_id, now=request.app[CLOCK]()
    )
    return _json(views.copy_notice_json(notice))


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
    session_id = path_id(request, "session_id")
    found = await handovers.list_handovers(
        request.app[SERVICES], who, session_id, now=request.app[CLOCK]()
    )
    return _json([views.handover_json(h) for h in found])


@routes.route(
    "POST",
    "/api/sessions/{session_id}/handovers",
    summary="评标结束后为每个客场开启资料移交"
    f"（主场监督人员，默认 {_DEFAULTS.handover_working_days} 个工作日内，可配置）",
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
    opened = await handovers.open_handovers(
        request.app[SERVICES], who, session_id, now=request.app[CLOCK]()
    )
    return _json([views.handover_json(h) for h in opened], status=201)


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
    done = await handovers.mark_handed_over(
        request.app[SERVICES], who, handover_id, now=request.app[CLOCK]()
    )
    return _json(views.handover_json(done))


def _expert_code(request: web.Request) -> str:
    code = request.match_info["expert_code"].strip()
    if not code or len(code) > 32:
        raise InvalidInput("bad-expert-code", "专家编号无效")
    return code


@routes.route(
    "GET",
    "/api/sessions/{session_id}/presence",
    summary="签到在场核验：已签到专家签到时工位画面是否确认本人在场（客场监督只见本场地就座专家）",
    tag=TAG,
    response=_LIST,
    errors=(403, 404),
)
async def list_presence(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    found = await presence.list_presence(request.app[SERVICES], who, session_id)
    return _json([presence_json(p) for p in found])


@routes.route(
    "POST",
    "/api/sessions/{session_id}/presence/{expert_code}/confirm",
    summary="人工确认签到未确认在场的专家本人在场（主场监督人员，须填写理由）",
    tag=TAG,
    body=PRESENCE_CONFIRM,
    response=_OBJECT,
    errors=(403, 404, 409),
)
async def confirm_presence(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    code = _expert_code(request)
    body = await read_json(request, PRESENCE_CONFIRM)
    confirmed = await presence.confirm_presence(
        request.app[SERVICES],
        who,
        session_id,
        code,
        reason=body["reason"],
        now=request.app[CLOCK](),
    )
    return _json(presence_json(confirmed))
