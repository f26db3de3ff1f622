"""Session state notices (评标会状态通知): every seat of a session hears each move of its
lifecycle, and when the reading is over (``READING_OVER``: sealed, revealed, …) the seat wipes
its chapter cache and every hub process drops the sealed chunks it held for the session.

How a move travels: the lifecycle store notes it in its unit of work
(``sessions.store.SESSION_MOVES``); after the commit this module's listener on the database
publishes it on the bus channel ``sessions``, so every hub process hears it, also the one a seat
is connected to when the move was made through another. Each process then pushes
``SessionStateNotice`` to the session's seats over their channels (a seat connected elsewhere
gets nothing here) and forgets the session's chunks.

A seat that was offline when the move happened hears the current state of each session it is
booked for when it reconnects (``SeatHub.connect_listeners``), so its cache is wiped then. Notices are best
effort beside that resync: a bus failure never undoes the move that was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import Select, select

from evaluation_hub.api.keys import BUS, CLOCK, DB
from evaluation_hub.booking import rules as booking_rules
from evaluation_hub.bus.base import Subscription
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Booking, BookingSeat, EvaluationSession, Seat, Venue
from evaluation_hub.seats.chapters import CHAPTERS, ChapterChunks
from evaluation_hub.seats.store import seat_key_for
from evaluation_hub.seats.websocket import SEAT_HUB, SeatHub
from evaluation_hub.sessions.store import SESSION_MOVES, SessionMove
from seat_protocol.messages import SessionStateNotice
from seat_protocol.session_states import READING_OVER

__all__ = ["CHANNEL", "current_states", "deliver", "seat_keys_of", "setup"]

log = structlog.get_logger(__name__)

CHANNEL = "sessions"
_LIVE = tuple(booking_rules.LIVE_STATES)


def _held(*columns: Any) -> Select[Any]:
    """``columns`` over the booking seats held now (live bookings, live booking seats), joined
    to their booking, session, seat and venue."""
    return (
        select(*columns)
        .select_from(BookingSeat)
        .join(Booking, Booking.id == BookingSeat.booking_id)
        .join(EvaluationSession, EvaluationSession.id == Booking.session_id)
        .join(Seat, Seat.id == BookingSeat.seat_id)
        .join(Venue, Venue.id == Seat.venue_id)
        .where(Booking.state.in_(_LIVE), BookingSeat.live.is_(True))
    )


async def seat_keys_of(db: Database, session_id: int) -> list[str]:
    """The seats the session holds now."""
    async with db.read() as s:
        rows = await s.execute(
            _held(Venue.code, Seat.label)
            .where(Booking.session_id == session_id)
            .order_by(Venue.code, Seat.label)
        )
        return [seat_key_for(venue, label) for venue, label in rows.all()]


async def deliver(
    db: Database, hub: SeatHub, chunks: ChapterChunks, event: Mapping[str, Any]
) -> list[str]:
    """Act on one published move in this process; the seat keys a notice was handed to."""
    session_id, state, at = int(event["session_id"]), str(event["state"]), float(event["at"])
    sid = str(session_id)
    # Seats that were sent chapters hear it too, even if their seat was released since.
    forgotten = chunks.forget_session(sid) if state in READING_OVER else []
    targets = dict.fromkeys([*await seat_keys_of(db, session_id), *forgotten])
    notice = SessionStateNotice(session_id=sid, state=state, at=at)
    sent = [key for key in targets if await hub.send(key, notice) is not None]
    log.info(
        "seat.session_state_sent",
        session_id=session_id,
        state=state,
        seats=sent,
        chunks_dropped_for=forgotten,
    )
    return sent


async def current_states(db: Database, seat_key: str) -> list[tuple[int, str]]:
    """(session id, state) of every session that holds the seat now."""
    venue_code, dot, label = seat_key.partition(".")
    if not dot:
        return []
    async with db.read() as s:
        rows = await s.execute(
            _held(EvaluationSession.id, EvaluationSession.state)
            .where(Venue.code == venue_code, Seat.label == label)
            .order_by(EvaluationSession.id)
        )
        return [(sid, state) for sid, state in rows.all()]


def setup(app: web.Application) -> None:
    """Publish committed moves and deliver them to this process's seats; call after
    ``evaluation_hub.seats.chapters.setup``."""
    db: Database = app[DB]

    async def publish(info: Mapping[str, Any]) -> None:
        moves: list[SessionMove] = info.get(SESSION_MOVES, [])
        for move in moves:
            event = {"session_id": move.session_id, "state": move.state, "at": move.at.timestamp()}
            await app[BUS].publish(CHANNEL, event)

    async def listen(subscription: Subscription) -> None:
        async for _channel, event in subscription:
            try:
                await deliver(db, app[SEAT_HUB], app[CHAPTERS], event)
            except Exception:
                log.exception("seat.session_state_failed", event=dict(event))

    async def seat_connected(hub: SeatHub, seat_key: str) -> None:
        at = app[CLOCK]().timestamp()
        for session_id, state in await current_states(db, seat_key):
            await hub.send(
                seat_key, SessionStateNotice(session_id=str(session_id), state=state, at=at)
            )

    app[SEAT_HUB].connect_listeners.append(seat_connected)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        # Subscribed before the app serves, so no move made through this process is missed.
        async with app[BUS].subscribe(CHANNEL) as subscription:
            task = asyncio.create_task(listen(subscription))
            db.commit_listeners.append(publish)
            try:
                yield
            finally:
                db.commit_listeners.remove(publish)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.cleanup_ctx.append(lifecycle)
