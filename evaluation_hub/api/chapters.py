"""Chapter release over HTTP (章节发放): the host operator sends each seated expert's chapters,
sealed for their seat (``evaluation_hub.seats.chapters``), and the host's staff follow each
seat's delivery (``evaluation_hub.seats.deliveries``: sent, received, verified)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.seat_link import CHAPTERS
from evaluation_hub.api.views.evaluation import delivery_board_json
from evaluation_hub.api.views.seats import release_json
from evaluation_hub.seats.chapters import release_chapters
from evaluation_hub.seats.deliveries import delivery_board

__all__ = ["routes"]

routes = ApiRoutes()

_RELEASE_RESPONSE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "session_id": {"type": "integer"},
        "seats": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "seat_key": {"type": "string"},
                    "expert_code": {"type": "string"},
                    "chapters": {"type": "integer"},
                    "size": {"type": "integer"},
                    "delivery": {"type": "string", "enum": ["sent", "waiting"]},
                },
            },
        },
        "skipped": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "seat_key": {"type": "string"},
                    "expert_code": {"type": "string"},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}


@routes.route(
    "POST",
    "/api/sessions/{session_id}/chapters",
    summary="向已安排专家的工位发放（或重新发放）按工位加密的评审章节（主场）",
    tag="章节发放",
    response=_RELEASE_RESPONSE,
    errors=(403, 404, 409),
)
async def post_release(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    released = await release_chapters(
        request.app[SERVICES],
        who,
        session_id,
        chunks=request.app[CHAPTERS],
        now=request.app[CLOCK](),
    )
    return web.json_response(release_json(released))


@routes.route(
    "GET",
    "/api/sessions/{session_id}/chapters",
    summary="各工位的章节送达进度（最近一次发放）：未发放、已发送、已接收、已校验或校验失败",
    tag="章节发放",
    errors=(403, 404),
)
async def get_deliveries(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    board = await delivery_board(request.app[SERVICES], who, session_id)
    return web.json_response(delivery_board_json(board))
