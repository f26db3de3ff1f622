"""Viewers with the Janus media plane (观看连接，Janus): single-use subscriptions to one seat's
feed, held by the hub process that opened them (``live.janus_plane`` finds the feed and the
room; ``live.janus_relay`` reaches the holder from any process).

A viewer is a subscriber handle on this process's Janus session: the browser gets Janus's
offer, a viewer id and a one-time token, and sends its answer back with the token
(:meth:`JanusViewers.answer`), which is then spent. One not answered and connected within
``connect_timeout`` seconds is withdrawn. The caps per seat and per supervisor are the
built-in forwarder's (``live.viewer_places``). Opening and closing are audited like the
built-in forwarder's viewers (``live.viewer_opened`` / ``live.viewer_closed``).

A viewer's figures are the browser's own receiving report: ``wall.js`` reads its peer
connection's ``getStats`` every 2 s and shows frames per second, bitrate, loss and round trip
on the tile, as it does with the built-in forwarder (``tests/janus/test_janus_wall.py`` reads
them back); the hub's figures API gives none on Janus. Chosen because it costs nothing and
measures what the supervisor actually receives. The alternatives were worse: the hub carries
none of the media here, Janus's admin API (its per-handle counters) stays off so that nothing
but the room API is exposed, and its ``slowlink`` events say only that losses passed a
threshold (configured per Janus, off by default), not frame rate, bitrate or round trip.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from evaluation_hub.errors import Forbidden, NotFound
from evaluation_hub.live.background import Background
from evaluation_hub.live.janus_rooms import Subscription, token_digest
from evaluation_hub.live.status import MediaRefused
from evaluation_hub.live.viewer_places import first_viewer_id, viewer_refusal
from media.errors import JanusError, JanusRefused
from media.janus import videoroom
from media.janus.client import Event, JanusHandle, JanusSession
from media.janus.videoroom import Room

__all__ = ["JanusViewers", "Record", "detach_quietly"]

logger = logging.getLogger(__name__)

#: (kind, seat key, actor, payload): one live event for the audit chain (never raises)
Record = Callable[[str, str, str, Mapping[str, Any]], Awaitable[None]]

UNAVAILABLE = ("janus-unavailable", "音视频服务（Janus）暂时不可用，请稍后重试", 503)
NOT_PUBLISHING = ("seat-not-publishing", "该工位尚未推送音视频，请稍后再试", 409)
_TOKEN_SPENT = "该观看授权已使用、已过期或无效，请重新打开观看窗口"


async def detach_quietly(handle: JanusHandle) -> None:
    """Detach ``handle``; Janus being away then is logged, not raised (it forgets it anyway)."""
    try:
        await handle.detach()
    except JanusError as exc:
        logger.info("janus handle %s not detached: %s", handle.id, exc)


@dataclass
class _Viewer:
    id: int
    seat_key: str
    username: str
    handle: JanusHandle
    room: Room
    token_hash: bytes
    answered: bool = False
    connected: bool = False


class JanusViewers:
    """This hub process's Janus subscriptions (see the module docstring)."""

    def __init__(
        self,
        record: Record,
        *,
        max_per_seat: int = 16,
        max_per_user_per_seat: int = 2,
        max_per_user: int = 32,
        connect_timeout: float = 10.0,
    ) -> None:
        self._record = record
        self.max_per_seat = max_per_seat
        self.max_per_user_per_seat = max_per_user_per_seat
        self.max_per_user = max_per_user
        self.connect_timeout = connect_timeout
        self._viewers: dict[int, _Viewer] = {}
        self._ids = first_viewer_id()
        self._background = Background()

    def count(self, seat_key: str) -> int:
        return sum(1 for v in self._viewers.values() if v.seat_key == seat_key)

    def holds(self, viewer_id: int) -> bool:
        return viewer_id in self._viewers

    async def open(
        self, session: JanusSession, room: Room, seat_key: str, username: str, feed: int
    ) -> Subscription:
        """Subscribe to ``feed`` (``seat_key``'s, in ``room``) for ``username``, within the
        caps: Janus's offer, the viewer id and its one-time token."""
        refusal = viewer_refusal(
            ((v.seat_key, v.username) for v in self._viewers.values()),
            seat_key,
            username,
            viewers_of_seat=self.count(seat_key),
            per_seat=self.max_per_seat,
            per_user_per_seat=self.max_per_user_per_seat,
            per_user=self.max_per_user,
        )
        if refusal is not None:
            raise refusal
        token = secrets.token_urlsafe(24)
        try:
            handle = await session.attach()
        except JanusError as exc:
            raise MediaRefused(*UNAVAILABLE) from exc
        viewer = _Viewer(next(self._ids), seat_key, username, handle, room, token_digest(token))
        self._viewers[viewer.id] = viewer  # held to the caps from now on
        handle.on_event = lambda event: self._on_event(viewer, event)
        try:
            offer = await videoroom.subscribe(handle, room, feed)
        except JanusError as exc:
            await self._close(viewer)
            if isinstance(exc, JanusRefused) and exc.code == videoroom.NO_SUCH_FEED:
                raise MediaRefused(*NOT_PUBLISHING) from exc
            raise MediaRefused(*UNAVAILABLE) from exc
        except BaseException:
            await asyncio.shield(self._close(viewer))
            raise
        self._spawn(self._withdraw_unless_connected(viewer))
        self._spawn(
            self._record("live.viewer_opened", seat_key, username, {"viewer_id": viewer.id}),
            write=True,
        )
        return Subscription(viewer.id, token, offer)

    async def answer(self, viewer_id: int, username: str, token: str, sdp: str) -> None:
        """Start the subscription with the browser's answer; spends the token."""
        viewer = self.held(viewer_id, username)
        if viewer.answered or not hmac.compare_digest(viewer.token_hash, token_digest(token)):
            raise MediaRefused("viewer-token-spent", _TOKEN_SPENT, 409)
        viewer.answered = True  # spent before Janus is asked: a concurrent second use fails
        try:
            await videoroom.start(viewer.handle, viewer.room, sdp)
        except JanusError as exc:
            await self._close(viewer)
            raise MediaRefused(
                "viewer-answer-invalid",
                "观看请求的 SDP 无效，或浏览器不支持该工位视频的编码，无法建立观看连接",
            ) from exc

    def held(self, viewer_id: int, username: str) -> _Viewer:
        """``username``'s viewer ``viewer_id`` (NotFound, or Forbidden for another's)."""
        viewer = self._viewers.get(viewer_id)
        if viewer is None:
            raise NotFound("viewer-not-found", f"观看连接 #{viewer_id} 不存在或已关闭")
        if viewer.username != username:
            raise Forbidden("not-your-viewer", f"观看连接 #{viewer_id} 不是当前用户打开的")
        return viewer

    async def close_viewer(self, viewer_id: int, username: str) -> None:
        await self._close(self.held(viewer_id, username))

    async def close_room(self, room_id: int, *, reason: str) -> None:
        """Close every viewer of ``room_id`` (its session ended)."""
        for viewer in [v for v in self._viewers.values() if v.room.id == room_id]:
            await self._close(viewer, reason=reason)

    async def close(self) -> None:
        """Stop the timers (the viewers end with the Janus sessions their handles are on)."""
        await self._background.close()

    def _on_event(self, viewer: _Viewer, event: Event) -> None:
        kind = event.get("janus")
        if kind == "webrtcup":
            viewer.connected = True
        elif kind in ("hangup", "detached") and viewer.id in self._viewers:
            self._spawn(self._close(viewer))

    async def _withdraw_unless_connected(self, viewer: _Viewer) -> None:
        await asyncio.sleep(self.connect_timeout)
        if viewer.id in self._viewers and not viewer.connected:
            await self._close(viewer, reason="not-connected")

    async def _close(self, viewer: _Viewer, *, reason: str | None = None) -> None:
        if self._viewers.pop(viewer.id, None) is None:
            return
        payload: dict[str, Any] = {"viewer_id": viewer.id}
        if reason is not None:
            payload["reason"] = reason
        self._spawn(
            self._record("live.viewer_closed", viewer.seat_key, viewer.username, payload),
            write=True,
        )
        await detach_quietly(viewer.handle)

    def _spawn(self, coro: Awaitable[Any], *, write: bool = False) -> None:
        self._background.spawn(coro, write=write)
