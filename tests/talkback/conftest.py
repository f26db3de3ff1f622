"""Talk-back tests run against the live-media rig: a real hub app with seated experts, seat
agents connected over the real seat websocket (``tests.live.conftest``)."""

from tests.live.conftest import loopback, rig

__all__ = ["loopback", "rig"]
