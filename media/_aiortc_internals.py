"""Everything in ``media`` that touches aiortc's private internals, and nothing else.

Encoded forwarding needs three things aiortc does not offer publicly:

1. *Encoded frames out of a receiver.* ``RTCRtpReceiver`` reassembles each frame in its
   jitter buffer and puts ``(codec, JitterFrame)`` on a private ``queue.Queue`` that its
   decoder thread drains. :func:`tap_receiver` swaps that queue, before the receiver starts,
   for one that hands the encoded frame to a callback on the event loop and never decodes.
   The decoder thread still starts but idles on an empty queue until the receiver stops.
2. *Keyframe requests towards the publisher.* ``RTCRtpReceiver._send_rtcp_pli`` sends a PLI
   (RFC 4585 §6.3.1) for one media SSRC; :func:`send_picture_loss` calls it for the SSRCs the
   public ``getSynchronizationSources`` reports.
3. *Keyframe requests from viewers.* ``RTCRtpSender._handle_rtcp_packet`` answers PLI/FIR by
   calling ``self._send_keyframe()``, which only flags its own encoder; a sender fed with
   encoded packets has none. :func:`on_keyframe_request` replaces that method on one sender
   instance so the request reaches the forwarder instead.

4. *Frames completed on the marker bit.* aiortc's video ``JitterBuffer`` hands a frame on only
   when the first packet of the *next* frame arrives (a different RTP timestamp), which holds
   every frame back by one frame interval (67 ms at 15 fps). The RTP marker bit flags a video
   frame's last packet (RFC 3550 §5.1, RFC 7741 §4.1 for VP8, RFC 6184 §5.1 for H.264), so
   :func:`tap_receiver` also replaces the receiver's video jitter buffer
   (``_RTCRtpReceiver__jitter_buffer``) with :class:`MarkerJitterBuffer`, which hands a frame
   on as soon as an unbroken run of its packets ends on the marker; everything else (a gap, a
   missing marker) falls back to aiortc's own rule.

And one piece of negotiated state: the codec of a transceiver (``RTCRtpTransceiver._codecs``),
read by :func:`negotiated_codec` so viewers can be offered the publisher's codec.

The public side relied upon (documented aiortc behaviour, not internals): a sender whose
track yields ``av.Packet`` instead of frames packetises them with ``Encoder.pack`` and does
not encode (``RTCRtpSender._next_encoded_frame``).

Importing this module fails with :class:`~media.errors.UnsupportedAiortcVersion` on any
aiortc release not in :data:`SUPPORTED_AIORTC_VERSIONS`: re-read the code named above before
adding one. Nothing outside ``media.forwarding`` may import this module.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import aiortc
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame

from media.errors import ReceiverAlreadyStarted, UnsupportedAiortcVersion

__all__ = [
    "SUPPORTED_AIORTC_VERSIONS",
    "EncodedFrameSink",
    "MarkerJitterBuffer",
    "NegotiatedCodec",
    "check_aiortc_version",
    "negotiated_codec",
    "on_keyframe_request",
    "send_picture_loss",
    "tap_receiver",
]

SUPPORTED_AIORTC_VERSIONS: Final = frozenset({"1.16.0"})

# Name-mangled private attributes of RTCRtpReceiver this module reads or replaces.
_DECODER_QUEUE: Final = "_RTCRtpReceiver__decoder_queue"
_STARTED: Final = "_RTCRtpReceiver__started"
_JITTER_BUFFER: Final = "_RTCRtpReceiver__jitter_buffer"
_KIND: Final = "_RTCRtpReceiver__kind"


def check_aiortc_version(version: str | None = None) -> None:
    """Raise unless ``version`` (default: the installed aiortc) is a supported release."""
    found = aiortc.__version__ if version is None else version
    if found not in SUPPORTED_AIORTC_VERSIONS:
        raise UnsupportedAiortcVersion(found, SUPPORTED_AIORTC_VERSIONS)


check_aiortc_version()


@dataclass(frozen=True, slots=True)
class NegotiatedCodec:
    """The codec a transceiver negotiated: what a receiver gets and a sender must produce."""

    mime_type: str
    clock_rate: int


EncodedFrameSink = Callable[[str, bytes, int], None]
"""Called on the event loop with (mime type, encoded frame, RTP timestamp from 0)."""


class _EncodedFrameTap:
    """Stands in for the receiver's decoder queue: forwards frames, passes only the stop mark."""

    def __init__(self, sink: EncodedFrameSink) -> None:
        self._sink = sink
        # The idle decoder thread blocks here; only the receiver's stop mark (None) arrives.
        self._to_decoder: queue.Queue[None] = queue.Queue()

    def put(self, item: tuple[Any, Any] | None) -> None:
        if item is None:
            self._to_decoder.put(None)
            return
        codec, frame = item
        self._sink(str(codec.mimeType), bytes(frame.data), int(frame.timestamp))

    def get(self, block: bool = True, timeout: float | None = None) -> None:
        return self._to_decoder.get(block, timeout)


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, handing a frame on at its marker packet.

    ``_remove_frame`` is the method ``JitterBuffer.add`` calls after storing each packet
    (aiortc 1.16). Packets carry ``_data``, the depayloaded bytes the receiver attached."""

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        origin: int | None = self._origin
        if origin is not None:
            run: list[Any] = []
            for count in range(self._capacity):
                packet = self._packets[(origin + count) % self._capacity]
                if packet is None or (run and packet.timestamp != run[0].timestamp):
                    break  # a gap, or the next frame began: aiortc's own rule decides
                run.append(packet)
                if packet.marker:
                    self.remove(count + 1)
                    data = b"".join(p._data for p in run)
                    return JitterFrame(data=data, timestamp=run[0].timestamp)
        frame: JitterFrame | None = super()._remove_frame(sequence_number)
        return frame


def tap_receiver(receiver: RTCRtpReceiver, sink: EncodedFrameSink) -> None:
    """Make ``receiver`` hand its reassembled encoded frames to ``sink`` and never decode; a
    video receiver hands each frame on at its marker packet."""
    for name in (_DECODER_QUEUE, _STARTED, _JITTER_BUFFER, _KIND):
        if not hasattr(receiver, name):
            raise UnsupportedAiortcVersion(aiortc.__version__, SUPPORTED_AIORTC_VERSIONS)
    if getattr(receiver, _STARTED):
        raise ReceiverAlreadyStarted
    setattr(receiver, _DECODER_QUEUE, _EncodedFrameTap(sink))
    if getattr(receiver, _KIND) == "video":
        current = getattr(receiver, _JITTER_BUFFER)
        if not isinstance(current, JitterBuffer):
            raise UnsupportedAiortcVersion(aiortc.__version__, SUPPORTED_AIORTC_VERSIONS)
        setattr(receiver, _JITTER_BUFFER, MarkerJitterBuffer(current.capacity, is_video=True))


async def send_picture_loss(receiver: RTCRtpReceiver) -> int:
    """Ask the publisher behind ``receiver`` for a keyframe; return how many PLIs were sent."""
    ssrcs = {source.source for source in receiver.getSynchronizationSources()}
    for ssrc in sorted(ssrcs):
        await receiver._send_rtcp_pli(ssrc)
    return len(ssrcs)


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the remote end of ``sender`` sends PLI or FIR."""
    if not callable(getattr(sender, "_send_keyframe", None)):
        raise UnsupportedAiortcVersion(aiortc.__version__, SUPPORTED_AIORTC_VERSIONS)
    # An instance attribute shadows the method for this one sender only.
    sender._send_keyframe = callback  # type: ignore[method-assign]


def negotiated_codec(transceiver: RTCRtpTransceiver) -> NegotiatedCodec | None:
    """The transceiver's negotiated media codec, or None before negotiation."""
    codecs = getattr(transceiver, "_codecs", None)
    if codecs is None:
        raise UnsupportedAiortcVersion(aiortc.__version__, SUPPORTED_AIORTC_VERSIONS)
    for codec in codecs:
        if codec.name.lower() != "rtx":
            return NegotiatedCodec(mime_type=str(codec.mimeType), clock_rate=int(codec.clockRate))
    return None
