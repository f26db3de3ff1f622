"""The expert's page at the seat: a small aiohttp app on loopback, served by ``seat-agent run``.

The page (``seat_agent/web/``: ``expert.html``, ``expert.js``, ``expert.css``, static files with
no inline script or style) talks only to this local agent (``/api/...`` below); the agent talks
to the hub over the seat link. Every answer a person reads is Simplified Chinese; refusals are
``application/problem+json`` with ``code``, ``detail`` and, for forms, ``problems`` per field.

Every request passes ``seat_agent.page.guard`` first: a loopback ``Host``, the page's own
``Origin`` (or ``X-Seat-Page: 1``) on writes, and the per-start key on everything but the
page's files. Only JSON requests with ``Content-Type: application/json`` change anything. Every
answer carries a strict Content-Security-Policy (scripts and styles from this origin only, no
framing) with ``nosniff``, ``no-referrer`` and ``no-store``.

Routes: ``GET /`` (the page), ``GET /expert.js``, ``GET /expert.css``, ``GET /api/state``,
``POST /api/checkin``, ``POST /api/commitment``, ``GET /api/chapters``, ``GET
/api/chapters/{label}``, ``POST /api/validate``, ``POST /api/scores``, ``POST
/api/reviews/{id}``, ``POST /api/signature``, ``POST /api/chair-ballot``, ``POST
/api/announcements/{id}/dismiss`` (the announcements themselves are in ``/api/state``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from aiohttp import web

from seat_agent.errors import SeatAgentError
from seat_agent.page.announcements import AnnouncementBoard
from seat_agent.page.desk import DeskRefused, ExpertDesk
from seat_agent.page.guard import (
    KEY_HEADER,
    PAGE_HEADER,
    check_loopback,
    check_request,
    opening_url,
    url_host,
)

if TYPE_CHECKING:
    from seat_agent.runner import SeatAgent

__all__ = ["DESK", "SECURITY_HEADERS", "ChapterSource", "make_app", "serve", "start_page"]

log = structlog.get_logger(__name__)


class _Entry(Protocol):
    label: str
    title: str
    position: int
    size: int
    received: int
    complete: bool


class ChapterSource(Protocol):
    """What the page needs of ``seat_agent.chapters.ChapterCache``."""

    def entries(self) -> list[Any]: ...

    async def read(self, label: str) -> str: ...


DESK = web.AppKey("desk", ExpertDesk)
BOARD = web.AppKey("announcements", AnnouncementBoard)
CHAPTERS = web.AppKey("chapters", object)
PAGE_KEY = web.AppKey("page_key", str)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

# The page's files (``seat_agent/web/``), by path, with their types.
STATIC = {
    "/": ("expert.html", "text/html"),
    "/expert.js": ("expert.js", "text/javascript"),
    "/expert.css": ("expert.css", "text/css"),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _problem(status: int, code: str, detail: str, **extra: Any) -> web.Response:
    body = {"type": "about:blank", "title": detail, "status": status, "code": code}
    body.update(detail=detail, **extra)
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/problem+json",
    )


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:  # the connection is gone: nobody to answer
        raise web.HTTPBadRequest()
    refusal = check_request(
        method=request.method,
        path=request.path,
        host=request.headers.get("Host"),
        origin=request.headers.get("Origin"),
        page_header=request.headers.get(PAGE_HEADER),
        key_header=request.headers.get(KEY_HEADER),
        bound=(str(sockname[0]), int(sockname[1])),
        key=request.app[PAGE_KEY],
    )
    if refusal is not None:
        return _problem(refusal.status, refusal.code, refusal.detail)
    return await handler(request)


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer, refusals and aiohttp's own 404/405 included."""
    response.headers.update(SECURITY_HEADERS)


@web.middleware
async def _problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "POST" and request.content_type != "application/json":
        return _problem(415, "json-required", "请求须为 JSON（Content-Type: application/json）")
    try:
        return await handler(request)
    except DeskRefused as exc:
        return _problem(422, exc.code, exc.message, problems=exc.problems)
    except SeatAgentError as exc:
        return _problem(409, "not-ready", str(exc))


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise DeskRefused("bad-json", "请求内容不是有效的 JSON") from None
    if not isinstance(body, dict):
        raise DeskRefused("bad-json", "请求内容应为 JSON 对象")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    return value if isinstance(value, str) else ""


def _values(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values = body.get("values")
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise DeskRefused("bad-values", "评分内容格式不正确")
    return values


def _static(name: str, content_type: str) -> Handler:
    # Read once, when the app is made: a file missing from the package fails at start-up.
    body = resources.files("seat_agent").joinpath("web", name).read_bytes()

    async def serve_file(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type, charset="utf-8")

    return serve_file


def _chapters(request: web.Request) -> ChapterSource | None:
    source = request.app.get(CHAPTERS)
    return source if source is not None else None  # type: ignore[return-value]


def _chapter_list(source: ChapterSource | None) -> list[dict[str, Any]]:
    if source is None:
        return []
    return [
        {
            "label": e.label,
            "title": e.title,
            "position": e.position,
            "size": e.size,
            "received": e.received,
            "complete": e.complete,
        }
        for e in source.entries()
    ]


async def state(request: web.Request) -> web.Response:
    view = await request.app[DESK].view()
    view["chapters"] = _chapter_list(_chapters(request))
    view["announcements"] = request.app[BOARD].view()
    return web.json_response(view)


async def checkin(request: web.Request) -> web.Response:
    body = await _body(request)
    await request.app[DESK].check_in(
        _text(body, "session_id"), _text(body, "expert_code"), _text(body, "pin")
    )
    return web.json_response({"status": "sent"}, status=202)


async def commitment(request: web.Request) -> web.Response:
    body = await _body(request)
    await request.app[DESK].commit(_text(body, "decision"), _text(body, "reason"))
    return web.json_response({"commitment": request.app[DESK].commitment})


async def chapter_list(request: web.Request) -> web.Response:
    return web.json_response({"chapters": _chapter_list(_chapters(request))})


async def chapter_text(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    if desk.briefing is None:
        return _problem(403, "not-checked-in", "请先签到，再阅读评审材料")
    source = _chapters(request)
    if source is None:
        return _problem(404, "no-chapters", "本终端没有章节缓存")
    text = await source.read(request.match_info["label"])
    return web.json_response({"label": request.match_info["label"], "text": text})


async def validate(request: web.Request) -> web.Response:
    body = await _body(request)
    problems = request.app[DESK].validate(_text(body, "part"), _values(body))
    return web.json_response({"problems": problems})


async def scores(request: web.Request) -> web.Response:
    body = await _body(request)
    save = await request.app[DESK].submit(_text(body, "part"), _values(body))
    return web.json_response({"key": save.key, "part": save.part}, status=201)


async def review(request: web.Request) -> web.Response:
    body = await _body(request)
    raw = request.match_info["request_id"]
    if not raw.isdigit():
        return _problem(404, "review-not-found", f"没有复核请求 #{raw}")
    await request.app[DESK].answer(int(raw), _text(body, "answer"), _text(body, "reason"))
    return web.json_response({"status": "sent"}, status=202)


async def signature(request: web.Request) -> web.Response:
    body = await _body(request)
    await request.app[DESK].sign(_text(body, "decision"), _text(body, "reason"))
    return web.json_response({"status": "sent"}, status=202)


async def chair_ballot(request: web.Request) -> web.Response:
    body = await _body(request)
    await request.app[DESK].vote(_text(body, "candidate"))
    return web.json_response({"status": "sent"}, status=202)


async def dismiss_announcement(request: web.Request) -> web.Response:
    raw = request.match_info["announcement_id"]
    if not (raw.isdigit() and request.app[BOARD].dismiss(int(raw))):
        return _problem(404, "announcement-not-found", f"本工位没有收到通知 #{raw}")
    return web.json_response({"announcements": request.app[BOARD].view()})


def make_app(
    desk: ExpertDesk,
    chapters: ChapterSource | None = None,
    *,
    page_key: str,
    board: AnnouncementBoard | None = None,
) -> web.Application:
    """The page's app; every ``/api`` request must carry ``page_key`` (``guard``)."""
    app = web.Application(middlewares=[_guard, _problems], client_max_size=1024 * 1024)
    app[DESK] = desk
    app[BOARD] = board if board is not None else AnnouncementBoard()
    app[PAGE_KEY] = page_key
    if chapters is not None:
        app[CHAPTERS] = chapters
    app.on_response_prepare.append(_secure)
    for path, (name, content_type) in STATIC.items():
        app.router.add_get(path, _static(name, content_type))
    app.router.add_get("/api/state", state)
    app.router.add_post("/api/checkin", checkin)
    app.router.add_post("/api/commitment", commitment)
    app.router.add_get("/api/chapters", chapter_list)
    app.router.add_get("/api/chapters/{label}", chapter_text)
    app.router.add_post("/api/validate", validate)
    app.router.add_post("/api/scores", scores)
    app.router.add_post("/api/reviews/{request_id}", review)
    app.router.add_post("/api/signature", signature)
    app.router.add_post("/api/chair-ballot", chair_ballot)
    app.router.add_post("/api/announcements/{announcement_id}/dismiss", dismiss_announcement)
    return app


async def serve(app: web.Application, port: int, host: str = "127.0.0.1") -> web.AppRunner:
    """Start serving ``app`` on ``host:port`` (0: any free port); the caller cleans up.
    ``PageSetupError`` if ``host`` is not a loopback address."""
    check_loopback(host)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


async def start_page(
    agent: SeatAgent, port: int, host: str, page_key: str
) -> tuple[web.AppRunner, str]:
    """Serve the expert's page for ``agent`` (its desk joins the agent's event handlers); the
    runner and the address to open, with ``page_key`` in its fragment (never logged)."""
    desk = ExpertDesk(agent.identity, agent.delivery, agent.link.send)
    board = AnnouncementBoard()
    app = make_app(desk, agent.chapters, page_key=page_key, board=board)
    runner = await serve(app, port, host)
    agent.add_handler(desk.on_event)
    agent.add_handler(board.on_event)
    bound = runner.addresses[0][1]
    log.info("seat.page_serving", url=f"http://{url_host(host)}:{bound}/")
    return runner, opening_url(host, bound, page_key)
