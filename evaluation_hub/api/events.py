"""Live events for pages (server-sent events), and the publishing of booking changes.

Every booking change is published on the bus to the channels of those who may see it: the
booked venue (``venue:ID``), the host venue (``host:ID``) and system admins (``all``). A drawn
booking (两随机) reaches the host's channel without its venue until the session starts. With the
Redis bus a change made through one hub process reaches pages connected to any other.
Events only say *that* something changed; pages re-read the details through the API, where
access is checked, so an event never carries more than its channel may see.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref

from aiohttp import web

from evaluation_hub.api.auth import principal
from evaluation_hub.api.keys import BUS, CLOCK
from evaluation_hub.api.routes import ApiRoutes
from evaluation_hub.bus.base import Subscription
from evaluation_hub.db.models import Booking
from evaluation_hub.principal import Principal

__all__ = ["LIVE_STREAMS", "channels_for", "close_streams", "publish_booking", "routes"]

routes = ApiRoutes()

KEEPALIVE_S = 15.0
LIVE_STREAMS = web.AppKey("live_streams", weakref.WeakSet[Subscription])


async def close_streams(app: web.Application) -> None:
    streams: weakref.WeakSet[Subscription] = app[LIVE_STREAMS]
    for subscription in list(streams):
        subscription.close()


def channels_for(who: Principal) -> tuple[str, ...]:
    if who.is_system:
        return ("all",)
    if who.role == "venue_admin":
        return (f"venue:{who.venue_id}",)
    if who.role == "host_operator":
        return (f"host:{who.venue_id}",)
    return ()


async def publish_booking(app: web.Application, booking: Booking) -> None:
    event = {
        "type": "booking.changed",
        "booking_id": booking.id,
        "session_id": booking.session_id,
        "state": booking.state,
    }
    bus = app[BUS]
    hidden = booking.drawn and app[CLOCK]() < booking.session.starts_at
    await bus.publish(f"venue:{booking.venue_id}", {**event, "venue_id": booking.venue_id})
    await bus.publish(
        f"host:{booking.session.host_venue_id}",
        {**event, "venue_id": None if hidden else booking.venue_id},
    )
    await bus.publish("all", {**event, "venue_id": booking.venue_id})


@routes.route(
    "GET",
    "/api/events",
    summary="实时事件流（text/event-stream）：本人可见范围内的预约变化",
    tag="实时事件",
)
async def events(request: web.Request) -> web.StreamResponse:
    who = await principal(request)
    channels = channels_for(who)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    if not channels:
        await response.prepare(request)
        await response.write(b": connected\n\n")
        return response
    async with request.app[BUS].subscribe(*channels) as subscription:
        # Subscribed before saying "connected": a page that re-reads when its stream opens
        # misses no change made in between.
        await response.prepare(request)
        await response.write(b": connected\n\n")
        # Shutdown closes open streams, or it would wait for every page to go away.
        request.app[LIVE_STREAMS].add(subscription)
        iterator = aiter(subscription)
        while True:
            try:
                _channel, event = await asyncio.wait_for(anext(iterator), KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            except StopAsyncIteration:
                break
            with contextlib.suppress(ConnectionResetError):
                await response.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
    return response
