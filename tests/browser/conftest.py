"""Debian's headless Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.postgres_server import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=WebRtcHideLocalIpsWithMdns",  # loopback WebRTC needs real host candidates
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed; run `make system-deps`")
    return CHROMIUM


#: Chromium's fake camera and microphone, granted without asking
FAKE_MEDIA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


@contextlib.asynccontextmanager
async def launched(chromium_path: str, *extra: str) -> AsyncIterator[Any]:
    """Headless Chromium with :data:`CHROMIUM_ARGS` and ``extra`` arguments."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=chromium_path, headless=True, args=[*CHROMIUM_ARGS, *extra]
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    async with launched(chromium_path) as under_test:
        yield under_test


@pytest.fixture
async def demo_hub(tmp_path: Path) -> AsyncIterator[str]:
    """`evaluation-hub demo` in its own process, as `make demo` runs it; its URL once ready."""
    port = free_port()
    with (tmp_path / "demo.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "evaluation_hub.cli",
            "demo",
            "--state-dir",
            str(tmp_path / "demo"),
            "--port",
            str(port),
            "--no-seats",  # the page tests enrol their own terminals (tests/e2e runs the seats)
            stdout=log,
            stderr=subprocess.STDOUT,
            # On the wall clock: the evening cut-off must not pause a page test's session.
            env={**os.environ, "EVALHUB_SESSION_TIMERS": "off"},
        )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url)
        yield url
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"{url}/api/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("demo hub did not start")
