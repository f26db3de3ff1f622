"""The hub's talk-back media plane (喊话音频), per hub process: every seat's receive-only
talk-back connection, and the speakers' push-to-talk turns forwarded to them.

A seat offers a receive-only audio connection after every new control link
(``talkback_offer``); :meth:`VoiceHub.seat_offer` answers it with the seat's
:class:`~media.talkback.TalkTrack`, which carries nothing until someone speaks. A separate
connection rather than a transceiver added to the seat's publishing connection: aiortc cannot
reliably renegotiate a live connection, the publishing connection is replaced on every network
drop (and absent on a seat that does not publish), and talk-back must never disturb the picture.

A turn (:meth:`VoiceHub.open_turn`) is the speaker's browser sending its microphone to the hub;
its decoded frames go to the TalkTrack of each seat addressed (access is the use case's,
``talkback.voice_turns``). Decoded and re-encoded per seat rather than forwarded packet by
packet: a turn reaches a handful of seats for seconds, and the seat's stream stays continuous
across turns and speakers (its own timestamps). A seat connected to another hub process is
reached through that process (``talkback.voice_relay``): the turn's frames also go to a
:class:`~media.talkback.TalkTrack` sent to it (``Turn.relays``), where they open a relayed turn
of their own to the seats it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError, OperationError
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from evaluation_hub.errors import InvalidInput
from media.talkback import TalkTrack

__all__ = ["Turn", "VoiceHub"]

log = structlog.get_logger(__name__)

_SDP_ERRORS = (ValueError, InvalidAccessError, InvalidStateError, OperationError, InternalError)


@dataclass
class _Ear:
    """One seat's talk-back connection and the track it hears."""

    pc: RTCPeerConnection
    track: TalkTrack


@dataclass
class Turn:
    """One push-to-talk turn: the speaker's connection and the seats it reaches."""

    id: int
    username: str
    seat_keys: tuple[str, ...]
    pc: RTCPeerConnection
    #: decoded frames received from the speaker
    frames: int = 0
    task: asyncio.Task[None] | None = None
    reached: set[str] = field(default_factory=set)
    #: the turn as stored with the session (``talkback_messages.id``), once it is
    talk_id: int | None = None
    #: tracks toward other hub processes holding some of the seats (``talkback.voice_relay``)
    relays: list[TalkTrack] = field(default_factory=list)


class VoiceHub:
    def __init__(
        self, *, rtc_configuration: RTCConfiguration | None = None, turn_ids: Any = None
    ) -> None:
        self._rtc = rtc_configuration
        self._ears: dict[str, _Ear] = {}
        self._turns: dict[int, Turn] = {}
        self._ids = turn_ids if turn_ids is not None else itertools.count(1)
        self._closing: set[asyncio.Task[Turn | None]] = set()

    @property
    def rtc_configuration(self) -> RTCConfiguration | None:
        return self._rtc

    def listening(self, seat_key: str) -> bool:
        ear = self._ears.get(seat_key)
        return ear is not None and ear.pc.connectionState not in ("failed", "closed")

    def track(self, seat_key: str) -> TalkTrack | None:
        ear = self._ears.get(seat_key)
        return None if ear is None else ear.track

    async def seat_offer(self, seat_key: str, offer_id: str, sdp: str) -> str:
        """Answer a seat's receive-only offer; replaces the seat's previous connection."""
        old = self._ears.pop(seat_key, None)
        if old is not None:
            await old.pc.close()
        pc = RTCPeerConnection(self._rtc)
        track = TalkTrack()
        # Added before the offer is applied: aiortc pairs the offer's audio m-line with it.
        pc.addTrack(track)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except _SDP_ERRORS as exc:
            await pc.close()
            raise InvalidInput(
                "talkback-offer-invalid", "工位的喊话接收请求无法处理（SDP 无效或不含可用音频编码）"
            ) from exc
        self._ears[seat_key] = _Ear(pc, track)
        log.info("talkback.seat_listening", seat_key=seat_key, offer_id=offer_id)
        description = pc.localDescription
        assert description is not None
        return description.sdp

    async def open_turn(
        self,
        username: str,
        seat_keys: tuple[str, ...],
        sdp: str,
        *,
        relays: tuple[TalkTrack, ...] = (),
        relayed: bool = False,
    ) -> tuple[Turn, str]:
        """Answer a speaker's offer (access already checked) and forward what they say to the
        seats of ``seat_keys`` listening here and to ``relays``. ``relayed``: the offer is
        another hub process's (a turn it relays), closed here when that connection is lost."""
        listening = tuple(key for key in seat_keys if self.listening(key))
        pc = RTCPeerConnection(self._rtc)
        pc.addTransceiver("audio", direction="recvonly")
        turn = Turn(next(self._ids), username, listening, pc, relays=list(relays))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and turn.task is None:
                turn.task = asyncio.ensure_future(self._forward(turn, track))

        if relayed:

            @pc.on("connectionstatechange")
            def on_state() -> None:
                # The relaying process died or went away without ending the turn.
                if pc.connectionState in ("failed", "closed") and turn.id in self._turns:
                    closing = asyncio.ensure_future(self.close_turn(turn.id))
                    self._closing.add(closing)
                    closing.add_done_callback(self._closing.discard)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except _SDP_ERRORS as exc:
            await pc.close()
            raise InvalidInput(
                "talkback-voice-offer-invalid", "喊话请求的 SDP 无效，或浏览器未提供可用的音频"
            ) from exc
        self._turns[turn.id] = turn
        description = pc.localDescription
        assert description is not None
        return turn, description.sdp

    def turn(self, turn_id: int) -> Turn | None:
        return self._turns.get(turn_id)

    def stored_turn(self, talk_id: int) -> Turn | None:
        """The open turn stored as ``talk_id``."""
        return next((t for t in self._turns.values() if t.talk_id == talk_id), None)

    async def close_turn(self, turn_id: int) -> Turn | None:
        turn = self._turns.pop(turn_id, None)
        if turn is None:
            return None
        if turn.task is not None:
            turn.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await turn.task
        await turn.pc.close()
        return turn

    async def close(self) -> None:
        for turn_id in list(self._turns):
            await self.close_turn(turn_id)
        for ear in self._ears.values():
            await ear.pc.close()
        self._ears.clear()

    async def _forward(self, turn: Turn, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, AudioFrame):
                continue
            turn.frames += 1
            for relay in turn.relays:
                relay.put(frame)
            for key in turn.seat_keys:
                ear = self._ears.get(key)
                if ear is not None:
                    ear.track.put(frame)
                    turn.reached.add(key)
