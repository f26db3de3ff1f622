"""Fixtures the fault tests share with the live-media and browser tests (one definition each)."""

from tests.browser.conftest import browser, chromium_path
from tests.live.conftest import loopback, rig, viewers

__all__ = ["browser", "chromium_path", "loopback", "rig", "viewers"]
