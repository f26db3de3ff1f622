"""The wall reopens after a hub process dies, in Debian's headless Chromium: two hub processes
behind nginx (``tests.faults.nginx_rig``), one seat publishing the test pattern; the host
supervisor's wall, loaded through the proxy, plays it (its viewer held by the process holding
the seat's media). That process is killed (SIGKILL): the seat moves to another process, the
wall's tile says its viewing connection dropped and that it is reconnecting, then plays the
seat again, on a new viewer, with the page never reloaded; the wall, having heard the seat
publish again, asks for the new viewer as soon as the old one drops (no grace period). Frames are counted as the video
element presents them (``requestVideoFrameCallback``), so "plays" means pictures on the page,
not only packets received."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import Evaluation
from tests.faults.nginx_rig import NGINX, PUBLISHER, NamedHub, holder, hubs_behind_nginx
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not NGINX.exists(), reason="Debian's nginx-light (scripts/install-system-deps.sh test)"
    ),
]

RECONNECTING = "观看连接中断，正在重新连接……"

# Counts the frames the tile's video element presents, across changes of its stream.
COUNT_FRAMES = """(seatId) => {
  const video = document.querySelector(`.tile[data-seat-id='${seatId}'] video`);
  window.presented = 0;
  window.notReloaded = true;
  const tick = () => { window.presented += 1; video.requestVideoFrameCallback(tick); };
  video.requestVideoFrameCallback(tick);
}"""
TILE = """(seatId) => {
  const tile = document.querySelector(`.tile[data-seat-id='${seatId}']`);
  const notice = tile.querySelector(".notice");
  return {
    presented: window.presented,
    notReloaded: window.notReloaded === true,
    moved: window.wall.moved,
    viewer: tile.dataset.viewerId || null,
    notice: notice.hidden ? null : notice.querySelector(".reason").textContent,
    state: tile.querySelector(".state").textContent,
  };
}"""


@pytest.fixture
async def behind_nginx(
    pg_server: PostgresServer, private_redis: RedisServer, tmp_path: Path
) -> AsyncIterator[tuple[Evaluation, list[NamedHub]]]:
    # Two processes, and of the seat agents only the publishing one: nothing else is watched.
    rig = hubs_behind_nginx(pg_server, private_redis, tmp_path, {}, count=2, agents=[PUBLISHER])
    async with rig as running:
        yield running


async def _until(page: Any, seat_id: int, ok: Any, what: str, limit: float = 40.0) -> Any:
    """Poll the tile every 100 ms until ``ok(tile)``; the limit turns a hang into a failure."""
    for _ in range(int(limit * 10)):
        tile = await page.evaluate(TILE, seat_id)
        if ok(tile):
            return tile
        await page.wait_for_timeout(100)
    raise AssertionError(f"never happened: {what} (last: {tile})")


async def test_the_wall_plays_again_after_the_process_holding_its_viewer_dies(
    browser: Any, behind_nginx: tuple[Evaluation, list[NamedHub]]
) -> None:
    run, hubs = behind_nginx
    publishing = run.seats[PUBLISHER].seat_id
    label = publishing.split(".", 1)[1]
    seat_id = int(run.ids["seats"][label])

    page = await browser.new_page()
    await page.goto(f"{run.hub.base}/wall")  # through nginx
    await page.fill("input[name=username]", "km_supervisor")
    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")
    await page.wait_for_selector(f".tile[data-seat-id='{seat_id}']")
    await page.evaluate(COUNT_FRAMES, seat_id)
    playing = await _until(page, seat_id, lambda t: t["presented"] >= 10, "the tile playing")

    # The viewer is held where the seat's media is (the relay): that process dies.
    media = holder(hubs, publishing)
    viewer = int(playing["viewer"])
    killed = time.monotonic()
    await media.kill()

    dropped = await _until(
        page, seat_id, lambda t: t["notice"] == RECONNECTING, "the tile saying it reconnects"
    )
    assert dropped["viewer"] is None
    noticed = time.monotonic() - killed
    back = await _until(
        page,
        seat_id,
        lambda t: t["viewer"] is not None and t["notice"] is None,
        "a new viewer connected",
    )
    reopened = await _until(
        page,
        seat_id,
        lambda t: t["presented"] >= back["presented"] + 15,
        "the tile's video presenting frames again",
    )
    elapsed = time.monotonic() - killed
    assert reopened["notReloaded"] and reopened["viewer"] == back["viewer"]
    assert int(back["viewer"]) != viewer
    assert reopened["state"] == "在线"
    # Reopened as soon as the viewer dropped, the seat being back elsewhere already, rather
    # than after the grace a dropped viewer gets to come back by itself.
    assert reopened["moved"] == 1
    print(
        f"\nthe wall said it reconnects {noticed:.1f} s after its viewer's process died, "
        f"played the seat again after {elapsed:.1f} s; phases: {run.phases()}"
    )
