"""Push to talk across hub processes (跨进程喊话): a speaker's turn reaches the seats whose
talk-back connection is held by other processes.

A seat's talk-back connection (``talkback.voice.VoiceHub``) lives in the process its seat link
is connected to; the speaker's request lands on any process. :class:`VoiceRelay` is what the
use cases (``talkback.voice_turns``) talk to. Opening a turn, it asks the other processes over
the bus (``bus.asking``, channel :data:`CHANNEL`) which of the addressed seats they hold
listening (``ears``); for each process that holds some, it offers a send-only audio connection
carrying the turn's decoded frames (a :class:`~media.talkback.TalkTrack`, as toward a seat) and
that process alone answers (``speak``), opening a relayed turn of its own to its seats. So "to
all seats" reaches the seats of every process, through one connection per process rather than
one per seat. Ending the turn closes these connections and collects from each process the seats
its frames reached (``hush``). A turn is ended by its speaker's request wherever it lands: the
process holding the turn is asked (``end``) when it is not this one. The turn is stored and
audited once, by the use case of the process the request landed on.

A relaying process that dies leaves its relayed turns' connections failing: they close
themselves (``VoiceHub.open_turn(relayed=True)``).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiortc import RTCPeerConnection, RTCSessionDescription

from evaluation_hub.bus.asking import BusAsker
from evaluation_hub.bus.base import Bus, Event
from evaluation_hub.errors import Conflict, Forbidden, NotFound
from evaluation_hub.talkback.voice import Turn, VoiceHub
from media.talkback import TalkTrack

__all__ = ["CHANNEL", "ClosedTurn", "OpenedTurn", "VoiceRelay"]

log = structlog.get_logger(__name__)

#: bus channel of the talk-back requests every hub process listens to
CHANNEL = "talkback-relay"


@dataclass(frozen=True)
class OpenedTurn:
    turn: Turn
    sdp: str  # the answer to the speaker's offer
    listening: tuple[str, ...]  # the seats reached, on every process


@dataclass(frozen=True)
class ClosedTurn:
    frames: int  # audio frames received from the speaker
    reached: tuple[str, ...]  # the seats that were sent some, on every process


@dataclass
class _Leg:
    """The turn's connection to another process holding some of its seats."""

    process: str
    seat_keys: tuple[str, ...]
    pc: RTCPeerConnection
    track: TalkTrack
    remote_turn: int = 0


def _no_seat_listening() -> Conflict:
    return Conflict(
        "talkback-no-seat-listening",
        "所选工位的评标终端当前没有连接喊话音频，无法喊话（可改发文字通知）",
    )


@dataclass
class VoiceRelay:
    voice: VoiceHub
    bus: Bus
    #: whether other hub processes may exist (a shared bus): only then is anything asked
    remote: bool = False
    #: how long to wait for a process to answer a relayed connection or an end
    ask_timeout: float = 5.0
    #: how long to wait for the other processes' word on the seats not listening here: every
    #: process answers (``everyone``), so this is reached only by one too slow to (its seats
    #: are then left out of the turn); a turn to all seats no longer waits it out whenever a
    #: seat is not listening anywhere
    ears_timeout: float = 2.0
    asker: BusAsker = field(init=False)
    _legs: dict[int, list[_Leg]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.asker = BusAsker(self.bus, CHANNEL, self._reply)

    async def serve(self) -> None:
        """Answer the other processes' requests until cancelled."""
        await self.asker.serve()

    async def close(self) -> None:
        for turn_id in list(self._legs):
            await self._close_legs(turn_id)

    # --- what the use cases call ------------------------------------------------------

    async def open_turn(self, username: str, seat_keys: tuple[str, ...], sdp: str) -> OpenedTurn:
        """Answer the speaker's offer; 409 when none of ``seat_keys`` listens anywhere."""
        here = {key for key in seat_keys if self.voice.listening(key)}
        elsewhere = await self._ears(username, [k for k in seat_keys if k not in here])
        legs = [leg for leg in await asyncio.gather(*elsewhere) if leg is not None]
        reached = here | {key for leg in legs for key in leg.seat_keys}
        if not reached:
            raise _no_seat_listening()
        try:
            turn, answer = await self.voice.open_turn(
                username,
                tuple(k for k in seat_keys if k in here),
                sdp,
                relays=tuple(leg.track for leg in legs),
            )
        except BaseException:
            for leg in legs:
                await asyncio.shield(self._close_leg(leg))
            raise
        if legs:
            self._legs[turn.id] = legs
        return OpenedTurn(turn, answer, tuple(k for k in seat_keys if k in reached))

    async def close_turn(self, turn_id: int) -> ClosedTurn | None:
        """Close the turn held here (and its legs): what it received and reached."""
        turn = await self.voice.close_turn(turn_id)
        if turn is None:
            return None
        reached = set(turn.reached) | await self._close_legs(turn_id)
        return ClosedTurn(turn.frames, tuple(sorted(reached)))

    async def end_turn(self, talk_id: int, username: str) -> ClosedTurn:
        """End ``username``'s turn stored as ``talk_id``, on whichever process holds it."""
        turn = self.voice.stored_turn(talk_id)
        if turn is not None:
            if turn.username != username:
                raise _not_yours(talk_id)
            closed = await self.close_turn(turn.id)
            if closed is not None:
                return closed
        elif self.remote:
            reply = await self.asker.ask_one(
                {"op": "end", "talk_id": talk_id, "username": username}, wait=self.ask_timeout
            )
            if reply is not None:
                if reply.get("forbidden"):
                    raise _not_yours(talk_id)
                return ClosedTurn(int(reply["frames"]), tuple(reply["reached"]))
        raise NotFound("talkback-turn-not-found", f"喊话 #{talk_id} 不存在或已结束")

    # --- asking -----------------------------------------------------------------------

    async def _ears(self, username: str, missing: list[str]) -> list[Any]:
        """One coroutine per other process holding some of ``missing`` listening: its leg."""
        if not missing or not self.remote:
            return []
        wanted = set(missing)
        replies = await self.asker.ask(
            {"op": "ears", "seats": missing},
            wait=self.ears_timeout,
            enough=lambda got: wanted <= {k for r in got for k in r.get("seats", [])},
            everyone=True,
        )
        by_process: dict[str, list[str]] = defaultdict(list)
        for reply in replies:
            for key in reply.get("seats", []):
                if key in wanted:
                    wanted.discard(key)  # one process per seat: the first to claim it
                    by_process[str(reply["process"])].append(key)
        return [self._leg(process, username, tuple(keys)) for process, keys in by_process.items()]

    async def _leg(self, process: str, username: str, seat_keys: tuple[str, ...]) -> _Leg | None:
        """A send-only connection to ``process`` for its seats, or None if it did not answer."""
        pc = RTCPeerConnection(self.voice.rtc_configuration)
        leg = _Leg(process, seat_keys, pc, TalkTrack())
        pc.addTrack(leg.track)
        try:
            await pc.setLocalDescription(await pc.createOffer())
            assert pc.localDescription is not None
            reply = await self.asker.ask_one(
                {
                    "op": "speak",
                    "username": username,
                    "seats": list(seat_keys),
                    "sdp": pc.localDescription.sdp,
                },
                wait=self.ask_timeout,
                to=process,
            )
            if reply is None or not reply.get("seats"):
                log.warning("talkback.relay_unanswered", process=process, seats=seat_keys)
                await self._close_leg(leg)
                return None
            leg.remote_turn, leg.seat_keys = int(reply["turn"]), tuple(reply["seats"])
            await pc.setRemoteDescription(RTCSessionDescription(str(reply["sdp"]), "answer"))
        except BaseException:
            await asyncio.shield(self._close_leg(leg))
            raise
        return leg

    async def _close_leg(self, leg: _Leg) -> None:
        leg.track.stop()
        await leg.pc.close()

    async def _close_legs(self, turn_id: int) -> set[str]:
        """Close the turn's legs; the seats each process says its frames reached."""
        legs = self._legs.pop(turn_id, [])
        # Asked before the connections close: a relayed turn closes itself with its connection.
        replies = await asyncio.gather(
            *(
                self.asker.ask_one(
                    {"op": "hush", "turn": leg.remote_turn}, wait=self.ask_timeout, to=leg.process
                )
                for leg in legs
                # A process whose connection failed is gone: nobody would answer.
                if leg.remote_turn and leg.pc.connectionState not in ("failed", "closed")
            )
        )
        for leg in legs:
            await self._close_leg(leg)
        return {str(key) for reply in replies if reply is not None for key in reply["reached"]}

    # --- answering --------------------------------------------------------------------

    async def _reply(self, event: Event) -> dict[str, Any] | None:
        op = event.get("op")
        if op == "ears":
            # Answered even when none listens here: the asker then stops waiting as soon as
            # every process has spoken (``BusAsker.ask(everyone=True)``).
            return {
                "seats": [str(k) for k in event.get("seats", []) if self.voice.listening(str(k))]
            }
        if op == "speak":
            turn, answer = await self.voice.open_turn(
                str(event["username"]),
                tuple(str(k) for k in event["seats"]),
                str(event["sdp"]),
                relayed=True,
            )
            if not turn.seat_keys:
                await self.voice.close_turn(turn.id)
                return {"seats": []}
            log.info("talkback.turn_relayed", turn=turn.id, seats=turn.seat_keys)
            return {"turn": turn.id, "sdp": answer, "seats": list(turn.seat_keys)}
        if op == "hush":
            closed = await self.voice.close_turn(int(event["turn"]))
            return {"reached": [] if closed is None else sorted(closed.reached)}
        if op == "end":
            held = self.voice.stored_turn(int(event["talk_id"]))
            if held is None:
                return None
            if held.username != event.get("username"):
                return {"forbidden": True}
            ended = await self.close_turn(held.id)
            if ended is None:
                return None
            return {"frames": ended.frames, "reached": list(ended.reached)}
        return None


def _not_yours(talk_id: int) -> Forbidden:
    return Forbidden("not-your-turn", f"喊话 #{talk_id} 不是当前用户发起的")
