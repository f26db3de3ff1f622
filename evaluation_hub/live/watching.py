"""Watching seats live (观看工位音视频): the use cases behind the supervision wall.

Access is decided on every call from the session's seats as they are now
(``live.seats``: ``access.Action.WATCH_LIVE``), before anything of the live media is read: a
host supervisor watches every seat of the session, an away supervisor only the seats at their
venue, nobody else anything; and a session's seats are only those it holds for certain while
it is on (``live.seats.session_seats``), so nobody watches another session's expert. A viewer's connection belongs to the supervisor who opened it;
nobody else may read its figures or close it. The live media is reached through
``live.relay.LiveRelay``: whichever hub process holds a seat's media or a viewer answers; or,
with ``media_backend = janus``, through ``live.janus_relay.JanusRelay`` (``live.janus_plane``): a viewer is then a
single-use subscription (Janus's offer and a one-time token; the browser's answer comes back
with the token, :func:`answer_viewer`), opened under the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from evaluation_hub import access
from evaluation_hub.errors import NotFound
from evaluation_hub.live.janus_recording import JanusRecordings
from evaluation_hub.live.janus_relay import JanusRelay
from evaluation_hub.live.recording import RecordingState, SeatRecordings
from evaluation_hub.live.relay import LiveRelay
from evaluation_hub.live.seats import (
    LiveSeat,
    SessionSeats,
    require_seat,
    session_seats,
    visible_seats,
    watch_scope,
)
from evaluation_hub.live.status import MediaRefused, SeatStatus
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.sessions.states import SEATS_IN_USE
from media.stats import StreamStats

__all__ = [
    "LiveWall",
    "Media",
    "OpenedSubscription",
    "OpenedViewer",
    "SeatOnWall",
    "ViewerFigures",
    "answer_viewer",
    "close_viewer",
    "live_wall",
    "on_wall",
    "open_viewer",
    "viewer_figures",
    "watched_seats",
]

#: the live media plane the wall talks to: the built-in forwarder (over every hub process) or
#: Janus
Media = LiveRelay | JanusRelay


@dataclass(frozen=True)
class SeatOnWall:
    seat: LiveSeat
    status: SeatStatus
    #: whether the seat's media is being recorded (None: no recorder, or recording is off)
    recording: RecordingState | None = None


@dataclass(frozen=True)
class LiveWall:
    """The seats a supervisor may watch, with their live state."""

    session_id: int
    scope: access.Scope
    seats: tuple[SeatOnWall, ...]
    #: the session's state, and whether its seats are watched in it (check-in … evaluation)
    state: str = ""
    on: bool = True
    #: the media plane: "builtin" (the viewer offers, the hub answers) or "janus" (the viewer
    #: asks to subscribe, Janus offers, the viewer answers with the one-time token)
    media: str = "builtin"


@dataclass(frozen=True)
class OpenedViewer:
    viewer_id: int
    seat_id: int
    sdp: str  # the hub's SDP answer


@dataclass(frozen=True)
class OpenedSubscription:
    """A single-use subscription (Janus): its offer, answered once with ``token``."""

    viewer_id: int
    seat_id: int
    sdp: str  # Janus's SDP offer
    token: str


@dataclass(frozen=True)
class ViewerFigures:
    viewer_id: int
    streams: tuple[StreamStats, ...]


async def _seats(hub: Services, session_id: int, now: datetime) -> SessionSeats:
    async with hub.db.read() as s:
        return await session_seats(s, await load_session(s, session_id), now=now)


async def live_wall(
    hub: Services, live: Media, who: Principal, session_id: int, *, now: datetime
) -> LiveWall:
    """The wall: the seats ``who`` may watch, each with its state, alerts and stats."""
    seats = await _seats(hub, session_id, now)
    return LiveWall(
        session_id,
        watch_scope(who, seats),
        await on_wall(live, visible_seats(who, seats), session_id=session_id),
        seats.state,
        seats.state in SEATS_IN_USE,
        "janus" if isinstance(live, JanusRelay) else "builtin",
    )


async def watched_seats(
    hub: Services, who: Principal, session_id: int, *, now: datetime
) -> list[LiveSeat]:
    """The seats whose live events ``who`` may follow."""
    return visible_seats(who, await _seats(hub, session_id, now))


async def on_wall(
    live: Media, seats: Sequence[LiveSeat], *, session_id: int | None = None
) -> tuple[SeatOnWall, ...]:
    """The seats with their live state now (the event stream's opening snapshot), as the hub
    process holding each seat's media sees it (with Janus: as the session's room shows); the
    recording state is this process's recorder's (the process a seat publishes to records
    it)."""
    keys = [seat.seat_key for seat in seats]
    recordings: JanusRecordings | SeatRecordings | None
    if isinstance(live, JanusRelay):
        statuses = await live.statuses(keys, session_id=session_id)
        recordings = live.recordings
    else:
        statuses = await live.statuses(keys)
        recordings = live.live.recordings
    return tuple(
        SeatOnWall(
            seat,
            statuses[seat.seat_key],
            None if recordings is None else recordings.state(seat.seat_key),
        )
        for seat in seats
    )


async def open_viewer(
    hub: Services,
    live: Media,
    who: Principal,
    session_id: int,
    seat_id: int,
    sdp: str | None,
    *,
    now: datetime,
) -> OpenedViewer | OpenedSubscription:
    """Open a viewer of one seat (``MediaRefused`` if it cannot be): the built-in forwarder
    answers the supervisor's offer ``sdp``, by the hub process holding the seat's media; with
    Janus the supervisor gets a single-use subscription to the seat's feed (an offer to answer
    with :func:`answer_viewer`; an offer ``sdp`` sent anyway is not used)."""
    seat = require_seat(who, await _seats(hub, session_id, now), seat_id)
    if isinstance(live, JanusRelay):
        found = await live.subscribe(session_id, seat.seat_key, who.username)
        return OpenedSubscription(found.viewer_id, seat.seat_id, found.sdp, found.token)
    if sdp is None:
        raise MediaRefused("viewer-offer-missing", "观看请求缺少浏览器的 SDP offer")
    viewer_id, answer = await live.watch(seat.seat_key, who.username, sdp)
    return OpenedViewer(viewer_id, seat.seat_id, answer)


async def answer_viewer(live: Media, who: Principal, viewer_id: int, token: str, sdp: str) -> None:
    """Start one of the caller's Janus subscriptions with the browser's SDP answer, spending
    its one-time token (a second use, or another's token, is refused). The built-in
    forwarder's viewers have nothing to answer."""
    if not isinstance(live, JanusRelay):
        raise NotFound(
            "viewer-not-awaiting-answer", f"观看连接 #{viewer_id} 没有待提交的 SDP answer"
        )
    await live.answer(viewer_id, who.username, token, sdp)


async def close_viewer(live: Media, who: Principal, viewer_id: int) -> None:
    """Close one of the caller's own viewer connections (``NotFound``, or ``Forbidden`` for
    another's), wherever it is held."""
    await live.close_viewer(viewer_id, who.username)


async def viewer_figures(live: Media, who: Principal, viewer_id: int) -> ViewerFigures:
    """What the hub sent one of the caller's viewers since the previous reading."""
    return ViewerFigures(viewer_id, await live.viewer_stats(viewer_id, who.username))
