"""The evaluation engine over HTTP (评审): bid package, anonymity overrides, score saves,
deviation review, seal, reveal, result, signatures and the printable evaluation report.

Each handler parses the request, calls one use case of ``evaluation_hub.evaluation`` with the
hub's services, the caller and the hub's clock, and renders its result with
``api.views.evaluation``. Before the session is revealed no answer names a bidder or its credit
code: bidders appear by id, technical chapters by the labels each expert saw.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, METRICS, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.views import evaluation as views
from evaluation_hub.errors import InvalidInput
from evaluation_hub.evaluation import (
    collusion,
    import_report,
    overview,
    package,
    package_upload,
    report_pdf,
    result,
    review,
    saves,
    signatures,
)

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
    "description": (
        "主场代录一位专家一个部分（章节或 commercial）的评分表，格式见 "
        "evaluation_hub/evaluation/rules.py；仅限未在工位签到的专家，须书面说明代录理由"
    ),
    "required": ["expert", "part", "entries"],
    "properties": {
        "expert": {"type": "string", "minLength": 1, "maxLength": 32},
        "part": {"type": "string", "minLength": 1, "maxLength": 64},
        "entries": {"type": "array", "maxItems": 2000},
        "declared_totals": {"type": "object"},
        "reason": {
            "type": "string",
            "maxLength": 2000,
            "description": "代录理由（必填，如专家所在工位终端故障），记入评标报告",
        },
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
    seen = await package.attach_package(
        app[SERVICES], who, session_id, Path(body["path"]), now=app[CLOCK]()
    )
    return web.json_response(views.overview_json(seen), status=201)


#: what a browser may call the file; the hub looks at its bytes, not at this
UPLOAD_TYPES = (
    "application/zip",
    "application/x-tar",
    "application/gzip",
    "application/x-gzip",
    "application/x-compressed-tar",
    "application/octet-stream",
)


@routes.route(
    "POST",
    BASE + "/package/upload",
    summary="上传标书包（zip 或 tar 压缩文件）：安全解压、完整校验、暗标检查，通过后导入（主场业务人员）",
    tag=TAG,
    upload=UPLOAD_TYPES,
    query={"filename": {"type": "string", "maxLength": 255, "description": "上传文件的名称"}},
    status=201,
    errors=(403, 404, 409, 413),
)
async def upload(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    file_name = request.query.get("filename", "")[:255]
    app = request.app
    seen = await package_upload.upload_package(
        app[SERVICES],
        who,
        session_id,
        request.content.iter_chunked(1 << 20),
        file_name=file_name,
        declared_size=request.content_length,
        now=app[CLOCK](),
    )
    return web.json_response(views.overview_json(seen), status=201)


@routes.route(
    "GET",
    BASE + "/package",
    summary="标书包导入报告：项目、标段、评分部分、暗标检查和标书雷同提示（投标人只以编号出现）",
    tag=TAG,
    errors=(403, 404, 409),
)
async def get_package_report(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    report = await import_report.package_report(request.app[SERVICES], who, session_id)
    return web.json_response(views.package_report_json(report))


@routes.route(
    "GET",
    BASE + "/signals",
    summary="串通投标提示信号（提示信号，不构成违规认定）：投标人之间的雷同、相同异常字符串、"
    "报价尾数相同，封存后专家之间的评分表高度一致",
    tag=TAG,
    errors=(403, 404),
)
async def get_signals(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    found = await collusion.collusion_signals(request.app[SERVICES], who, session_id)
    return web.json_response(views.signals_json(found))


@routes.route(
    "GET",
    BASE,
    summary="评审概况：标书包、种子承诺、暗标检查、各专家评分进度、复核请求、签署",
    tag=TAG,
    errors=(403, 404, 409),
)
async def get_overview(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    app = request.app
    seen = await overview.overview(app[SERVICES], who, session_id, now=app[CLOCK]())
    return web.json_response(views.overview_json(seen))


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
    seen = await package.record_override(
        app[SERVICES],
        who,
        session_id,
        body["bidder_id"],
        body["chapter_id"],
        body["reason"],
        now=app[CLOCK](),
    )
    return web.json_response(views.overview_json(seen), status=201)


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
    view = await package.expert_view(request.app[SERVICES], who, session_id, expert)
    return web.json_response(views.expert_view_json(view))


@routes.route(
    "POST",
    BASE + "/scores",
    summary=(
        "主场代录一位专家一个部分的评分表（仅限未在工位签到的专家，须附代录理由；"
        "工位评分经工位连接提交）"
    ),
    tag=TAG,
    body=SCORE_SAVE,
    status=201,
    errors=(403, 404, 409),
)
async def save_scores(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = dict(await read_json(request, SCORE_SAVE))
    reason = body.pop("reason", "")
    app = request.app
    with app[METRICS].observe_save("host") as timing:
        outcome = await saves.save_from_host(
            app[SERVICES], who, session_id, body, reason=reason, now=app[CLOCK]()
        )
        timing.outcome = "accepted" if outcome.accepted else "refused"
    return web.json_response(views.save_json(outcome), status=201)


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
    made = await review.review_round(app[SERVICES], who, session_id, now=app[CLOCK]())
    return web.json_response(views.review_round_json(made), status=201)


@routes.route(
    "POST",
    BASE + "/review-requests/{request_id}/answer",
    summary=(
        "主场代录专家对复核请求的答复：保留原评分并书面说明，或已重新评分"
        "（仅限未在工位签到的专家；已签到的专家须在工位答复）"
    ),
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
    answered = await review.answer_request(
        app[SERVICES],
        who,
        session_id,
        request_id,
        body["answer"],
        body.get("reason", ""),
        now=app[CLOCK](),
    )
    return web.json_response(views.request_json(answered))


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
    seen = await result.seal(app[SERVICES], who, session_id, now=app[CLOCK]())
    return web.json_response(views.overview_json(seen))


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
    revealed = await result.reveal(app[SERVICES], who, session_id, now=app[CLOCK]())
    return web.json_response(views.result_json(revealed))


@routes.route(
    "GET",
    BASE + "/result",
    summary="评标结果（解密还原后）：排序、价格分、中标候选人、种子及各专家视图",
    tag=TAG,
    errors=(403, 404, 409),
)
async def get_result(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    shown = await result.result_view(request.app[SERVICES], who, session_id)
    return web.json_response(views.result_json(shown))


@routes.route(
    "POST",
    BASE + "/signatures",
    summary=(
        "记录未在工位签到的评标委员会成员拒绝签字及其书面理由（签署须由专家在工位以该工位"
        "密钥完成，主场不能代为签署）"
    ),
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
    signed = await signatures.sign_report(
        app[SERVICES],
        who,
        session_id,
        expert=body["expert"],
        decision=body["decision"],
        reason=body.get("reason", ""),
        public_key=body.get("public_key"),
        signature=body.get("signature"),
        now=app[CLOCK](),
    )
    return web.json_response(views.signature_json(signed), status=201)


@routes.route(
    "GET",
    BASE + "/report",
    summary="评标报告（HTML，可打印或另存为 PDF；解密还原后）",
    tag=TAG,
    errors=(403, 404, 409),
)
async def get_report(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    app = request.app
    data = await result.report_data(app[SERVICES], who, session_id, now=app[CLOCK]())
    return web.Response(
        text=views.report_html(data),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )


@routes.route(
    "GET",
    "/api/sessions/{session_id}/report.pdf",
    summary=(
        "评标报告 PDF（评标委员会全体成员签署后；首次请求时生成并存档，之后始终返回同一文件，"
        "响应头 X-Content-SHA256 为其 SHA-256，与审计事件 evaluation.report_pdf 所记一致）"
    ),
    tag=TAG,
    errors=(403, 404, 409),
)
async def get_report_pdf(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    app = request.app
    pdf = await report_pdf.report_pdf(app[SERVICES], who, session_id, now=app[CLOCK]())
    return web.Response(
        body=pdf.data, content_type="application/pdf", headers=views.report_pdf_headers(pdf)
    )
