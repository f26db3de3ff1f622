"""A session's Janus room ends with the session (房间随评标会结束而销毁).

A room lives while its session is on (``sessions.states.SEATS_IN_USE``); once the session has
ended (``LIVE_ENDED``: sealed, sealed for a new committee, cancelled, or later) nothing is
published into it any more (``live.publishing``) and it goes:

* :func:`follow_sessions`: every hub process hears every committed session move on the bus
  (the channel ``seats.session_notices`` publishes them on) and, for a session that ended,
  calls :meth:`~evaluation_hub.live.janus_plane.JanusPlane.end_session`: its publishers and
  viewers in that process let go, and Janus is asked to destroy the room. Janus handles one
  request on a room at a time, so exactly one process destroys it; the others find it gone,
  as when nobody ever published.
* :func:`sweep`, once as each hub process starts: the rooms of sessions that ended while no
  process listened (a bus outage, every process down) are destroyed then.

Rooms are created non-permanent: one whose end was missed by both still goes when its Janus
restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from evaluation_hub.bus.base import Subscription
from evaluation_hub.live.janus_plane import JanusPlane
from evaluation_hub.live.janus_rooms import instance_for, room_ids
from evaluation_hub.live.status import MediaRefused
from evaluation_hub.sessions.states import LIVE_ENDED
from media.errors import JanusError

__all__ = ["follow_sessions", "sweep"]

logger = logging.getLogger(__name__)


async def follow_sessions(plane: JanusPlane, moves: Subscription) -> None:
    """End the rooms of the sessions that end as their moves are heard on ``moves``; runs
    until cancelled."""
    async for _channel, event in moves:
        if str(event.get("state")) not in LIVE_ENDED:
            continue
        try:
            await plane.end_session(int(event["session_id"]))
        except Exception:
            logger.exception("janus room of session %s not ended", event.get("session_id"))


async def sweep(plane: JanusPlane, ended: Callable[[list[int]], Awaitable[list[int]]]) -> list[int]:
    """Destroy the rooms of the sessions that ``ended`` says ended (of the rooms each instance
    holds for its sessions); the sessions whose rooms this call destroyed."""
    urls = plane.settings.urls
    rooms: list[int] = []
    for url in urls:
        try:
            found = await room_ids(await plane.session(url), plane.settings.admin_key)
        except (JanusError, MediaRefused) as exc:
            logger.warning("janus rooms on %s not listed: %s", url, exc)
            continue
        rooms += [r for r in found if instance_for(r, urls) == url]
    destroyed = []
    for session_id in await ended(rooms):
        try:
            if await plane.end_session(session_id):
                destroyed.append(session_id)
        except JanusError as exc:  # a room of that id the hub did not make
            logger.warning("janus room %s not destroyed: %s", session_id, exc)
    return destroyed
