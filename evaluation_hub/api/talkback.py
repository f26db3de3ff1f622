"""Talk-back (喊话与通知) over HTTP: the panel of the host console and the supervision wall,
and text announcements to one seat or every seat of a session.

Access is decided by the use cases (``talkback.recipients``, rule
``access.Action.TALK_TO_SEATS``): the host operator and host supervisors address any seat or
all, a supervisor of a seat's own venue that seat, nobody else anything.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import ID, read_json
from evaluation_hub.api.views.talkback import panel_json, sent_json
from evaluation_hub.talkback import announcements
from seat_protocol.messages import MAX_ANNOUNCEMENT_CHARS

__all__ = ["ANNOUNCEMENT", "routes"]

routes = ApiRoutes()
TAG = "喊话与通知"

ANNOUNCEMENT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["text"],
    "properties": {
        # Trimmed and checked by the use case, which says what is wrong in Chinese; the schema
        # only bounds what is read (whitespace around a full-length text is allowed).
        "text": {"type": "string", "maxLength": 4 * MAX_ANNOUNCEMENT_CHARS},
        # absent or null: every seat of the session
        "seat_id": ID,
    },
}
_OBJECT: dict[str, Any] = {"type": "object"}


@routes.route(
    "GET",
    "/api/sessions/{session_id}/talkback",
    summary="喊话与通知面板：本人可喊话的工位（客场监督仅本场地工位）及已发送的通知和喊话记录",
    tag=TAG,
    response=_OBJECT,
    errors=(403, 404),
)
async def talkback_panel(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    panel = await announcements.talkback_panel(
        request.app[SERVICES], who, session_id, now=request.app[CLOCK]()
    )
    return web.json_response(panel_json(panel))


@routes.route(
    "POST",
    "/api/sessions/{session_id}/announcements",
    summary="向评标会的一个工位（seat_id）或全部工位（不填 seat_id）发送文字通知，专家页面显示",
    tag=TAG,
    body=ANNOUNCEMENT,
    response=_OBJECT,
    status=201,
    errors=(403, 404, 409, 422),
)
async def send_announcement(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, ANNOUNCEMENT)
    sent = await announcements.send_announcement(
        request.app[SERVICES],
        who,
        session_id,
        seat_id=body.get("seat_id"),
        text=body["text"],
        now=request.app[CLOCK](),
    )
    return web.json_response(sent_json(sent), status=201)
