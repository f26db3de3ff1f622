"""The evaluation console's live stream (评审控制台实时事件流, server-sent events).

``GET /api/sessions/{session_id}/evaluation/events`` carries the changes of one session
(``sessions.changes``) to whoever may see the session (``access.Action.SEE_SESSION``, refused
with problem+json before the stream opens). The stream subscribes first, then reads the
session's snapshot and sends it as its first event (``{"type": "snapshot", …}``), so a change
committed between the page's last read and the subscription is never missed: the page re-reads
everything on a snapshot. Then every change of the session arrives as
``{"type": "changed", "session_id", "kinds"}``; the page re-reads through the API. When the bus
says events may have been lost (a Redis outage, a full buffer), a fresh snapshot follows.

A viewer that goes away ends its stream quietly: a closed stream is not an error.
:func:`setup_evaluation_events` registers the publisher (a commit listener) for the
application's lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.events import KEEPALIVE_S, LIVE_STREAMS
from evaluation_hub.api.keys import SERVICES
from evaluation_hub.api.params import path_id
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.api.views.evaluation import watch_json
from evaluation_hub.errors import ProblemError
from evaluation_hub.sessions import changes

__all__ = ["routes", "setup_evaluation_events"]

routes = ApiRoutes()


def setup_evaluation_events(app: web.Application) -> None:
    """Publish each committed change of a session on its channel while the app runs."""
    services = app[SERVICES]
    publish = changes.changes_publisher(services.bus)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        services.db.commit_listeners.append(publish)
        try:
            yield
        finally:
            services.db.commit_listeners.remove(publish)

    app.cleanup_ctx.append(lifecycle)


async def _write(response: web.StreamResponse, event: Mapping[str, Any] | None) -> bool:
    """Send one event (or a keep-alive comment); False once the viewer has gone."""
    data = (
        b": keep-alive\n\n"
        if event is None
        else f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()
    )
    try:
        await response.write(data)
    except ConnectionResetError:
        return False
    return True


@routes.route(
    "GET",
    "/api/sessions/{session_id}/evaluation/events",
    summary="评审控制台的实时事件流（text/event-stream）：先发送评标会快照，此后每次变化发送一条通知",
    tag="评审与评标报告",
    errors=(403, 404),
)
async def evaluation_events(request: web.Request) -> web.StreamResponse:
    who = await principal(request)
    session_id = path_id(request, "session_id")
    services = request.app[SERVICES]
    async with services.bus.subscribe(changes.channel(session_id)) as subscription:
        # Subscribed before the snapshot is read: nothing committed after it can be missed.
        # The snapshot's use case checks who may watch, before the stream says anything.
        watch = await changes.watch_session(services, who, session_id)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        # Shutdown closes open streams, or it would wait for every page to go away.
        request.app[LIVE_STREAMS].add(subscription)
        if not await _write(response, watch_json(watch)):
            return response
        lost = subscription.interruptions + subscription.dropped
        iterator = aiter(subscription)
        while True:
            try:
                _channel, event = await asyncio.wait_for(anext(iterator), KEEPALIVE_S)
            except TimeoutError:
                event = None
            except StopAsyncIteration:
                break
            if subscription.interruptions + subscription.dropped != lost:
                lost = subscription.interruptions + subscription.dropped
                try:
                    watch = await changes.watch_session(services, who, session_id)
                except ProblemError:
                    break  # no longer to be seen by this viewer: the stream ends
                event = watch_json(watch)
            if not await _write(response, event):
                return response
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response
