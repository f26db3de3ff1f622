"""Fixtures the fault tests share with the live-media tests (one definition each)."""

from tests.live.conftest import loopback, rig, viewers

__all__ = ["loopback", "rig", "viewers"]
