"""The seat's camera page backs off between failed offers (``seat_agent.publisher``): the
seat agent's real relay in front of a hub that never answers (each offer times out, a 504),
Chromium's fake camera, Playwright's clock for the page's timers and ``Math.random`` fixed at
the middle of its jitter. Before, the page asked again every 3 s however long the hub had
been failing; every seat of an overloaded hub did the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from seat_agent.publisher import BrowserMediaRelay
from seat_protocol.messages import AppMessage, MediaOffer
from tests.browser.conftest import FAKE_MEDIA, launched
from tests.live.conftest import eventually


async def _next_offer(page: Any, offers: list[MediaOffer], count: int) -> None:
    """Move the page's clock on 100 ms at a time until offer ``count`` arrives: the retry's
    timer first, then ICE gathering, whose 3 s fallback is one of the page's timers too (under
    load Chromium may not finish gathering by itself first)."""
    for _ in range(40):
        await page.clock.run_for(100)
        for _ in range(15):
            if len(offers) >= count:
                return
            await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: offer {count}")


@pytest.fixture
async def camera_browser(chromium_path: str) -> AsyncIterator[Any]:
    async with launched(chromium_path, *FAKE_MEDIA) as browser:
        yield browser


async def test_failed_offers_are_retried_after_3_6_12_24_48_then_60_seconds(
    camera_browser: Any,
) -> None:
    offers: list[MediaOffer] = []

    async def to_the_hub(msg: AppMessage) -> None:  # sent; the hub never answers
        assert isinstance(msg, MediaOffer)
        offers.append(msg)

    relay = BrowserMediaRelay(to_the_hub, answer_timeout=0.05)
    relay.connected.set()
    local = TestServer(relay.app(), host="127.0.0.1")
    await local.start_server()
    try:
        page = await camera_browser.new_page()
        await page.add_init_script("Math.random = () => 0.5;")
        # The page's time stands still but for ``run_for``: a timer fires only when the test says.
        await page.clock.install(time=1_764_900_000_000)
        await page.clock.pause_at(1_764_900_001_000)
        await page.goto(f"http://127.0.0.1:{local.port}/")
        status = page.locator("#status")
        await eventually(lambda: len(offers) == 1, "the first offer")
        for made, wait_s in enumerate((3, 6, 12, 24, 48, 60, 60), start=1):
            said = f"主场枢纽未及时应答，{wait_s} 秒后重试（已失败 {made} 次）"
            await status.filter(has_text=said).wait_for()  # offer ``made`` failed: timer set
            await page.clock.run_for(wait_s * 1000 - 100)
            assert len(offers) == made, f"offer {made + 1} came before {wait_s} s"
            await _next_offer(page, offers, made + 1)
        assert len({o.offer_id for o in offers}) == len(offers) == 8
    finally:
        await local.close()
