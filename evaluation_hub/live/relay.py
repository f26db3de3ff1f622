"""Live media across hub processes (跨进程观看): the wall's requests answered by the process
that holds the seat's media, whichever process they landed on.

A seat publishes to the hub process its seat link is connected to (``live.hub.LiveHub``);
supervisors' requests are spread over every process. :class:`LiveRelay` is what the wall's use
cases (``live.watching``) talk to: it answers from this process's ``LiveHub`` when it holds
the seat's media (or the viewer), and otherwise asks the other processes over the bus:

* ``status``: the seats this process sees offline, as the process holding them sees them (the
  wall's list and its event stream's opening snapshot);
* ``watch``: the supervisor's SDP offer, answered by the process holding the seat's media (the
  browser's peer connection then goes to that process; the SDP answer carries its address);
* ``close`` and ``stats`` of a viewer: by the process holding that viewer (viewer ids are
  unique across processes, ``live.viewer_places.first_viewer_id``).

Requests go on :data:`REQUESTS` (``bus.asking.BusAsker``), each answered on the asker's own
channel (``live-relay:<process>``) by the process that has what was asked for; the others stay
silent. So a request nobody can answer ends at its timeout with today's refusal (the seat is not
publishing, the viewer does not exist). Access was decided by the asking process before it
asks; the answering process trusts its peers on the bus (the bus is the hub's own).

With the in-process bus (one hub process) nothing is asked: the relay is the local hub.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from evaluation_hub.bus.asking import BusAsker
from evaluation_hub.bus.base import Bus, Event
from evaluation_hub.errors import Forbidden, NotFound
from evaluation_hub.live.hub import LiveHub
from evaluation_hub.live.status import MediaRefused, SeatStatus
from media.conduct import AlertKind, ConductAlert
from media.stats import StreamStats

__all__ = ["REQUESTS", "LiveRelay", "status_from_json", "status_json"]

log = structlog.get_logger(__name__)

#: bus channel of the requests every hub process listens to
REQUESTS = "live-relay"

_NOT_PUBLISHING = ("seat-not-publishing", "该工位尚未推送音视频，请稍后再试")

# Which process's word on a seat counts: the one whose media is the most alive. A seat that
# moved to another process (its link dropped) leaves a ``lost`` publisher behind.
_RANK = {"live": 4, "control_lost": 3, "connecting": 2, "lost": 1, "offline": 0}
_GONE = ("offline", "lost")


def _best(a: SeatStatus, b: SeatStatus) -> SeatStatus:
    return b if _RANK.get(b.state, 0) > _RANK.get(a.state, 0) else a


def status_json(status: SeatStatus) -> dict[str, Any]:
    return {
        "state": status.state,
        "alerts": [dataclasses.asdict(a) for a in status.alerts],
        "stats": [dataclasses.asdict(s) for s in status.stats],
        "viewers": status.viewers,
        "publications": status.publications,
    }


def status_from_json(body: Mapping[str, Any]) -> SeatStatus:
    return SeatStatus(
        state=str(body["state"]),
        alerts=tuple(
            ConductAlert(**{**a, "kind": AlertKind(a["kind"])}) for a in body.get("alerts", [])
        ),
        stats=tuple(StreamStats(**s) for s in body.get("stats", [])),
        viewers=int(body.get("viewers", 0)),
        publications=int(body.get("publications", 0)),
    )


def _viewer_not_found(viewer_id: int) -> NotFound:
    return NotFound("viewer-not-found", f"观看连接 #{viewer_id} 不存在或已关闭")


def _not_yours(viewer_id: int) -> Forbidden:
    return Forbidden("not-your-viewer", f"观看连接 #{viewer_id} 不是当前用户打开的")


@dataclass
class LiveRelay:
    """This process's live media, and the other processes' over the bus (``remote``)."""

    live: LiveHub
    bus: Bus
    #: whether other hub processes may exist (a shared bus): only then is anything asked
    remote: bool = False
    #: how long to wait for the process holding a seat's media or a viewer
    ask_timeout: float = 5.0
    #: how long the wall waits for other processes' word on the seats it sees offline: every
    #: process answers (``everyone``), so this is reached only by one too slow to, not whenever
    #: a seat is offline everywhere
    status_timeout: float = 0.5
    asker: BusAsker = field(init=False)

    def __post_init__(self) -> None:
        self.asker = BusAsker(self.bus, REQUESTS, self._reply)

    @property
    def process(self) -> str:
        return self.asker.process

    async def serve(self) -> None:
        """Answer the other processes' requests and take in their replies, until cancelled."""
        await self.asker.serve()

    # --- what the wall's use cases call ------------------------------------------------

    async def statuses(self, seat_keys: list[str]) -> dict[str, SeatStatus]:
        """Each seat's live state, from whichever process holds its media."""
        found = {key: self.live.status(key) for key in seat_keys}
        missing = {key for key, status in found.items() if status.state in _GONE}
        if not missing or not self.remote:
            return found
        replies = await self.asker.ask(
            {"op": "status", "seats": sorted(missing)},
            wait=self.status_timeout,
            enough=lambda got: missing <= {k for r in got for k in r.get("statuses", {})},
            everyone=True,
        )
        for reply in replies:
            for key, body in reply.get("statuses", {}).items():
                if key in missing:
                    found[key] = _best(found[key], status_from_json(body))
        return found

    async def watch(self, seat_key: str, username: str, sdp: str) -> tuple[int, str]:
        """The viewer's id and the SDP answer of the process holding the seat's media."""
        if self.remote and self.live.status(seat_key).state in _GONE:
            # Its media is elsewhere (or nowhere): the process holding it answers.
            reply = await self.asker.ask_one(
                {"op": "watch", "seat": seat_key, "username": username, "sdp": sdp},
                wait=self.ask_timeout,
            )
            if reply is None:
                # Nobody has it live: as one process would answer (a lost seat's viewer waits
                # for its picture to come back here).
                viewer, answer = await self.live.watch(seat_key, username, sdp)
                return viewer.id, answer
        else:
            viewer, answer = await self.live.watch(seat_key, username, sdp)
            return viewer.id, answer
        if "refused" in reply:
            refused = reply["refused"]
            raise MediaRefused(refused["code"], refused["detail"], int(refused["status"]))
        return int(reply["viewer_id"]), str(reply["sdp"])

    async def close_viewer(self, viewer_id: int, username: str) -> None:
        viewer = self.live.viewer(viewer_id)
        if viewer is not None:
            if viewer.username != username:
                raise _not_yours(viewer_id)
            await self.live.stop_viewer(viewer_id)
            return
        self._check(await self._viewer_op("close", viewer_id, username), viewer_id)

    async def viewer_stats(self, viewer_id: int, username: str) -> tuple[StreamStats, ...]:
        viewer = self.live.viewer(viewer_id)
        if viewer is not None:
            if viewer.username != username:
                raise _not_yours(viewer_id)
            return await self.live.viewer_stats(viewer)
        reply = self._check(await self._viewer_op("stats", viewer_id, username), viewer_id)
        return tuple(StreamStats(**s) for s in reply.get("streams", []))

    # --- asking -------------------------------------------------------------------------

    async def _viewer_op(self, op: str, viewer_id: int, username: str) -> Event | None:
        if not self.remote:
            return None
        return await self.asker.ask_one(
            {"op": op, "viewer": viewer_id, "username": username}, wait=self.ask_timeout
        )

    @staticmethod
    def _check(reply: Event | None, viewer_id: int) -> Event:
        if reply is None:
            raise _viewer_not_found(viewer_id)
        if reply.get("forbidden"):
            raise _not_yours(viewer_id)
        return reply

    # --- answering ------------------------------------------------------------------------

    async def _reply(self, event: Event) -> dict[str, Any] | None:
        op = event.get("op")
        if op == "status":
            statuses = {
                key: status_json(status)
                for key in event.get("seats", [])
                if (status := self.live.status(str(key))).state != "offline"
            }
            # Answered even when none is here: the asker stops once every process has spoken.
            return {"statuses": statuses}
        if op == "watch":
            if self.live.status(str(event["seat"])).state in _GONE:
                return None
            try:
                viewer, answer = await self.live.watch(
                    str(event["seat"]), str(event["username"]), str(event["sdp"])
                )
            except MediaRefused as exc:
                if exc.code == _NOT_PUBLISHING[0]:
                    return None
                return {"refused": {"code": exc.code, "detail": exc.detail, "status": exc.status}}
            log.info("live.viewer_relayed", seat_key=event["seat"], viewer_id=viewer.id)
            return {"viewer_id": viewer.id, "sdp": answer}
        if op in ("close", "stats"):
            held = self.live.viewer(int(event["viewer"]))
            if held is None:
                return None
            viewer = held
            if viewer.username != event.get("username"):
                return {"forbidden": True}
            if op == "close":
                await self.live.stop_viewer(viewer.id)
                return {"closed": True}
            streams = await self.live.viewer_stats(viewer)
            return {"streams": [dataclasses.asdict(s) for s in streams]}
        return None
