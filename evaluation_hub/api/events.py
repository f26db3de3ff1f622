"""Live events for pages (server-sent events).

The booking use cases publish every booking change on the bus to the channels of those who
may see it (``evaluation_hub.booking.records.publish_changes``): the booked venue
(``venue:ID``), the host venue (``host:ID``) and system admins (``all``); a drawn booking (两随机)
reaches the host's channel without its venue until the session starts. A page's stream carries
the channels its caller reads (``access.event_channels``). With the Redis bus a change made
through one hub process reaches pages connected to any other. Events only say *that* something
changed; pages re-read the details through the API, where access is checked, so an event never
carries more than its channel may see.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref

from aiohttp import web

from evaluation_hub import access
from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import BUS
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.bus.base import Subscription

__all__ = ["KEEPALIVE_S", "LIVE_STREAMS", "close_streams", "routes"]

routes = ApiRoutes()

KEEPALIVE_S = 15.0
LIVE_STREAMS = web.AppKey("live_streams", weakref.WeakSet[Subscription])


async def close_streams(app: web.Application) -> None:
    streams: weakref.WeakSet[Subscription] = app[LIVE_STREAMS]
    for subscription in list(streams):
        subscription.close()


@routes.route(
    "GET",
    "/api/events",
    summary="实时事件流（text/event-stream）：本人可见范围内的预约变化",
    tag="实时事件",
)
async def events(request: web.Request) -> web.StreamResponse:
    who = await principal(request)
    channels = access.event_channels(who)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    if not channels:
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):
            await response.write(b": connected\n\n")
        return response
    async with request.app[BUS].subscribe(*channels) as subscription:
        # Subscribed before saying "connected": a page that re-reads when its stream opens
        # misses no change made in between.
        await response.prepare(request)
        # Shutdown closes open streams, or it would wait for every page to go away.
        request.app[LIVE_STREAMS].add(subscription)
        # A page that went away (tab closed, reloaded) ends its stream: not an error.
        with contextlib.suppress(ConnectionResetError):
            await response.write(b": connected\n\n")
            iterator = aiter(subscription)
            while True:
                try:
                    _channel, event = await asyncio.wait_for(anext(iterator), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                except StopAsyncIteration:
                    break
                text = json.dumps(event, ensure_ascii=False)
                await response.write(f"data: {text}\n\n".encode())
    return response
