"""The upgrade guard of the aiortc internals: fails loudly on any other aiortc release."""

from __future__ import annotations

import aiortc
import pytest
from aiortc import RTCPeerConnection

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
