"""The seat link's shell (工位连接): the aiohttp websocket at ``/ws/seat`` and its per-process
state.

    hub.py     ``SeatHub``: each seat's protocol channel and the live sockets; it is the
               application's ``Services.seats`` (``evaluation_hub.seats.outlet.SeatOutlet``)
    socket.py  the websocket handler: frames in, the pure ``seat_protocol.hub_side`` machine,
               one use case of ``evaluation_hub.seats`` per application message, frames out

:func:`setup` serves the websocket, keeps the chapters released to seats in this process
(``CHAPTERS``) and hands them to the socket for chunk requests; :func:`setup_session_notices`
carries session moves to the seats over the bus for the application's lifetime, and hands
releases made through other hub processes to the seats connected here
(``seats.chapter_handover``) and the messages other processes route to them
(``seats.routed_outlet``). The rules and
the database work are the use cases' (``evaluation_hub.seats``); nothing here decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from evaluation_hub.api.keys import CLOCK, SERVICES
from evaluation_hub.api.seat_link.hub import (
    CHAPTERS,
    SEAT_HUB,
    MediaOfferHandler,
    ScoreListener,
    SeatHub,
)
from evaluation_hub.api.seat_link.socket import seat_socket, shutdown
from evaluation_hub.seats import chapter_handover, chapters, routed_outlet, session_notices
from evaluation_hub.seats.chapter_chunks import ChapterChunks
from evaluation_hub.seats.routed_outlet import RoutedSeats
from seat_protocol.hub_side import Timing
from seat_protocol.messages import CHUNK_SIZE

__all__ = [
    "CHAPTERS",
    "SEAT_HUB",
    "MediaOfferHandler",
    "ScoreListener",
    "SeatHub",
    "setup",
    "setup_session_notices",
]


def setup(
    app: web.Application,
    *,
    hub_id: str,
    timing: Timing | None = None,
    score_listener: ScoreListener | None = None,
    media_offer_handler: MediaOfferHandler | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    chunk_size: int = CHUNK_SIZE,
) -> SeatHub:
    """Serve the seat websocket at ``/ws/seat``; needs ``SERVICES`` and ``CLOCK`` on the app.

    The returned ``SeatHub`` (also ``app[SEAT_HUB]``, and ``app[SERVICES].seats`` or behind it)
    takes more score listeners (``score_listeners.append``) and pushes application messages to
    seats.
    """
    hub = SeatHub(
        hub_id=hub_id,
        timing=timing or Timing(),
        monotonic=monotonic,
        media_offer_handler=media_offer_handler,
    )
    if score_listener is not None:
        hub.score_listeners.append(score_listener)
    chunks = ChapterChunks(chunk_size=chunk_size)
    hub.chapter_source = chunks
    app[SEAT_HUB] = hub
    app[CHAPTERS] = chunks
    # Several hub processes share a bus (Redis): a seat connected to another is reached
    # through it (``seats.routed_outlet``).
    services = app[SERVICES]
    services.seats = (
        RoutedSeats(hub, services.bus) if services.config.redis_url is not None else hub
    )
    app.router.add_get("/ws/seat", seat_socket)
    app.on_shutdown.append(shutdown)
    return hub


def setup_session_notices(app: web.Application) -> None:
    """Publish committed session moves on the bus and deliver the moves heard there to this
    process's seats, for as long as the app runs; call after :func:`setup`."""
    services = app[SERVICES]
    publish = session_notices.moves_publisher(services.bus)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        # Subscribed before the app serves, so no move made through this process is missed.
        async with (
            services.bus.subscribe(session_notices.CHANNEL) as subscription,
            services.bus.subscribe(chapters.CHANNEL) as releases,
            services.bus.subscribe(routed_outlet.CHANNEL) as routed,
        ):
            # Every process hears every move: each tells the seats connected to it, only.
            here = dataclasses.replace(services, seats=app[SEAT_HUB])
            tasks = [
                asyncio.create_task(session_notices.listen(here, app[CHAPTERS], subscription)),
                asyncio.create_task(
                    chapter_handover.listen(services, app[CHAPTERS], releases, clock=app[CLOCK])
                ),
            ]
            if isinstance(services.seats, RoutedSeats):
                tasks.append(asyncio.create_task(services.seats.listen(routed)))
            services.db.commit_listeners.append(publish)
            try:
                yield
            finally:
                services.db.commit_listeners.remove(publish)
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app.cleanup_ctx.append(lifecycle)
