"""Session state notices (评标会状态通知): every seat of a session hears each move of its
lifecycle, and when the reading is over (``READING_OVER``: sealed, revealed, …) the seat wipes
its chapter cache and every hub process drops the sealed chunks it held for the session.

How a move travels: the lifecycle store notes it in its unit of work
(``sessions.store.SESSION_MOVES``); after the commit :func:`moves_publisher` (a commit
listener on the database) publishes it on the bus channel ``sessions``, so every hub process
hears it, also the one a seat is connected to when the move was made through another. Each
process's subscriber (:func:`listen`) then pushes ``SessionStateNotice`` to the session's seats
over their channels (a seat connected elsewhere gets nothing here) and forgets the session's
chunks (:func:`deliver`). The seat websocket shell (``evaluation_hub.api.seat_link``)
subscribes and registers the listener for the application's lifetime.

A seat that was offline when the move happened hears the current state of each session it is
booked for when it reconnects (``evaluation_hub.seats.catch_up``), so its cache is wiped then.
Notices are best effort beside that: a bus failure never undoes the move that was committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub.booking.seatings import seatings
from evaluation_hub.bus.base import Bus, Subscription
from evaluation_hub.db.engine import CommitListener
from evaluation_hub.seats.chapter_chunks import ChapterChunks
from evaluation_hub.services import Services
from evaluation_hub.sessions.store import SESSION_MOVES, SessionMove
from seat_protocol.messages import SessionStateNotice
from seat_protocol.session_states import READING_OVER

__all__ = ["CHANNEL", "deliver", "listen", "moves_publisher", "seat_keys_of"]

log = structlog.get_logger(__name__)

CHANNEL = "sessions"


async def seat_keys_of(s: AsyncSession, session_id: int) -> list[str]:
    """The seats the session holds now, by venue code and seat label."""
    held = await seatings(s, session_id=session_id)
    return [x.seat_key for x in sorted(held, key=lambda x: (x.venue_code, x.seat_label))]


async def deliver(hub: Services, chunks: ChapterChunks, event: Mapping[str, Any]) -> list[str]:
    """Act on one published move in this process; the seat keys a notice was handed to."""
    session_id, state, at = int(event["session_id"]), str(event["state"]), float(event["at"])
    sid = str(session_id)
    # Seats that were sent chapters hear it too, even if their seat was released since.
    forgotten = chunks.forget_session(sid) if state in READING_OVER else []
    async with hub.db.read() as s:
        holding = await seat_keys_of(s, session_id)
    targets = dict.fromkeys([*holding, *forgotten])
    notice = SessionStateNotice(session_id=sid, state=state, at=at)
    sent = [key for key in targets if await hub.seats.send(key, notice)]
    log.info(
        "seat.session_state_sent",
        session_id=session_id,
        state=state,
        seats=sent,
        chunks_dropped_for=forgotten,
    )
    return sent


def moves_publisher(bus: Bus) -> CommitListener:
    """A commit listener that publishes the session moves of each committed unit of work."""

    async def publish(info: Mapping[str, Any]) -> None:
        moves: list[SessionMove] = info.get(SESSION_MOVES, [])
        for move in moves:
            event = {"session_id": move.session_id, "state": move.state, "at": move.at.timestamp()}
            await bus.publish(CHANNEL, event)

    return publish


async def listen(hub: Services, chunks: ChapterChunks, subscription: Subscription) -> None:
    """Deliver every move heard on ``subscription`` (runs until it ends or is cancelled)."""
    async for _channel, event in subscription:
        try:
            await deliver(hub, chunks, event)
        except Exception:
            log.exception("seat.session_state_failed", notice=dict(event))
