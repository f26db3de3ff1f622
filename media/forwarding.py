"""Encoded forwarding: one publisher's media to any number of viewers, with no per-viewer encode.

The hub receives a seat's camera and microphone over one aiortc peer connection and must
deliver them to many supervisors' viewers (and to the recorder). aiortc would decode the
received stream and encode it again once per viewer; here the receiver's reassembled
*encoded* frames are taken before decoding and handed, as ``av.Packet``, to every viewer's
sender, which then only packetises them. One more viewer costs a packetisation.

- A viewer starts at a keyframe; its arrival (first pull by its sender) asks the publisher
  for one. Viewers' own PLI/FIR are relayed to the publisher. All requests pass one
  :class:`~media.fanout.KeyframeRequestGate` per stream (default: one per 500 ms).
- Each viewer has a bounded :class:`~media.fanout.ViewerBuffer`: a slow viewer drops frames
  until the next keyframe; it never grows memory or holds up the others.
- Audio (Opus) is forwarded the same way; every audio frame is a starting point.
- The conduct monitor gets keyframes through :meth:`TrackForwarder.add_keyframe_listener`
  and decodes them itself, at its own low rate, off the event loop.

Viewers must negotiate the publisher's codec: the hub makes the offer to viewers
(:func:`add_viewer` sets the codec preference). This module must never decode or encode
media, and must never touch aiortc internals except through ``media._aiortc_internals``.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import av
from aiortc import (
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc import sdp as aiortc_sdp
from aiortc.mediastreams import MediaStreamError

from media import _aiortc_internals as internals
from media.errors import PublisherNotReady
from media.fanout import KeyframeRequestGate, Offer, ViewerBuffer, is_keyframe

__all__ = [
    "DEFAULT_AUDIO_CAPACITY",
    "DEFAULT_VIDEO_CAPACITY",
    "EncodedFrame",
    "ForwardedTrack",
    "ForwarderCounters",
    "PublisherForwarder",
    "TrackForwarder",
    "accept_publisher",
    "add_viewer",
    "offered_kinds",
]

logger = logging.getLogger(__name__)

# About one second of video at 15 fps, half a second of 20 ms audio: enough to ride out a
# scheduling hiccup, small enough that a backlog never becomes noticeable delay.
DEFAULT_VIDEO_CAPACITY = 16
DEFAULT_AUDIO_CAPACITY = 25


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One received encoded frame, as handed to keyframe listeners."""

    mime_type: str
    data: bytes
    timestamp: int  # RTP clock units, counted from the stream's first frame
    keyframe: bool
    received_at: float  # the forwarder's clock


@dataclass(frozen=True, slots=True)
class ForwarderCounters:
    """A snapshot of one stream's forwarding counters."""

    frames_received: int
    keyframes_received: int
    bytes_received: int
    codec_mismatches: int
    keyframe_requests_from_viewers: int
    keyframe_requests_sent: int
    keyframe_requests_suppressed: int
    viewers: int
    last_frame_at: float | None


class ForwardedTrack(MediaStreamTrack):
    """A viewer's track: yields the publisher's encoded frames as ``av.Packet``."""

    def __init__(self, forwarder: TrackForwarder, capacity: int) -> None:
        super().__init__()
        self.kind = forwarder.kind
        self.buffer: ViewerBuffer[av.Packet[Any]] = ViewerBuffer(capacity)
        self.started = False
        self.delivered = 0
        self._forwarder: TrackForwarder | None = forwarder
        self._ready = asyncio.Event()

    async def recv(self) -> av.Packet[Any]:
        if not self.started and self._forwarder is not None:
            # The sender pulls for the first time: the viewer is connected, so a keyframe
            # asked for now will not go stale in the buffer before it is sent.
            self.started = True
            self._forwarder._viewer_started(self)
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            packet = self.buffer.pop()
            if packet is not None:
                self.delivered += 1
                return packet
            self._ready.clear()
            await self._ready.wait()

    def stop(self) -> None:
        super().stop()
        self._ready.set()
        if self._forwarder is not None:
            self._forwarder._remove(self)
            self._forwarder = None

    def _offer(self, packet: av.Packet[Any], keyframe: bool) -> Offer:
        outcome = self.buffer.offer(packet, keyframe)
        if outcome is Offer.QUEUED:
            self._ready.set()
        return outcome


class TrackForwarder:
    """Forwards one received track (video or audio) of one publisher to its viewers."""

    def __init__(
        self,
        kind: str,
        *,
        viewer_capacity: int | None = None,
        keyframe_interval: float = 0.5,
        keyframe_retry: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if kind not in ("audio", "video"):
            raise ValueError(f"kind must be 'audio' or 'video', not {kind!r}")
        self.kind = kind
        self.codec: internals.NegotiatedCodec | None = None
        self._capacity = viewer_capacity or (
            DEFAULT_VIDEO_CAPACITY if kind == "video" else DEFAULT_AUDIO_CAPACITY
        )
        self._gate = KeyframeRequestGate(keyframe_interval)
        self._retry = keyframe_retry
        self.clock = clock
        self._receiver: RTCRtpReceiver | None = None
        self._viewers: set[ForwardedTrack] = set()
        self._listeners: list[Callable[[EncodedFrame], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._time_base = fractions.Fraction(1, 90_000)
        self._frames = 0
        self._keyframes = 0
        self._bytes = 0
        self._mismatches = 0
        self._viewer_requests = 0
        self._last_frame_at: float | None = None

    # --- publisher side ----------------------------------------------------------------------

    def attach(self, transceiver: RTCRtpTransceiver) -> None:
        """Take the encoded frames of ``transceiver``'s receiver (call from the track event)."""
        codec = internals.negotiated_codec(transceiver)
        if codec is None:
            raise PublisherNotReady(self.kind)
        internals.tap_receiver(transceiver.receiver, self._on_encoded)
        self.codec = codec
        self._time_base = fractions.Fraction(1, codec.clock_rate)
        self._receiver = transceiver.receiver

    def _on_encoded(self, mime_type: str, data: bytes, timestamp: int) -> None:
        if self.codec is None or mime_type.lower() != self.codec.mime_type.lower():
            self._mismatches += 1
            return
        keyframe = is_keyframe(mime_type, data)
        now = self.clock()
        self._frames += 1
        self._bytes += len(data)
        self._last_frame_at = now
        if keyframe and self.kind == "video":
            self._keyframes += 1
            self._gate.keyframe_seen()
        # One packet shared by every viewer: senders only read it.
        packet = av.Packet(data)
        packet.pts = timestamp
        packet.time_base = self._time_base
        overflowed = False
        for viewer in self._viewers:
            if viewer.started and viewer._offer(packet, keyframe) is Offer.OVERFLOWED:
                overflowed = True
        if overflowed:
            self.request_keyframe()
        if keyframe and self._listeners:
            frame = EncodedFrame(mime_type, data, timestamp, keyframe, now)
            for listener in list(self._listeners):
                listener(frame)

    # --- viewer side -------------------------------------------------------------------------

    def subscribe(self, capacity: int | None = None) -> ForwardedTrack:
        """A new viewer track; give it to a sender (see :func:`add_viewer`)."""
        track = ForwardedTrack(self, capacity or self._capacity)
        self._viewers.add(track)
        return track

    def connect_sender(self, sender: RTCRtpSender) -> None:
        """Relay PLI/FIR that ``sender``'s remote end sends to the publisher."""
        internals.on_keyframe_request(sender, self._viewer_lost_picture)

    def add_keyframe_listener(self, listener: Callable[[EncodedFrame], None]) -> Callable[[], None]:
        """Call ``listener`` on the event loop with every keyframe; returns the remover."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, within the request pacing."""
        if self.kind != "video" or self._receiver is None:
            return
        if self._gate.ask(self.clock()):
            self._spawn(internals.send_picture_loss(self._receiver))
            self._schedule(self._retry)
        else:
            due = self._gate.due_at()
            if due is not None:
                self._schedule(max(0.0, due - self.clock()))

    @property
    def counters(self) -> ForwarderCounters:
        return ForwarderCounters(
            frames_received=self._frames,
            keyframes_received=self._keyframes,
            bytes_received=self._bytes,
            codec_mismatches=self._mismatches,
            keyframe_requests_from_viewers=self._viewer_requests,
            keyframe_requests_sent=self._gate.sent,
            keyframe_requests_suppressed=self._gate.suppressed,
            viewers=len(self._viewers),
            last_frame_at=self._last_frame_at,
        )

    @property
    def viewers(self) -> frozenset[ForwardedTrack]:
        return frozenset(self._viewers)

    async def close(self) -> None:
        """Stop every viewer track and any pending keyframe request."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for viewer in list(self._viewers):
            viewer.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _viewer_started(self, viewer: ForwardedTrack) -> None:
        if self.kind == "video":
            self.request_keyframe()

    def _viewer_lost_picture(self) -> None:
        self._viewer_requests += 1
        self.request_keyframe()

    def _remove(self, viewer: ForwardedTrack) -> None:
        self._viewers.discard(viewer)

    def _someone_waits(self) -> bool:
        return any(v.started and v.buffer.waiting_for_keyframe for v in self._viewers)

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        # Re-ask while a viewer still waits: the request or the keyframe may have been lost.
        if self._gate.pending or self._someone_waits():
            self.request_keyframe()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class PublisherForwarder:
    """The video and audio forwarders of one publishing seat."""

    def __init__(self, **options: Any) -> None:
        self.video = TrackForwarder("video", **options)
        self.audio = TrackForwarder("audio", **options)

    def by_kind(self) -> Mapping[str, TrackForwarder]:
        return {"video": self.video, "audio": self.audio}

    async def close(self) -> None:
        await asyncio.gather(self.video.close(), self.audio.close())


def accept_publisher(pc: RTCPeerConnection, forwarders: Mapping[str, TrackForwarder]) -> None:
    """Forward what ``pc`` receives; call before ``setRemoteDescription`` of the seat's offer."""

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        forwarder = forwarders.get(track.kind)
        if forwarder is None:
            logger.warning("publisher sent an unexpected %s track; ignored", track.kind)
            return
        for transceiver in pc.getTransceivers():
            if transceiver.receiver.track is track:
                forwarder.attach(transceiver)
                return


def add_viewer(
    pc: RTCPeerConnection, forwarder: TrackForwarder, capacity: int | None = None
) -> ForwardedTrack:
    """Add a send-only transceiver carrying ``forwarder``'s stream to a viewer's connection.

    The hub then creates the offer: the transceiver prefers the publisher's codec, so the
    viewer cannot pick one the forwarded packets are not in.
    """
    if forwarder.codec is None:
        raise PublisherNotReady(forwarder.kind)
    track = forwarder.subscribe(capacity)
    transceiver = pc.addTransceiver(track, direction="sendonly")
    wanted = forwarder.codec.mime_type.lower()
    capabilities = RTCRtpSender.getCapabilities(forwarder.kind).codecs
    preferred = [c for c in capabilities if c.mimeType.lower() == wanted]
    preferred += [c for c in capabilities if c.name.lower() == "rtx"]
    transceiver.setCodecPreferences(preferred)
    forwarder.connect_sender(transceiver.sender)
    return track


def offered_kinds(text: str) -> set[str]:
    """The media kinds an SDP offers, or none if it does not parse (a publisher's offer is
    checked before a peer connection is made for it)."""
    try:
        parsed = aiortc_sdp.SessionDescription.parse(text)
    except (ValueError, IndexError, KeyError, TypeError):
        return set()
    return {media.kind for media in parsed.media}
