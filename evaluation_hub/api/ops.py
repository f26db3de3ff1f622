"""Operations shells: ``/api/ready`` (readiness) and ``/metrics`` (Prometheus, operators only).

``/api/health`` (in ``api.app``) stays the liveness answer: the process answers, nothing more.
The rules live in ``evaluation_hub.ops``; these handlers gather the process's state from the
application and call one use case each.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.pool import QueuePool

from evaluation_hub.api.events import LIVE_STREAMS
from evaluation_hub.api.keys import CLOCK, CONFIG, DB, METRICS, SERVICES
from evaluation_hub.api.live import LIVE, MEDIA
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.seat_link.hub import CHAPTERS, SEAT_HUB
from evaluation_hub.api.transport import client_address
from evaluation_hub.live.census import forwarder_running, seat_statuses
from evaluation_hub.live.janus_census import (
    JanusFigures,
    janus_figures,
    plane_recordings,
    plane_running,
    plane_seats,
)
from evaluation_hub.live.janus_plane import JanusPlane
from evaluation_hub.live.janus_relay import JanusRelay
from evaluation_hub.ops.errors import NotReady
from evaluation_hub.ops.metrics import CONTENT_TYPE, HubMetrics, PoolUse, Process
from evaluation_hub.ops.readiness import MediaProbe, readiness
from evaluation_hub.ops.scrape import scrape

__all__ = ["process_state", "routes", "setup"]

routes = ApiRoutes()
TAG = "元数据"

_CHECK = {
    "type": "object",
    "required": ["name", "ok", "ms", "detail"],
    "properties": {
        "name": {"type": "string", "enum": ["database", "redis", "media", "calendar"]},
        "ok": {"type": "boolean"},
        "ms": {"type": "number"},
        "detail": {"type": "string"},
    },
}
READY = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"type": "string", "enum": ["ready"]},
        "checks": {"type": "array", "items": _CHECK},
    },
}


@routes.route(
    "GET",
    "/api/ready",
    summary="就绪检查：数据库（已迁移到最新版本）、Redis（如已配置）、媒体转发、节假日日历（未来 60 天），"
    "各项附耗时（毫秒）；任一项未通过时返回 503 并列出未通过的项",
    tag=TAG,
    auth=False,
    response=READY,
    errors=(503,),
)
async def ready(request: web.Request) -> web.Response:
    app = request.app
    found = await readiness(app[SERVICES], _media_probe(app), now=app[CLOCK]())
    checks = [{"name": c.name, "ok": c.ok, "ms": c.ms, "detail": c.detail} for c in found.checks]
    if not found.ok:
        raise NotReady(found.failing, checks)
    return web.json_response({"status": "ready", "checks": checks})


def _media_probe(app: web.Application) -> MediaProbe | None:
    live = app.get(LIVE)
    return None if live is None else (lambda: forwarder_running(live))


def process_state(app: web.Application) -> Process:
    """What this process holds now, read from the application's parts."""
    seat_hub = app.get(SEAT_HUB)
    links: dict[str, int] = {}
    if seat_hub is not None:
        for conn in list(seat_hub.sockets):
            links[conn.state.value] = links.get(conn.state.value, 0) + 1
    chunks = app.get(CHAPTERS)
    live = app.get(LIVE)
    streams = list(app.get(LIVE_STREAMS, ()))
    pool = app[DB].engine.pool
    plane = _plane(app)
    if plane is not None:  # the Janus plane's publishers, viewers and recordings
        seats, recordings, running = (
            plane_seats(plane),
            plane_recordings(plane),
            plane_running(plane),
        )
    else:
        seats = {} if live is None else seat_statuses(live)
        recordings = {} if live is None or live.recordings is None else live.recordings.states()
        running = live is not None and forwarder_running(live)
    return Process(
        seat_links=links,
        live=seats,
        recordings={key: state.state for key, state in recordings.items()},
        live_running=running,
        event_streams=len(streams),
        bus_backlog=sum(s.pending() for s in streams),
        bus_dropped=sum(s.dropped for s in streams),
        chapter_bytes_held=0 if chunks is None else chunks.held_bytes,
        chapter_chunks_held=0 if chunks is None else chunks.held_chunks,
        chapter_chunks_served=0 if chunks is None else chunks.served_chunks,
        pool=(
            PoolUse(pool.size(), pool.checkedout(), max(0, pool.overflow()))
            if isinstance(pool, QueuePool)
            else None
        ),
    )


def _plane(app: web.Application) -> JanusPlane | None:
    media = app.get(MEDIA)
    return media.plane if isinstance(media, JanusRelay) else None


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    plane = _plane(app)

    async def janus(timeout_s: float) -> JanusFigures:
        assert plane is not None
        return await janus_figures(plane, timeout_s=timeout_s)

    text = await scrape(
        app[SERVICES],
        app[METRICS],
        process_state(app),
        _media_probe(app),
        address=client_address(request, app[CONFIG].trusted_proxies),
        authorization=request.headers.get("Authorization"),
        now=app[CLOCK](),
        janus=None if plane is None else janus,
    )
    return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE})


def setup(app: web.Application) -> HubMetrics:
    """Give the app its metrics registry and ``/metrics`` (not an API operation: it is not in
    the OpenAPI document, and answers 404 to all but operators). Call after the seat link and
    live media are set up, so that seat saves are timed."""
    registry = HubMetrics()
    app[METRICS] = registry
    if SEAT_HUB in app:
        app[SEAT_HUB].save_observer = registry.record_save
    app.router.add_get("/metrics", metrics, allow_head=False)
    return registry
