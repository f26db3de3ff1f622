"""Talk-back (喊话与通知) over HTTP: the panel of the host console and the supervision wall,
text announcements to one seat or every seat of a session, and push-to-talk turns (the page
posts its microphone's SDP offer and gets the hub's answer; releasing the button ends the turn).
:func:`setup_talkback` puts the process's :class:`~evaluation_hub.talkback.voice.VoiceHub` on
the app and lets the seat websocket hand seats' talk-back offers to it.

Access is decided by the use cases (``talkback.recipients``, rule
``access.Action.TALK_TO_SEATS``): the host operator and host supervisors address any seat or
all, a supervisor of a seat's own venue that seat, nobody else anything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.schema import ID, read_json
from evaluation_hub.api.seat_link import SEAT_HUB
from evaluation_hub.api.views.talkback import panel_json, sent_json
from evaluation_hub.talkback import announcements, voice_turns
from evaluation_hub.talkback.voice import VoiceHub
from evaluation_hub.talkback.voice_relay import VoiceRelay
from seat_protocol.messages import MAX_ANNOUNCEMENT_CHARS, MAX_SDP_CHARS

__all__ = ["ANNOUNCEMENT", "VOICE", "VOICE_OFFER", "VOICE_RELAY", "routes", "setup_talkback"]

VOICE = web.AppKey("talkback_voice", VoiceHub)
# Push to talk on any hub process (``talkback.voice_relay``).
VOICE_RELAY = web.AppKey("talkback_voice_relay", VoiceRelay)

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
VOICE_OFFER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "sdp"],
    "properties": {
        "type": {"type": "string", "enum": ["offer"]},
        "sdp": {"type": "string", "minLength": 1, "maxLength": MAX_SDP_CHARS},
        # absent or null: every seat of the session
        "seat_id": ID,
    },
}
_OBJECT: dict[str, Any] = {"type": "object"}


def setup_talkback(app: web.Application, voice: VoiceHub | None = None) -> VoiceHub:
    """Put a :class:`VoiceHub` on the app; seats' talk-back offers arrive over the seat link.
    On a shared bus (Redis), its :class:`VoiceRelay` reaches the other hub processes' seats."""
    voice = voice if voice is not None else VoiceHub()
    app[VOICE] = voice
    services = app[SERVICES]
    relay = VoiceRelay(voice, services.bus, remote=services.config.redis_url is not None)
    app[VOICE_RELAY] = relay
    if SEAT_HUB in app:
        app[SEAT_HUB].talkback_offer_handler = voice.seat_offer

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        serving = asyncio.create_task(relay.serve()) if relay.remote else None
        yield
        if serving is not None:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
        await relay.close()
        await voice.close()

    app.cleanup_ctx.append(lifecycle)
    return voice


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


@routes.route(
    "POST",
    "/api/sessions/{session_id}/talkback/voice",
    summary="按住讲话：提交浏览器麦克风的 SDP offer，向一个工位（seat_id）或全部工位喊话，返回 SDP answer",
    tag=TAG,
    body=VOICE_OFFER,
    response=_OBJECT,
    status=201,
    errors=(403, 404, 409, 422),
)
async def start_voice(request: web.Request) -> web.Response:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    body = await read_json(request, VOICE_OFFER)
    started = await voice_turns.start_voice(
        request.app[SERVICES],
        request.app[VOICE_RELAY],
        who,
        session_id,
        seat_id=body.get("seat_id"),
        sdp=body["sdp"],
        now=request.app[CLOCK](),
    )
    return web.json_response(
        {
            "talk_id": started.talk_id,
            "type": "answer",
            "sdp": started.sdp,
            "seats": list(started.seat_keys),
            "listening": list(started.reaching),
        },
        status=201,
    )


@routes.route(
    "DELETE",
    "/api/talkback/voice/{talk_id}",
    summary="松开讲话按钮：结束本人的一次喊话，返回时长",
    tag=TAG,
    response=_OBJECT,
    errors=(403, 404),
)
async def end_voice(request: web.Request) -> web.Response:
    who = await principal(request)
    talk_id = path_id(request, "talk_id")
    ended = await voice_turns.end_voice(
        request.app[SERVICES], request.app[VOICE_RELAY], who, talk_id, now=request.app[CLOCK]()
    )
    return web.json_response(
        {"talk_id": ended.talk_id, "duration_s": round(ended.duration_s, 1), "frames": ended.frames}
    )
