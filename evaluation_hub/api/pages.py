"""The hub's pages for people (in Simplified Chinese). Pages hold no rules: they call the API,
which decides what each user may see and do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

__all__ = ["setup"]

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"


def _page(name: str) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})

    return serve


async def _index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/admin")


def setup(app: web.Application) -> None:
    app.router.add_get("/", _index)
    app.router.add_get("/admin", _page("admin.html"))
    app.router.add_get("/admin/manage", _page("admin-manage.html"))
    app.router.add_get("/host", _page("host.html"))
    app.router.add_get("/console", _page("console.html"))
    app.router.add_get("/supervision", _page("supervision.html"))
    app.router.add_get("/wall", _page("wall.html"))
    app.router.add_get("/pool", _page("pool.html"))
    app.router.add_get("/sessions", _page("sessions.html"))
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
