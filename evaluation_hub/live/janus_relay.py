"""Janus subscriptions across hub processes (跨进程观看，Janus): a viewer's answer, closing and
figures are handled by the process that opened the subscription, whichever process the
browser's request lands on.

Janus holds the media; what a hub process holds is the subscription's handle on its Janus
session and the digest of its one-time token, kept in that process only, so that spending the
token is one decision in one place. :class:`JanusRelay` is what the wall's use cases
(``live.watching``) talk to with ``media_backend = janus``: it answers from this process's
:class:`~evaluation_hub.live.janus_plane.JanusPlane` when it holds the viewer, and otherwise asks
the other processes over the bus (``bus.asking``, channel :data:`REQUESTS`); the holder
answers, the others stay silent, and a viewer nobody holds is not found. Seat states and new
subscriptions need no asking: every process reaches Janus. Access was decided by the asking
process; the bus is the hub's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

from evaluation_hub.bus.asking import BusAsker
from evaluation_hub.bus.base import Bus, Event
from evaluation_hub.errors import Forbidden, NotFound, ProblemError
from evaluation_hub.live.janus_plane import JanusPlane
from evaluation_hub.live.janus_recording import JanusRecordings
from evaluation_hub.live.janus_rooms import Subscription
from evaluation_hub.live.status import MediaRefused, SeatStatus
from media.stats import StreamStats

__all__ = ["REQUESTS", "JanusRelay"]

log = structlog.get_logger(__name__)

#: bus channel of the viewer requests every hub process listens to
REQUESTS = "janus-viewers"
_KINDS: dict[str, type[ProblemError]] = {"not-found": NotFound, "forbidden": Forbidden}


@dataclass
class JanusRelay:
    """This process's Janus plane, and the other processes' viewers over the bus."""

    plane: JanusPlane
    bus: Bus
    #: whether other hub processes may exist (a shared bus): only then is anything asked
    remote: bool = False
    ask_timeout: float = 5.0
    asker: BusAsker = field(init=False)

    def __post_init__(self) -> None:
        self.asker = BusAsker(self.bus, REQUESTS, self._reply)

    @property
    def process(self) -> str:
        return self.asker.process

    @property
    def recordings(self) -> JanusRecordings | None:
        return self.plane.recordings

    async def statuses(
        self, seat_keys: list[str], *, session_id: int | None = None
    ) -> dict[str, SeatStatus]:
        return await self.plane.statuses(seat_keys, session_id=session_id)

    async def subscribe(self, session_id: int, seat_key: str, username: str) -> Subscription:
        return await self.plane.subscribe(session_id, seat_key, username)

    async def answer(self, viewer_id: int, username: str, token: str, sdp: str) -> None:
        if self._local(viewer_id):
            await self.plane.answer(viewer_id, username, token, sdp)
            return
        await self._ask(viewer_id, {"op": "answer", "username": username, "token": token,
                                    "sdp": sdp})  # fmt: skip

    async def close_viewer(self, viewer_id: int, username: str) -> None:
        if self._local(viewer_id):
            await self.plane.close_viewer(viewer_id, username)
            return
        await self._ask(viewer_id, {"op": "close", "username": username})

    async def viewer_stats(self, viewer_id: int, username: str) -> tuple[StreamStats, ...]:
        if self._local(viewer_id):
            return await self.plane.viewer_stats(viewer_id, username)
        await self._ask(viewer_id, {"op": "stats", "username": username})
        return ()

    def _local(self, viewer_id: int) -> bool:
        return not self.remote or self.plane.holds(viewer_id)

    # --- asking --------------------------------------------------------------------------------

    async def _ask(self, viewer_id: int, request: dict[str, Any]) -> Event:
        """Ask the process holding ``viewer_id``; its refusal raised here as it was there."""
        reply = await self.asker.ask_one({**request, "viewer": viewer_id}, wait=self.ask_timeout)
        if reply is None:
            raise NotFound("viewer-not-found", f"观看连接 #{viewer_id} 不存在或已关闭")
        problem = reply.get("problem")
        if problem is not None:
            kind = _KINDS.get(str(problem["kind"]))
            if kind is not None:
                raise kind(str(problem["code"]), str(problem["detail"]))
            raise MediaRefused(str(problem["code"]), str(problem["detail"]), int(problem["status"]))
        return reply

    # --- answering -------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Answer the other processes' requests and take in their replies, until cancelled."""
        await self.asker.serve()

    async def _reply(self, event: Event) -> dict[str, Any] | None:
        """This process's word on a viewer another process was asked about: nothing unless it
        holds the viewer (its refusal, if any, carried back to be raised there)."""
        viewer_id, username = int(event.get("viewer", 0)), str(event.get("username"))
        if not self.plane.holds(viewer_id):
            return None
        try:
            if event.get("op") == "answer":
                await self.plane.answer(
                    viewer_id, username, str(event.get("token")), str(event.get("sdp"))
                )
            elif event.get("op") == "close":
                await self.plane.close_viewer(viewer_id, username)
            else:
                await self.plane.viewer_stats(viewer_id, username)
        except ProblemError as exc:
            kind = next((k for k, t in _KINDS.items() if isinstance(exc, t)), "refused")
            return {
                "problem": {
                    "kind": kind,
                    "code": exc.code,
                    "detail": exc.detail,
                    "status": exc.status,
                }
            }
        return {}
