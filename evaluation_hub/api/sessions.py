"""Evaluation sessions (评标会) as far as booking needs them: create, list, experts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from evaluation_hub.api.auth import principal
from evaluation_hub.api.directory import path_id
from evaluation_hub.api.keys import CLOCK, CONFIG, DB, SEALER, SERVICES
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.serialize import expert_json, iso, list_of, ref, session_json
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking import rules
from evaluation_hub.db.models import EvaluationSession, Expert, SessionExpert, Venue
from evaluation_hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from evaluation_hub.evaluation.package import recommit_members, start_evaluation
from evaluation_hub.principal import Principal
from evaluation_hub.sessions import lifecycle
from evaluation_hub.sessions import store as session_store
from evaluation_hub.sessions.states import BEFORE_START, SessionState

__all__ = ["load_session", "routes"]

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
        "host_venue_id": {"type": "integer", "minimum": 1},
    },
}
SESSION_EXPERT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expert_id"],
    "properties": {
        "expert_id": {"type": "integer", "minimum": 1},
        "placement": {"type": "string", "enum": ["host", "away"]},
    },
}


def check_committee_size(size: int) -> None:
    """Committees are an odd number of at least five members (national tendering law)."""
    if size < 5 or size % 2 == 0:
        raise InvalidInput(
            "committee-size", f"评标委员会人数必须为 5 人以上的单数，当前为 {size} 人"
        )


async def load_session(request: web.Request, session_id: int) -> EvaluationSession:
    async with request.app[DB].read() as s:
        session = (
            await s.execute(
                select(EvaluationSession)
                .where(EvaluationSession.id == session_id)
                .options(
                    selectinload(EvaluationSession.experts).selectinload(SessionExpert.expert),
                    selectinload(EvaluationSession.host_venue),
                )
            )
        ).scalar_one_or_none()
    if session is None:
        raise NotFound("session-not-found", f"评标会 #{session_id} 不存在")
    return session


def _may_see(who: Principal, session: EvaluationSession) -> bool:
    return who.is_system or who.venue_id == session.host_venue_id


@routes.route(
    "GET",
    "/api/sessions",
    summary="列出本场地主办的评标会",
    tag="评标会",
    response=list_of("Session"),
)
async def list_sessions(request: web.Request) -> web.Response:
    who = await principal(request)
    query = select(EvaluationSession).order_by(EvaluationSession.starts_at)
    if not who.is_system:
        query = query.where(EvaluationSession.host_venue_id == who.venue_id)
    async with request.app[DB].read() as s:
        sessions = list((await s.execute(query)).scalars())
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
    if who.is_system:
        host_id = body.get("host_venue_id")
        if host_id is None:
            raise InvalidInput("invalid-body", "缺少字段 host_venue_id")
    elif who.role == "host_operator":
        host_id = who.venue_id
        if body.get("host_venue_id") not in (None, host_id):
            raise Forbidden("not-host", "只能以本场地为主场创建评标会：一个评标会只有一个主场")
    else:
        raise Forbidden("not-host", "只有主场业务人员可以创建评标会")
    window = rules.Window.checked(
        datetime.fromisoformat(body["starts_at"]), datetime.fromisoformat(body["ends_at"])
    )
    check_committee_size(body["committee_size"])
    async with request.app[DB].write() as s:
        if await s.get(Venue, host_id) is None:
            raise NotFound("venue-not-found", f"场地 #{host_id} 不存在")
        session = EvaluationSession(
            project_code=body["project_code"].strip(),
            project_name=body["project_name"].strip(),
            section=body["section"].strip(),
            host_venue_id=host_id,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            committee_size=body["committee_size"],
            state=SessionState.SCHEDULED,
            created_at=request.app[CLOCK](),
        )
        s.add(session)
        await s.flush()
        result = session_json(session)
    return web.json_response(result, status=201)


@routes.route(
    "GET",
    "/api/sessions/{session_id}",
    summary="查看评标会及其专家",
    tag="评标会",
    response=ref("Session"),
    errors=(403, 404),
)
async def get_session(request: web.Request) -> web.Response:
    who = await principal(request)
    session = await load_session(request, path_id(request, "session_id"))
    if not _may_see(who, session):
        raise Forbidden("session-not-visible", f"评标会 #{session.id} 不由本场地主办，无权查看")
    out = session_json(session)
    out["experts"] = [
        {**expert_json(se.expert), "placement": se.placement} for se in session.experts
    ]
    return web.json_response(out)


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
    session = await load_session(request, path_id(request, "session_id"))
    host = session.host_venue
    who.require_host(host.id, host.name)
    body = await read_json(request, SESSION_EXPERT)
    async with request.app[DB].write() as s:
        expert = await s.get(Expert, body["expert_id"])
        if expert is None:
            raise NotFound("expert-not-found", f"专家 #{body['expert_id']} 不存在")
        if any(se.expert_id == expert.id for se in session.experts):
            raise Conflict(
                "expert-already-added", f"专家 {expert.code} 已在评标会 #{session.id} 中"
            )
        # Read under the row lock: a start committed meanwhile is seen, one to come waits.
        state = (
            await s.execute(
                select(EvaluationSession.state)
                .where(EvaluationSession.id == session.id)
                .with_for_update()
            )
        ).scalar_one()
        if state not in BEFORE_START:
            # After the start a committee that lost a member is sealed for a new one.
            raise Conflict(
                "committee-fixed",
                f"评标会当前状态为「{lifecycle.STATE_NAMES[state]}」，评审已开始，"
                "不能再增补专家；如评标委员会人数不足，请暂停并封存，重新组建评标委员会",
            )
        # A member who declared recusal leaves a place to fill (增补专家).
        serving = [se for se in session.experts if se.decision != "recused"]
        if len(serving) >= session.committee_size:
            raise Conflict(
                "committee-full",
                f"评标会 #{session.id} 的评标委员会已满 {session.committee_size} 人",
            )
        s.add(
            SessionExpert(
                session_id=session.id, expert_id=expert.id, placement=body.get("placement", "away")
            )
        )
        await s.flush()
        await append_event(
            s,
            kind="session.expert_added",
            subject=f"session:{session.id}",
            actor=who.username,
            payload={
                "expert": expert.code,
                "placement": body.get("placement", "away"),
                "replacing": [se.expert.code for se in session.experts if se.decision == "recused"],
            },
            at=request.app[CLOCK](),
        )
        # With the package attached, the newcomer's view joins the committed shuffle now, so
        # their chapters can be released before the start.
        await recommit_members(
            s,
            session.id,
            [se.expert.code for se in serving] + [expert.code],
            sealer=request.app[SEALER],
            actor=who.username,
            why="member_added",
            now=request.app[CLOCK](),
        )
    return web.json_response(
        {**expert_json(expert), "placement": body.get("placement", "away")}, status=201
    )


@routes.route("GET", "/api/experts", summary="列出专家", tag="评标会", response=list_of("Expert"))
async def list_experts(request: web.Request) -> web.Response:
    await principal(request)
    async with request.app[DB].read() as s:
        experts = (await s.execute(select(Expert).order_by(Expert.id))).scalars()
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


def _lifecycle_json(view: session_store.LifecycleView) -> dict[str, Any]:
    s = view.session
    return {
        "session_id": s.id,
        "state": s.state,
        "state_name": lifecycle.STATE_NAMES[s.state],
        "paused_from": s.paused_from,
        "allowed_actions": [{"action": a, "name": lifecycle.ACTION_NAMES[a]} for a in view.allowed],
        "fault_started_at": iso(s.fault_started_at) if s.fault_started_at else None,
        "fault_note": s.fault_note if s.fault_started_at else "",
        "due": [
            {"kind": d.kind, "due_at": iso(d.due_at), "due_now": d.due_now, "message": d.message}
            for d in view.due
        ],
        "transitions": [
            {
                "action": t.action,
                "action_name": lifecycle.ACTION_NAMES[t.action],
                "from_state": t.from_state,
                "to_state": t.to_state,
                "actor": t.actor,
                "actor_role": t.actor_role,
                "at": iso(t.at),
                "reason": t.reason,
            }
            for t in view.transitions
        ],
    }


async def _view(request: web.Request, session_id: int) -> web.Response:
    app = request.app
    view = await session_store.lifecycle_view(
        app[DB],
        await principal(request),
        session_id,
        now=app[CLOCK](),
        rules=app[CONFIG].regulation.outage,
    )
    return web.json_response(_lifecycle_json(view))


@routes.route(
    "GET",
    "/api/sessions/{session_id}/lifecycle",
    summary="评标会进程：当前状态、可执行操作、变更记录和故障到期事项",
    tag="评标会",
    errors=(403, 404),
)
async def get_lifecycle(request: web.Request) -> web.Response:
    return await _view(request, path_id(request, "session_id"))


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
    if body["action"] == "start_evaluation":
        # The evaluation starts with the members who confirmed: its shuffle is re-committed.
        await start_evaluation(
            request.app[SERVICES],
            who,
            session_id,
            reason=body.get("reason"),
            now=request.app[CLOCK](),
        )
    else:
        await session_store.apply_action(
            request.app[DB],
            who,
            session_id,
            body["action"],
            reason=body.get("reason"),
            now=request.app[CLOCK](),
        )
    return await _view(request, session_id)


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
    await session_store.report_fault(
        request.app[DB],
        who,
        session_id,
        note=body.get("note"),
        fixed=body.get("fixed", False),
        now=request.app[CLOCK](),
    )
    return await _view(request, session_id)
