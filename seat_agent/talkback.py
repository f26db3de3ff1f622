"""Talk-back at the seat (喊话接收): the host site's or a supervisor's voice, played here.

:class:`TalkbackReceiver` keeps a receive-only audio peer connection to the hub, separate from
the publishing one (see ``docs/seat-protocol.md``, push to talk): after every new control link
(``Connected``) it closes the old connection and offers a new one (``talkback_offer``), and
takes the hub's ``talkback_answer`` with the same ``offer_id`` (older answers are ignored; a
refusal, an ``error`` naming the offer, is logged and the next link offers again). What arrives
is played to the configured audio sink (``seat-agent run --talkback-sink``: anything
``aiortc.contrib.media.MediaRecorder`` opens, such as a WAV file or ``alsa:default``); without
one it is only counted (a server without speakers, and the tests).

Each decoded frame is also measured: ``voiced`` counts those that are not silence (RMS above
:data:`VOICED_RMS`), and every stretch of audio (frames with no gap of :data:`STRETCH_GAP_S`)
is logged as it begins (``talkback.hearing``) and once it ends (``talkback.heard``: its length
and how much of it was not silence), so the seat's log says what the expert was played, turn
by turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRecorder
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from seat_protocol.events import Connected, Event, MessageReceived
from seat_protocol.messages import AppMessage, ErrorNotice, TalkbackAnswer, TalkbackOffer

__all__ = ["TalkbackReceiver"]

log = structlog.get_logger(__name__)

Send = Callable[[AppMessage], Awaitable[Any]]

#: a decoded frame whose RMS (of 32767) is above this is heard as voice, not silence: speech
#: and a test tone are far above it, an Opus decoder's output of silence far below
VOICED_RMS = 300.0
#: no frame for this long ends a stretch of talk-back (a turn's end: the hub then sends nothing)
STRETCH_GAP_S = 0.5


def voiced(frame: AudioFrame) -> bool:
    """Whether the frame carries sound rather than silence."""
    samples = frame.to_ndarray().astype(np.float64)
    return bool(samples.size) and float(np.sqrt(np.mean(samples**2))) > VOICED_RMS


def _offer_id() -> str:
    return "tb-" + secrets.token_hex(8)


def _recorder(sink: str) -> MediaRecorder:
    """``alsa:default`` plays to ALSA's default device; anything else is a file name."""
    device, colon, name = sink.partition(":")
    if colon and device in ("alsa", "pulse"):
        return MediaRecorder(name, format=device)
    return MediaRecorder(sink)


class TalkbackReceiver:
    def __init__(
        self,
        send: Send,
        *,
        sink: str | None = None,
        configuration: RTCConfiguration | None = None,
        new_offer_id: Callable[[], str] = _offer_id,
        on_frame: Callable[[bool], None] | None = None,
    ) -> None:
        """``on_frame`` is told of every decoded frame as it arrives (whether it is voiced)."""
        self._send = send
        self._sink = sink
        self._configuration = configuration
        self._new_offer_id = new_offer_id
        self._pc: RTCPeerConnection | None = None
        self._pending: str | None = None
        self._recorder: MediaRecorder | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._offering: asyncio.Task[None] | None = None
        self._on_frame = on_frame
        #: decoded audio frames received from the hub (what a speaker said, 20 ms each)
        self.frames = 0
        #: of which not silence
        self.voiced = 0
        self.answered = 0

    async def on_event(self, event: Event) -> None:
        """Feed every event of the seat link here."""
        if self._closed:
            return
        if isinstance(event, Connected):
            # Beside the link, not in its handler: sending waits for the link this event is
            # still being delivered by.
            self._offering = asyncio.ensure_future(self._offer())
        elif isinstance(event, MessageReceived):
            msg = event.message
            if isinstance(msg, TalkbackAnswer):
                await self._answered(msg)
            elif isinstance(msg, ErrorNotice) and msg.ref is not None and msg.ref == self._pending:
                log.warning("talkback.offer_refused", offer_id=msg.ref, code=msg.code)
                self._pending = None

    async def close(self) -> None:
        self._closed = True
        if self._offering is not None:
            self._offering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._offering
        async with self._lock:
            await self._drop()

    async def _drop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._recorder is not None:
            await self._recorder.stop()
            self._recorder = None
        if self._pc is not None:
            await self._pc.close()
            self._pc = None

    async def _offer(self) -> None:
        async with self._lock:
            await self._drop()
            pc = RTCPeerConnection(self._configuration)
            pc.addTransceiver("audio", direction="recvonly")

            @pc.on("track")
            def on_track(track: MediaStreamTrack) -> None:
                if track.kind == "audio" and pc is self._pc:
                    self._reader = asyncio.ensure_future(self._play(track))

            await pc.setLocalDescription(await pc.createOffer())
            description = pc.localDescription
            assert description is not None
            self._pc, self._pending = pc, self._new_offer_id()
            await self._send(TalkbackOffer(offer_id=self._pending, sdp=description.sdp))

    async def _answered(self, msg: TalkbackAnswer) -> None:
        async with self._lock:
            pc = self._pc
            if pc is None or msg.offer_id != self._pending:
                log.info("talkback.stale_answer", offer_id=msg.offer_id)
                return
            self._pending = None
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=msg.sdp, type="answer"))
            except Exception:
                log.exception("talkback.bad_answer", offer_id=msg.offer_id)
                return
            self.answered += 1

    async def _play(self, track: MediaStreamTrack) -> None:
        """Measure what arrives and hand it to the sink, logging each stretch once it ends."""
        fed: _Fed | None = None
        if self._sink is not None:
            fed = _Fed()
            self._recorder = _recorder(self._sink)
            self._recorder.addTrack(fed)
            await self._recorder.start()
        stretch = _Stretch()
        try:
            while True:
                try:
                    frame = await asyncio.wait_for(track.recv(), STRETCH_GAP_S)
                except TimeoutError:
                    stretch = stretch.logged()
                    continue
                except MediaStreamError:
                    return
                if not isinstance(frame, AudioFrame):
                    continue
                loud = voiced(frame)
                self.frames += 1
                self.voiced += loud
                stretch.add(frame, loud)
                if self._on_frame is not None:
                    self._on_frame(loud)
                if fed is not None:
                    fed.put(frame)
        finally:
            stretch.logged()


@dataclass
class _Stretch:
    """Audio received with no gap of ``STRETCH_GAP_S``: one turn, as the seat heard it."""

    frames: int = 0
    voiced: int = 0
    seconds: float = 0.0

    def add(self, frame: AudioFrame, loud: bool) -> None:
        if not self.frames:
            log.info("talkback.hearing")
        self.frames += 1
        self.voiced += loud
        self.seconds += frame.samples / (frame.sample_rate or 48_000)

    def logged(self) -> _Stretch:
        """Log the stretch if anything arrived; the next, empty one."""
        if self.frames:
            log.info(
                "talkback.heard",
                frames=self.frames,
                voiced=self.voiced,
                seconds=round(self.seconds, 2),
            )
        return _Stretch()


class _Fed(MediaStreamTrack):
    """What the receiver got, as the sink reads it (bounded: a stalled sink loses old audio)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[AudioFrame] = asyncio.Queue(50)

    def put(self, frame: AudioFrame) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(frame)

    async def recv(self) -> AudioFrame:
        return await self._queue.get()
