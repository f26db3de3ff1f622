"""Viewers on any hub process: two hub apps on one database and a real Redis bus, a seat
publishing to the first; the supervisor's wall and viewer requests all land on the second. The
second lists the seat live, has the first answer the viewer's offer (the viewer decodes the
seat's pictures from the first), and reads and closes that viewer there; a viewer nobody holds
is not found, another supervisor's is not theirs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from evaluation_hub.api.live import LIVE
from evaluation_hub.db.engine import Database
from tests.conftest import FakeClock
from tests.live.conftest import Rig, Viewer, eventually, two_running_rigs
from tests.live.test_publish import decoded_frames


@pytest.fixture
async def two_rigs(
    tmp_path: Path, clock: FakeClock, loopback: None, redis_url: str
) -> AsyncIterator[tuple[Rig, Rig]]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await db.upgrade()
    try:
        async with two_running_rigs(db, tmp_path, clock, redis_url) as rigs:
            yield rigs
    finally:
        await db.dispose()


async def test_a_viewer_request_on_another_process_is_answered_by_the_seats(
    two_rigs: tuple[Rig, Rig], viewers: Callable[[], Viewer]
) -> None:
    one, two = two_rigs
    await one.publish("DL-01", "DL")
    await eventually(lambda: one.live.status("DL.DL-01").state == "live", "the seat is live")
    assert two.live.status("DL.DL-01").state == "offline"  # not its media
    session = one.ids["session"]
    headers = await two.login("km_supervisor")

    # The wall on the second process shows the seat as the first sees it.
    row = await two.seat_row(session, headers, "DL-01")
    assert (row["seat_key"], row["state"]) == ("DL.DL-01", "live")
    assert row["publications"] == 1

    viewer = viewers()
    await viewer.watch(two, session, row["seat_id"], headers)
    assert viewer.viewer_id is not None
    held = one.app[LIVE].viewer(viewer.viewer_id)
    assert held is not None and (held.seat_key, held.username) == ("DL.DL-01", "km_supervisor")
    assert two.app[LIVE].viewer(viewer.viewer_id) is None
    await eventually(lambda: "video" in viewer.tracks, "the viewer gets a video track")
    stamps = await decoded_frames(viewer.tracks["video"], 5)
    assert stamps == sorted(stamps)

    # Its figures and its closing, asked of the second process, are the first's.
    stats_url = f"{two.base}/api/live/viewers/{viewer.viewer_id}/stats"
    async with two.http.get(stats_url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
    assert body["viewer_id"] == viewer.viewer_id
    other = await two.login("dl_supervisor")
    url = f"{two.base}/api/live/viewers/{viewer.viewer_id}"
    async with two.http.delete(url, headers=other) as resp:
        assert resp.status == 403, await resp.text()
        assert (await resp.json())["detail"] == f"观看连接 #{viewer.viewer_id} 不是当前用户打开的"
    async with two.http.delete(url, headers=headers) as resp:
        assert resp.status == 204, await resp.text()
    assert one.app[LIVE].viewer(viewer.viewer_id) is None
    async with two.http.delete(url, headers=headers) as resp:
        assert resp.status == 404, await resp.text()
        assert (await resp.json())["detail"] == f"观看连接 #{viewer.viewer_id} 不存在或已关闭"

    # A seat nobody publishes is refused as before, after the other processes were asked.
    dl02 = await two.seat_row(session, headers, "DL-02")
    assert dl02["state"] == "offline"
    late = viewers()
    offer_url = f"{two.base}/api/sessions/{session}/live/seats/{dl02['seat_id']}/viewers"
    async with two.http.post(offer_url, json=await late.offer(), headers=headers) as resp:
        assert resp.status == 409, await resp.text()
        assert (await resp.json())["detail"] == "该工位尚未推送音视频，请稍后再试"
