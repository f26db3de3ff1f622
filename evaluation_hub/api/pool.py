"""The expert pool over HTTP (专家库): importing the pool's export and the credit blacklist
(the file is the request body, CSV or XLSX, up to ``pool.importing.MAX_FILE_BYTES``;
``?dry_run=true`` checks and counts without writing), reading them, and a session's committee
from the pool's draw record or with a purchaser's representative. Handlers parse, call one use
case and render with ``api.views.pool``."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import read_json
from evaluation_hub.api.views.pool import blacklist_json, draw_json, import_json, pool_expert_json
from evaluation_hub.api.views.sessions import member_added_json
from evaluation_hub.errors import TooLarge
from evaluation_hub.evaluation.package import recommit_members
from evaluation_hub.pool import blacklist, importing
from evaluation_hub.sessions import committee_draw, membership

__all__ = ["routes"]

routes = ApiRoutes()

_DRY_RUN = {
    "dry_run": {
        "type": "string",
        "enum": ["true", "false"],
        "description": "true：只检查文件并统计，不写入",
    }
}


async def _file(request: web.Request) -> bytes:
    """The request body as the uploaded file, refused past the pool's file limit (the JSON
    body limit is far smaller than a pool's export)."""
    limit = importing.MAX_FILE_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge("too-large", f"文件超过 {limit // (1024 * 1024)} MB 上限")
    data = await request.content.read(limit + 1)
    if len(data) > limit:
        raise TooLarge("too-large", f"文件超过 {limit // (1024 * 1024)} MB 上限")
    return data


@routes.route(
    "POST",
    "/api/pool/experts/import",
    summary="导入专家库（请求体为 CSV 或 XLSX 文件；任一行有误则不导入）",
    tag="专家库",
    query=_DRY_RUN,
    errors=(403, 413, 422),
)
async def import_experts(request: web.Request) -> web.Response:
    who = await principal(request)
    result = await importing.import_experts(
        request.app[SERVICES],
        who,
        partial(_file, request),
        dry_run=request.query.get("dry_run") == "true",
        now=request.app[CLOCK](),
    )
    return web.json_response(import_json(result))


@routes.route(
    "GET",
    "/api/pool/experts",
    summary="查看专家库（含原工作单位、专业、电话）",
    tag="专家库",
    errors=(403,),
)
async def list_pool(request: web.Request) -> web.Response:
    experts = await importing.list_pool(request.app[SERVICES], await principal(request))
    return web.json_response([pool_expert_json(e) for e in experts])


@routes.route(
    "POST",
    "/api/pool/blacklist/import",
    summary="导入信用黑名单（请求体为 CSV 或 XLSX 文件；任一行有误则不导入）",
    tag="专家库",
    query=_DRY_RUN,
    errors=(403, 413, 422),
)
async def import_blacklist(request: web.Request) -> web.Response:
    who = await principal(request)
    result = await blacklist.import_blacklist(
        request.app[SERVICES],
        who,
        partial(_file, request),
        dry_run=request.query.get("dry_run") == "true",
        now=request.app[CLOCK](),
    )
    return web.json_response(import_json(result))


@routes.route("GET", "/api/pool/blacklist", summary="查看信用黑名单", tag="专家库", errors=(403,))
async def list_blacklist(request: web.Request) -> web.Response:
    entries = await blacklist.list_blacklist(request.app[SERVICES], await principal(request))
    return web.json_response([blacklist_json(b) for b in entries])


@routes.route(
    "POST",
    "/api/sessions/{session_id}/draw-record",
    summary="按专家库抽取记录登记评标专家（请求体为 CSV 文件：专家编号、场地）",
    tag="评标会",
    errors=(403, 404, 409, 413, 422),
)
async def register_draw(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    result = await committee_draw.register_draw(
        request.app[SERVICES],
        who,
        session_id,
        partial(_file, request),
        now=request.app[CLOCK](),
        follow=recommit_members,
    )
    return web.json_response(draw_json(result), status=201)


REPRESENTATIVE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["code", "name", "employer"],
    "properties": {
        "code": {"type": "string", "minLength": 1, "maxLength": 32},
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "employer": {"type": "string", "minLength": 1, "maxLength": 200},
        "placement": {"type": "string", "enum": list(membership.PLACEMENTS)},
    },
}


@routes.route(
    "POST",
    "/api/sessions/{session_id}/representatives",
    summary="登记采购人代表（不在专家库中）",
    tag="评标会",
    body=REPRESENTATIVE,
    status=201,
    errors=(403, 404, 409, 422),
)
async def add_representative(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, REPRESENTATIVE)
    added = await membership.add_representative(
        request.app[SERVICES],
        who,
        session_id,
        membership.RepresentativeDraft(
            body["code"], body["name"], body["employer"], body.get("placement", "host")
        ),
        now=request.app[CLOCK](),
        follow=recommit_members,
    )
    return web.json_response(member_added_json(added), status=201)
