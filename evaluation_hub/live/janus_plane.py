"""Janus VideoRoom as the live media plane (``media_backend = janus``), the hub its only
controller: one room per session on the instance its id picks, guarded by a secret and a PIN
only hub processes derive (``live.janus_rooms``); seats and browsers never see them, nor
Janus's API secret, and Janus's HTTP API is to be reachable by the hub only.

* A seat's ``media_offer`` (seat link, as with the built-in forwarder) is relayed to Janus as a
  publisher of its session's room (``joinandconfigure``); Janus's answer goes back as
  ``media_answer``. The seat agent is the same for both backends.
* A viewer is a **single-use subscription** to one seat's feed: the hub joins as a subscriber
  (Janus offers) and hands the browser the offer, a viewer id and a one-time token; the
  browser's answer comes back with the token (:meth:`JanusPlane.answer`), which is then spent
  (``live.janus_viewers``). Who may open one is decided before (``live.watching``: the
  built-in forwarder's rule).
* Seat state comes from Janus's events on the publisher's handle (``webrtcup``, ``media``,
  ``hangup``), on the bus like the built-in hub's (``live.seat``); a seat published through
  another hub process is seen in the room's participants.
* Recording: Janus records each publication, the hub converts and audits it when it ends
  (``live.janus_recording``). Conduct: each live seat's monitor subscribes like a viewer
  (``live.janus_monitor``). Other hub processes reach this one's viewers through
  ``live.janus_relay``.
* A session's room lives while the session is on: when it ends (``LIVE_ENDED``: sealed,
  cancelled, …), every hub process hears the move on the bus (``live.janus_ends``), lets go
  of its publishers and viewers in the room and asks Janus to destroy it; Janus does so for
  exactly one of them. A room is never made again for a session that ended here.
* Per-viewer figures are the browser's own (:meth:`JanusPlane.viewer_stats`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from evaluation_hub.bus.base import Bus
from evaluation_hub.live.background import Background
from evaluation_hub.live.janus_monitor import AuditSink, JanusMonitors
from evaluation_hub.live.janus_recording import JanusRecordings
from evaluation_hub.live.janus_rooms import (
    JanusSettings,
    Subscription,
    instance_for,
    published_feeds,
    room_for,
)
from evaluation_hub.live.janus_viewers import (
    NOT_PUBLISHING,
    UNAVAILABLE,
    JanusViewers,
    detach_quietly,
)
from evaluation_hub.live.offers import LatestOffers
from evaluation_hub.live.status import MediaRefused, SeatStatus, seat_channel
from media.conduct import Observation
from media.errors import JanusError
from media.janus import videoroom
from media.janus.client import Event, JanusHandle, JanusSession
from media.janus.videoroom import Room
from media.stats import StreamStats

__all__ = ["JanusPlane"]

logger = logging.getLogger(__name__)

_SESSION_ENDED = ("session-ended", "该评标会已结束，其音视频房间已关闭", 409)

#: the session a seat's media belongs to now (its room), or None
SessionOf = Callable[[str], Awaitable[int | None]]


@dataclass
class _Publisher:
    seat_key: str
    session_id: int
    handle: JanusHandle
    feed: int
    offer_id: str
    publications: int
    connected: bool = False
    receiving: bool = False
    hung_up: bool = False
    state: str = "connecting"
    announced: bool = False
    #: the base name Janus records this publication under (None: not recorded)
    recording: str | None = None
    ended: bool = False


class JanusPlane:
    """This hub process's side of the Janus media plane (see the module docstring)."""

    def __init__(
        self,
        bus: Bus,
        settings: JanusSettings,
        *,
        session_of: SessionOf,
        audit: AuditSink | None = None,
        clock: Callable[[], float] = time.time,
        refresh_interval: float = 1.0,
        max_viewers_per_seat: int = 16,
        max_viewers_per_user_per_seat: int = 2,
        max_viewers_per_user: int = 32,
        viewer_connect_timeout: float = 10.0,
        recordings: JanusRecordings | None = None,
        monitors: JanusMonitors | None = None,
    ) -> None:
        self._bus = bus
        self.settings = settings
        self._session_of = session_of
        self._audit = audit
        self._clock = clock
        self._refresh_interval = refresh_interval
        #: this process's subscriptions, held to the built-in forwarder's caps
        self.viewers = JanusViewers(
            self._record,
            max_per_seat=max_viewers_per_seat,
            max_per_user_per_seat=max_viewers_per_user_per_seat,
            max_per_user=max_viewers_per_user,
            connect_timeout=viewer_connect_timeout,
        )
        self.link_up: Callable[[str], bool] = lambda seat_key: True
        #: Janus's recorder, converted and audited by the hub (None: recording is off)
        self.recordings = recordings
        #: the seats' conduct monitors, subscribed like viewers (None: no monitoring)
        self.monitors = monitors
        self._sessions: dict[str, JanusSession] = {}
        self._connecting = asyncio.Lock()
        self._rooms: set[tuple[str, int]] = set()
        #: sessions heard ending: their rooms are never made again by this process
        self._ended: set[int] = set()
        self._publishers: dict[str, _Publisher] = {}
        self._publications: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        #: one publication attempt per seat at a time, the newest (``live.offers``)
        self.offers = LatestOffers()
        self._background = Background()
        self._loop: asyncio.Task[None] | None = None
        self._closed = False

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.ensure_future(self._refresh_loop())

    async def close(self) -> None:
        self._closed = True
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        if self.monitors is not None:
            await self.monitors.close()
        # Publishers leave first, so their recordings are closed, converted and audited.
        for pub in list(self._publishers.values()):
            await self._end(pub)
        await self._background.close()
        await self.viewers.close()
        if self.recordings is not None:
            await self.recordings.drain()
        # Closing the Janus sessions detaches every other handle: viewers end.
        for session in list(self._sessions.values()):
            await session.close()
        self._sessions.clear()

    async def session(self, url: str) -> JanusSession:
        """This process's Janus session on the instance at ``url`` (made at first need)."""
        return await self._session(url)

    async def _session(self, url: str) -> JanusSession:
        async with self._connecting:
            session = self._sessions.get(url)
            if session is None or session.closed:
                try:
                    session = await JanusSession.create(url, api_secret=self.settings.api_secret)
                except JanusError as exc:
                    logger.warning("janus %s unavailable: %s", url, exc)
                    raise MediaRefused(*UNAVAILABLE) from exc
                session.on_lost = lambda: self._lost(url)
                self._sessions[url] = session
            return session

    def _lost(self, url: str) -> None:
        """Janus forgot our session (it restarted): its handles and rooms are gone too."""
        logger.warning("janus session on %s lost", url)
        self._sessions.pop(url, None)
        self._rooms = {r for r in self._rooms if r[0] != url}
        for pub in self._publishers.values():
            if pub.handle.session.url == url.rstrip("/"):
                pub.hung_up = True

    async def _room(self, session_id: int) -> tuple[JanusSession, Room]:
        if session_id in self._ended:
            raise MediaRefused(*_SESSION_ENDED)
        url = instance_for(session_id, self.settings.urls)
        session = await self._session(url)
        room = room_for(session_id, self.settings.room_key)
        if (url, session_id) not in self._rooms:
            recordings = self.recordings
            record = None if recordings is None else str(recordings.janus_dir.resolve())
            try:
                handle = await session.attach()
                try:
                    await videoroom.create_room(
                        handle,
                        room,
                        admin_key=self.settings.admin_key,
                        publishers=self.settings.publishers,
                        description=f"session {session_id}",
                        record_dir=record,
                    )
                finally:
                    await self._detach(handle)
            except JanusError as exc:
                raise MediaRefused(*UNAVAILABLE) from exc
            if session_id in self._ended:  # ended while being made: the end's destroy may
                await self._destroy(session_id)  # have come first, so undo it
                raise MediaRefused(*_SESSION_ENDED)
            self._rooms.add((url, session_id))
        return session, room

    # --- the session's end ---------------------------------------------------------------------

    async def end_session(self, session_id: int) -> bool:
        """The session ended: this process's publishers of its room leave (their recordings are
        closed, converted and audited), its viewers here are closed, and the room is destroyed.
        Every hub process hears the move and does this; Janus destroys the room for exactly one
        of them, which gets True (the others find it gone, as when nobody ever published)."""
        self._ended.add(session_id)  # never made again here (``_room``)
        for pub in [p for p in self._publishers.values() if p.session_id == session_id]:
            async with self._locks.setdefault(pub.seat_key, asyncio.Lock()):
                if self._publishers.get(pub.seat_key) is not pub:
                    continue
                del self._publishers[pub.seat_key]
                pub.hung_up = True
                await self._end(pub)
            # Offline, not lost: nothing failed (a later session's seat publishes anew).
            event = {"type": "live.seat", "seat_key": pub.seat_key, "state": "offline",
                     "at": self._clock()}  # fmt: skip
            self._spawn(self._bus.publish(seat_channel(pub.seat_key), event))
        await self.viewers.close_room(session_id, reason="session-ended")
        return await self._destroy(session_id)

    async def _destroy(self, session_id: int) -> bool:
        url = instance_for(session_id, self.settings.urls)
        self._rooms.discard((url, session_id))
        try:
            session = await self._session(url)
            handle = await session.attach()
            try:
                destroyed = await videoroom.destroy_room(
                    handle, room_for(session_id, self.settings.room_key)
                )
            finally:
                await self._detach(handle)
        except (JanusError, MediaRefused) as exc:
            # Janus away: the room is not permanent, it goes when that Janus restarts.
            logger.warning("janus room of session %s not destroyed: %s", session_id, exc)
            return False
        if destroyed:
            logger.info("janus room of session %s destroyed on %s", session_id, url)
        return destroyed

    # --- publishers --------------------------------------------------------------------------

    async def publish(self, seat_key: str, offer_id: str, sdp: str) -> str:
        """Relay a seat's offer to its session's room as a publisher; Janus's answer."""
        if self._closed:
            raise MediaRefused("hub-closing", "主场枢纽正在关闭，请稍后重新推送音视频", 409)
        # The newest offer from here on: older ones of the seat are dropped, not answered.
        turn = self.offers.turn(
            seat_key, offer_id, self._locks.setdefault(seat_key, asyncio.Lock())
        )
        session_id = await self._session_of(seat_key)
        if session_id is None:
            raise MediaRefused(
                "seat-not-in-session", "该工位当前不属于任何评标会，暂不接收音视频推送", 409
            )
        async with turn:
            old = self._publishers.pop(seat_key, None)
            if old is not None:
                # The seat gave up on it (a network drop): a new publisher replaces it.
                await self._end(old)
            try:
                session, room = await self._room(session_id)
                handle = await session.attach()
            except JanusError as exc:
                raise MediaRefused(*UNAVAILABLE) from exc
            try:  # a newer offer came while Janus was slow: Janus does not publish this one
                self.offers.check(seat_key, offer_id)
            except MediaRefused:
                await self._detach(handle)
                raise
            publications = self._publications.get(seat_key, 0) + 1
            recordings = self.recordings
            base = None if recordings is None else recordings.begin(seat_key, publications)
            try:
                feed, answer = await videoroom.publish(handle, room, seat_key, sdp, filename=base)
            except JanusError as exc:
                await self._detach(handle)
                logger.warning("janus refused seat %s's offer: %s", seat_key, exc)
                raise MediaRefused(
                    "media-offer-invalid", "工位的音视频推送请求无法处理（SDP 无效或不含可用编码）"
                ) from exc
            self._publications[seat_key] = publications
            pub = _Publisher(seat_key, session_id, handle, feed, offer_id, publications)
            pub.recording = base
            handle.on_event = lambda event: self._on_publisher_event(pub, event)
            self._publishers[seat_key] = pub
            self._spawn(videoroom.kick_others(handle, room, seat_key, feed))
            if base is not None and recordings is not None:
                # Janus's files are watched while the seat's media flows (``recorder_silent``).
                recordings.follow(base, handle, lambda: pub.receiving and not pub.hung_up)
            self._refresh(pub)
            self._spawn(
                self._record(
                    "live.publisher_connected",
                    seat_key,
                    "seat",
                    {"offer_id": offer_id, "publication": publications, "janus_room": room.id},
                ),
                write=True,
            )
            return answer

    def _on_publisher_event(self, pub: _Publisher, event: Event) -> None:
        kind = event.get("janus")
        if kind == "webrtcup":
            if not pub.connected and self.monitors is not None:
                self._spawn(self._monitor(pub))
            pub.connected = True
            pub.receiving = True
        elif kind == "media" and event.get("type") == "video":
            pub.receiving = bool(event.get("receiving"))
        elif kind in ("hangup", "detached"):
            pub.hung_up = True
            # Gone for good (a new offer makes a new publisher): leave, close the recording.
            self._spawn(self._end(pub))
        if self._publishers.get(pub.seat_key) is pub:
            self._refresh(pub)

    async def _monitor(self, pub: _Publisher) -> None:
        """Subscribe the seat's conduct monitor to its feed once it is up."""
        assert self.monitors is not None
        try:
            session = await self._session(instance_for(pub.session_id, self.settings.urls))
            room = room_for(pub.session_id, self.settings.room_key)
            if not pub.ended:
                await self.monitors.watch(pub.seat_key, session, room, pub.feed)
        except (JanusError, MediaRefused) as exc:
            logger.warning("conduct monitor of seat %s not subscribed: %s", pub.seat_key, exc)

    async def _end(self, pub: _Publisher) -> None:
        """Detach the publication's handle (Janus closes its recording), then convert it."""
        if pub.ended:
            return
        pub.ended = True
        recording, pub.recording = pub.recording, None
        try:
            if self.monitors is not None:
                await self.monitors.stop(pub.seat_key)
            await self._detach(pub.handle)
        finally:
            # Even if the hub stops meanwhile: the recording is converted and audited.
            if recording is not None and self.recordings is not None:
                self.recordings.end(pub.seat_key, recording)

    def _state_of(self, pub: _Publisher) -> str:
        if pub.hung_up or (pub.connected and not pub.receiving):
            return "lost"
        if not pub.connected:
            return "connecting"
        return "live" if self.link_up(pub.seat_key) else "control_lost"

    def _refresh(self, pub: _Publisher) -> None:
        state = self._state_of(pub)
        if state == pub.state and pub.announced:
            return
        pub.state, pub.announced = state, True
        event = {"type": "live.seat", "seat_key": pub.seat_key, "state": state, "at": self._clock()}
        self._spawn(self._bus.publish(seat_channel(pub.seat_key), event))
        if state in ("live", "lost"):
            self._spawn(
                self._record(f"live.seat_{state}", pub.seat_key, "hub", {"offer_id": pub.offer_id}),
                write=True,
            )

    async def _refresh_loop(self) -> None:
        while True:
            for pub in list(self._publishers.values()):
                self._refresh(pub)
            await asyncio.sleep(self._refresh_interval)

    # --- what the wall reads -------------------------------------------------------------------

    def status(self, seat_key: str) -> SeatStatus:
        pub = self._publishers.get(seat_key)
        viewers = self.viewers.count(seat_key)
        if pub is None:
            return SeatStatus("offline", (), (), viewers, self._publications.get(seat_key, 0))
        alerts = () if self.monitors is None else self.monitors.alerts(seat_key)
        return SeatStatus(pub.state, alerts, (), viewers, pub.publications)

    async def statuses(
        self, seat_keys: list[str], *, session_id: int | None = None
    ) -> dict[str, SeatStatus]:
        """Each seat's state: this process's publishers' as their events tell; the others', and
        those whose publication here ended (their link moved), from the room's participants."""
        found = {key: self.status(key) for key in seat_keys}
        missing = [key for key, status in found.items() if status.state in ("offline", "lost")]
        if not missing or session_id is None:
            return found
        try:
            session = await self._session(instance_for(session_id, self.settings.urls))
            publishing = await published_feeds(
                session, room_for(session_id, self.settings.room_key)
            )
        except (JanusError, MediaRefused) as exc:
            # No room yet (nobody published), or Janus away: the seats are offline here.
            logger.debug("janus participants of session %s unavailable: %s", session_id, exc)
            return found
        for key in missing:
            pub = self._publishers.get(key)
            if key in publishing and (pub is None or publishing[key] != pub.feed):
                found[key] = SeatStatus("live", (), (), found[key].viewers, 1)
        return found

    def latest(self, seat_key: str) -> Observation | None:
        """The conduct monitor's latest look at the seat while it is live (check-in)."""
        pub = self._publishers.get(seat_key)
        if pub is None or pub.state != "live" or self.monitors is None:
            return None
        return self.monitors.latest(seat_key)

    # --- viewers (``live.janus_viewers``) ------------------------------------------------------

    async def subscribe(self, session_id: int, seat_key: str, username: str) -> Subscription:
        """A single-use subscription to ``seat_key``'s feed (access already checked)."""
        pub = self._publishers.get(seat_key)
        session, room = await self._room(session_id)
        try:  # published through another hub process, if not (or no longer) this one
            feed = pub.feed if pub is not None and not pub.ended else None
            if feed is None:
                feed = (await published_feeds(session, room)).get(seat_key)
        except JanusError as exc:
            raise MediaRefused(*UNAVAILABLE) from exc
        if feed is None:
            raise MediaRefused(*NOT_PUBLISHING)
        return await self.viewers.open(session, room, seat_key, username, feed)

    async def answer(self, viewer_id: int, username: str, token: str, sdp: str) -> None:
        """Start the subscription with the browser's answer; spends the token."""
        await self.viewers.answer(viewer_id, username, token, sdp)

    def holds(self, viewer_id: int) -> bool:
        return self.viewers.holds(viewer_id)

    async def close_viewer(self, viewer_id: int, username: str) -> None:
        await self.viewers.close_viewer(viewer_id, username)

    async def viewer_stats(self, viewer_id: int, username: str) -> tuple[StreamStats, ...]:
        """None from the hub: a Janus viewer's figures are the browser's own (why: see
        ``live.janus_viewers``)."""
        self.viewers.held(viewer_id, username)
        return ()

    async def _detach(self, handle: JanusHandle) -> None:
        await detach_quietly(handle)

    async def _record(self, kind: str, seat: str, actor: str, payload: Mapping[str, Any]) -> None:
        try:
            if self._audit is not None:
                await self._audit(kind, f"seat:{seat}", actor, payload)
        except Exception:
            logger.exception("live audit event %s for seat %s failed", kind, seat)

    def _spawn(self, coro: Awaitable[Any], *, write: bool = False) -> None:
        self._background.spawn(coro, write=write)
