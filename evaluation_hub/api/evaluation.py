"""The evaluation engine over HTTP (评审): bid package, anonymity overrides, score saves,
deviation review, seal, reveal, result, signatures and the printable evaluation report.

Handlers only read the request, call ``evaluation.store`` with the caller, the sealer and the
hub's clock, and answer. Before the session is sealed no answer names a bidder or its credit
code: bidders appear by id, technical chapters by the labels each expert saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.directory import path_id
from evaluation_hub.api.keys import CLOCK, DB, SEALER, SERVICES
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.serialize import iso
from evaluation_hub.errors import InvalidInput
from evaluation_hub.evaluation import rules, store
from evaluation_hub.evaluation.models import ReviewRequestRow
from evaluation_hub.evaluation.report import render_report
from evaluation_hub.seats import pushes as seat_pushes
from evaluation_hub.sessions import lifecycle
from evaluation_hub.sessions.states import REVEALED

__all__ = ["routes"]

routes = ApiRoutes()
TAG = "评审与评标报告"
BASE = "/api/sessions/{session_id}/evaluation"

ATTACH = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": {
            "type": "string",
            "minLength": 1,
            "maxLength": 1000,
            "description": "标书包目录在主场服务器上的路径（格式见 docs/bid-package.md）",
        }
    },
}
OVERRIDE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["bidder_id", "chapter_id", "reason"],
    "properties": {
        "bidder_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "chapter_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "reason": {"type": "string", "maxLength": 2000},
    },
}
SCORE_SAVE = {
    "type": "object",
    "description": "一个部分（章节或 commercial）的评分表，格式见 evaluation_hub/evaluation/rules.py",
    "required": ["expert", "part", "entries"],
    "properties": {
        "expert": {"type": "string", "minLength": 1, "maxLength": 32},
        "part": {"type": "string", "minLength": 1, "maxLength": 64},
        "entries": {"type": "array", "maxItems": 2000},
        "declared_totals": {"type": "object"},
    },
}
ANSWER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["answer"],
    "properties": {
        "answer": {"type": "string", "enum": ["keep", "revise"]},
        "reason": {"type": "string", "maxLength": 2000},
    },
}
SIGNATURE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expert", "decision"],
    "properties": {
        "expert": {"type": "string", "minLength": 1, "maxLength": 32},
        "decision": {"type": "string", "enum": ["agree", "disagree", "refuse"]},
        "reason": {"type": "string", "maxLength": 4000},
        "public_key": {"type": "string", "maxLength": 64},
        "signature": {"type": "string", "maxLength": 128},
    },
}


def _request_json(r: ReviewRequestRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "round": r.round,
        "expert": r.expert_code,
        "part": r.part_id,
        "subject": r.subject,
        "item": r.item_id,
        "reason": r.reason,
        "message": r.message,
        "spread": r.spread,
        "requested_at": iso(r.requested_at),
        "answer": r.answer,
        "answer_reason": r.answer_reason,
        "answered_at": iso(r.answered_at) if r.answered_at else None,
    }


def _overview_json(o: store.Overview) -> dict[str, Any]:
    ctx = o.ctx
    pkg, row = ctx.package, ctx.row
    parts = rules.part_ids(pkg)
    experts = []
    for e in ctx.scorers:
        scored = [p for p in parts if (e, p) in o.latest]
        experts.append(
            {
                "expert": e,
                "scored_parts": scored,
                "parts_total": len(parts),
                "complete": len(scored) == len(parts),
            }
        )
    revealed = ctx.session.state in REVEALED
    return {
        "session_id": ctx.session.id,
        "state": ctx.session.state,
        "state_name": lifecycle.STATE_NAMES[ctx.session.state],
        "package": {
            "content_digest": row.content_digest,
            "attached_by": row.attached_by,
            "attached_at": iso(row.attached_at),
            "project_code": pkg.project.code,
            "section_code": pkg.section.code,
            "method": pkg.method.name,
            "bidders": list(ctx.manifest.bidder_ids),
            "chapters": [{"id": c.id, "title": c.title} for c in pkg.chapters],
            "parts": list(parts),
            "experts": list(ctx.scorers),
            # Committed at the start but recused since: their views stay verifiable, nothing
            # of theirs counts.
            "recused": [e for e in ctx.manifest.expert_ids if e in ctx.recused],
        },
        "seed": {
            "commitment": row.seed_commitment,
            "revealed_seed": row.revealed_seed if revealed else None,
        },
        "anonymity": {
            "findings": row.findings,
            "overrides": [
                {
                    "bidder_id": x.bidder_id,
                    "chapter_id": x.chapter_id,
                    "reason": x.reason,
                    "recorded_by": x.recorded_by,
                    "recorded_at": iso(x.recorded_at),
                }
                for x in o.overrides
            ],
            "blocked": o.blocked,
        },
        "scoring": {
            "experts": experts,
            "refused": [
                {
                    "id": r.id,
                    "expert": r.expert_code,
                    "part": r.part_id,
                    "source": r.source,
                    "code": r.problems[0] if r.problems else "",
                    "problems": r.problems[1:],
                    "received_at": iso(r.received_at),
                }
                for r in o.refused
            ],
        },
        "review": {"requests": [_request_json(r) for r in o.requests]},
        "signatures": [
            {
                "expert": x.expert_code,
                "decision": x.decision,
                "counted_as_agreement": x.counted_as_agreement,
                "reason": x.reason,
                "signed_at": iso(x.signed_at),
            }
            for x in o.signatures
        ],
    }


async def _overview(request: web.Request, session_id: int, status: int = 200) -> web.Response:
    app = request.app
    o = await store.overview(
        app[DB], await principal(request), session_id, sealer=app[SEALER], now=app[CLOCK]()
    )
    return web.json_response(_overview_json(o), status=status)


@routes.route(
    "POST",
    BASE + "/package",
    summary="导入标书包：校验、暗标合规检查、生成并承诺错位评审种子（主场业务人员）",
    tag=TAG,
    body=ATTACH,
    status=201,
    errors=(403, 404, 409),
)
async def attach(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, ATTACH)
    app = request.app
    await store.attach_package(
        app[DB], who, session_id, Path(body["path"]), sealer=app[SEALER], now=app[CLOCK]()
    )
    return await _overview(request, session_id, 201)


@routes.route(
    "GET",
    BASE,
    summary="评审概况：标书包、种子承诺、暗标检查、各专家评分进度、复核请求、签署",
    tag=TAG,
    errors=(403, 404, 409),
)
async def get_overview(request: web.Request) -> web.Response:
    return await _overview(request, path_id(request, "session_id"))


@routes.route(
    "POST",
    BASE + "/overrides",
    summary="记录放行含识别标记章节的理由（主场业务人员）",
    tag=TAG,
    body=OVERRIDE,
    status=201,
    errors=(403, 404, 409),
)
async def add_override(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, OVERRIDE)
    app = request.app
    await store.record_override(
        app[DB],
        who,
        session_id,
        body["bidder_id"],
        body["chapter_id"],
        body["reason"],
        sealer=app[SEALER],
        now=app[CLOCK](),
    )
    return await _overview(request, session_id, 201)


@routes.route(
    "GET",
    BASE + "/view",
    summary="某位专家的评审视图：各章节的标签及显示顺序（不含投标人身份）",
    tag=TAG,
    query={"expert": {"type": "string", "description": "专家编号"}},
    errors=(403, 404, 409),
)
async def get_view(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    expert = request.query.get("expert", "").strip()
    if not expert:
        raise InvalidInput("expert-required", "请用查询参数 expert 指定专家编号")
    ctx, chapters = await store.expert_view(
        request.app[DB], who, session_id, expert, sealer=request.app[SEALER]
    )
    return web.json_response(
        {
            "session_id": ctx.session.id,
            "expert": expert,
            "seed_commitment": ctx.row.seed_commitment,
            "chapters": chapters,
            "commercial_subjects": list(ctx.manifest.bidder_ids),
        }
    )


@routes.route(
    "POST",
    BASE + "/scores",
    summary="提交一位专家一个部分的评分表（主场代录；工位评分经工位连接提交）",
    tag=TAG,
    body=SCORE_SAVE,
    status=201,
    errors=(403, 404, 409),
)
async def save_scores(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, SCORE_SAVE)
    app = request.app
    outcome = await store.save_from_host(
        app[DB], who, session_id, body, sealer=app[SEALER], now=app[CLOCK]()
    )
    return web.json_response(
        {
            "save_id": outcome.save_id,
            "accepted": True,
            "expert": outcome.expert,
            "part": outcome.part,
        },
        status=201,
    )


@routes.route(
    "POST",
    BASE + "/review",
    summary="发起偏离复核：找出畸高畸低等须复核的评分，向相关专家发出复核请求（主场业务人员）",
    tag=TAG,
    status=201,
    errors=(403, 404, 409),
)
async def start_review(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    app = request.app
    created = await store.review_round(
        app[DB], who, session_id, sealer=app[SEALER], now=app[CLOCK]()
    )
    await seat_pushes.push_review_requests(app[SERVICES], session_id, created)
    return web.json_response({"created": [_request_json(r) for r in created]}, status=201)


@routes.route(
    "POST",
    BASE + "/review-requests/{request_id}/answer",
    summary="记录专家对复核请求的答复：保留原评分并书面说明，或已重新评分（主场业务人员）",
    tag=TAG,
    body=ANSWER,
    errors=(403, 404, 409),
)
async def answer_review(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    request_id = path_id(request, "request_id")
    body = await read_json(request, ANSWER)
    app = request.app
    row = await store.answer_request(
        app[DB],
        who,
        session_id,
        request_id,
        body["answer"],
        body.get("reason", ""),
        sealer=app[SEALER],
        now=app[CLOCK](),
    )
    return web.json_response(_request_json(row))


@routes.route(
    "POST",
    BASE + "/seal",
    summary="结束评审并封存：全部评分已提交且复核事项均已处理（主场业务人员）",
    tag=TAG,
    errors=(403, 404, 409),
)
async def seal(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    app = request.app
    await store.seal(app[DB], who, session_id, sealer=app[SEALER], now=app[CLOCK]())
    return await _overview(request, session_id)


@routes.route(
    "POST",
    BASE + "/reveal",
    summary="解密还原：公布错位评审种子，按投标人还原评分并计算评标结果（主场业务人员）",
    tag=TAG,
    errors=(403, 404, 409),
)
async def reveal(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    app = request.app
    await store.reveal(app[DB], who, session_id, sealer=app[SEALER], now=app[CLOCK]())
    await seat_pushes.push_report(app[SERVICES], session_id)
    return await _result(request, session_id)


async def _result(request: web.Request, session_id: int) -> web.Response:
    app = request.app
    ctx = await store.result_view(app[DB], await principal(request), session_id, sealer=app[SEALER])
    return web.json_response(
        {
            "session_id": ctx.session.id,
            "result": ctx.row.result,
            "result_digest": ctx.row.result_digest,
            "seed_commitment": ctx.row.seed_commitment,
            "revealed_seed": ctx.row.revealed_seed,
            "bidders": {
                b.id: {"name": b.name, "credit_code": b.credit_code} for b in ctx.package.bidders
            },
            "views": ctx.shuffle.published(),
        }
    )


@routes.route(
    "GET",
    BASE + "/result",
    summary="评标结果（解密还原后）：排序、价格分、中标候选人、种子及各专家视图",
    tag=TAG,
    errors=(403, 404, 409),
)
async def get_result(request: web.Request) -> web.Response:
    return await _result(request, path_id(request, "session_id"))


@routes.route(
    "POST",
    BASE + "/signatures",
    summary="记录评标委员会成员签署评标报告（同意、书面说明不同意见，或拒绝签字）",
    tag=TAG,
    body=SIGNATURE,
    status=201,
    errors=(403, 404, 409),
)
async def add_signature(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, SIGNATURE)
    app = request.app
    row = await store.sign_report(
        app[DB],
        who,
        session_id,
        expert=body["expert"],
        decision=body["decision"],
        reason=body.get("reason", ""),
        public_key=body.get("public_key"),
        signature=body.get("signature"),
        sealer=app[SEALER],
        now=app[CLOCK](),
    )
    return web.json_response(
        {
            "expert": row.expert_code,
            "decision": row.decision,
            "counted_as_agreement": row.counted_as_agreement,
            "reason": row.reason,
            "document_digest": row.document_digest,
        },
        status=201,
    )


@routes.route(
    "GET",
    BASE + "/report",
    summary="评标报告（HTML，可打印或另存为 PDF；解密还原后）",
    tag=TAG,
    errors=(403, 404, 409),
)
async def get_report(request: web.Request) -> web.Response:
    app = request.app
    data = await store.report_data(
        app[DB],
        await principal(request),
        path_id(request, "session_id"),
        sealer=app[SEALER],
        now=app[CLOCK](),
    )
    return web.Response(
        text=render_report(data),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )
