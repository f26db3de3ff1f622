"""The upgrade guard of the aiortc internals: fails loudly on any other aiortc release."""

from __future__ import annotations

import aiortc
import pytest
from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from media import _aiortc_internals as internals
from media.errors import UnsupportedAiortcVersion


def test_the_installed_aiortc_is_the_one_the_internals_were_written_for() -> None:
    assert aiortc.__version__ in internals.SUPPORTED_AIORTC_VERSIONS, (
        f"aiortc {aiortc.__version__} is installed: re-read the internals that "
        "media/_aiortc_internals.py touches before adding it to SUPPORTED_AIORTC_VERSIONS"
    )
    internals.check_aiortc_version()


def test_another_aiortc_release_is_refused() -> None:
    with pytest.raises(UnsupportedAiortcVersion) as caught:
        internals.check_aiortc_version("1.17.0")
    assert str(caught.value) == (
        "aiortc 1.17.0 is installed but media/_aiortc_internals.py was written for "
        "aiortc 1.16.0; re-read the receiver and sender internals it touches, adapt it, "
        "and add the new version to SUPPORTED_AIORTC_VERSIONS"
    )
    assert caught.value.found == "1.17.0"


async def test_the_private_attributes_touched_still_exist() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        receiver, sender = transceiver.receiver, transceiver.sender
        private = vars(receiver)
        assert hasattr(private["_RTCRtpReceiver__decoder_queue"], "put")
        assert private["_RTCRtpReceiver__started"] is False
        assert callable(receiver._send_rtcp_pli)
        assert callable(sender._send_keyframe)
        assert isinstance(getattr(transceiver, "_codecs", None), list)
        # The tap and the hook install on a fresh receiver and sender.
        internals.tap_receiver(receiver, lambda mime, data, timestamp: None)
        calls: list[int] = []
        internals.on_keyframe_request(sender, lambda: calls.append(1))
        sender._send_keyframe()
        assert calls == [1]
        assert internals.negotiated_codec(transceiver) is None
    finally:
        await pc.close()


def test_a_changed_receiver_is_refused() -> None:
    class NotAReceiver:
        pass

    with pytest.raises(UnsupportedAiortcVersion):
        internals.tap_receiver(NotAReceiver(), lambda mime, data, timestamp: None)  # type: ignore[arg-type]


def _packet(seq: int, timestamp: int, data: bytes, *, marker: bool = False) -> RtpPacket:
    packet = RtpPacket(
        payload_type=96, marker=int(marker), sequence_number=seq, timestamp=timestamp
    )
    packet._data = data  # type: ignore[attr-defined]  # what the receiver attaches
    return packet


def test_a_video_frame_is_handed_on_at_its_marker_packet() -> None:
    ours = internals.MarkerJitterBuffer(capacity=512, is_video=True)
    theirs = JitterBuffer(capacity=512, is_video=True)
    frame_one = [
        _packet(10, 3000, b"a"),
        _packet(11, 3000, b"b"),
        _packet(12, 3000, b"c", marker=True),
    ]
    for buffer in (ours, theirs):
        assert [buffer.add(p)[1] for p in frame_one[:2]] == [None, None]
    # The marker completes the frame here at once; aiortc's buffer waits for the next frame.
    done = ours.add(frame_one[2])[1]
    assert done is not None and (done.data, done.timestamp) == (b"abc", 3000)
    assert theirs.add(frame_one[2])[1] is None
    late = theirs.add(_packet(13, 9000, b"d"))[1]
    assert late is not None and (late.data, late.timestamp) == (b"abc", 3000)

    # A frame with a packet missing is not handed on at its marker...
    assert ours.add(_packet(13, 9000, b"d"))[1] is None
    assert ours.add(_packet(15, 9000, b"f", marker=True))[1] is None
    # ...until the retransmission fills the gap.
    filled = ours.add(_packet(14, 9000, b"e"))[1]
    assert filled is not None and (filled.data, filled.timestamp) == (b"def", 9000)

    # Without a marker (a sender that never sets it) aiortc's own rule still applies.
    assert ours.add(_packet(16, 15000, b"g"))[1] is None
    fallback = ours.add(_packet(17, 21000, b"h"))[1]
    assert fallback is not None and (fallback.data, fallback.timestamp) == (b"g", 15000)


async def test_the_video_receiver_gets_the_marker_buffer_and_audio_keeps_its_own() -> None:
    pc = RTCPeerConnection()
    try:
        video = pc.addTransceiver("video", direction="recvonly").receiver
        audio = pc.addTransceiver("audio", direction="recvonly").receiver
        internals.tap_receiver(video, lambda mime, data, timestamp: None)
        internals.tap_receiver(audio, lambda mime, data, timestamp: None)
        replaced = vars(video)["_RTCRtpReceiver__jitter_buffer"]
        assert isinstance(replaced, internals.MarkerJitterBuffer)
        assert replaced.capacity == 512
        assert type(vars(audio)["_RTCRtpReceiver__jitter_buffer"]) is JitterBuffer
    finally:
        await pc.close()
