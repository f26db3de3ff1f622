"""Live pictures across sessions (issue 12, item 1, high): a seat's picture is whoever sits there
now, so a session's supervisors watch a seat only while the session is on (from the opening of
check-in until it ends, by its state) and only if the session holds it for certain (a confirmed
or checked-in booking, never a mere request). Before issue 12 a supervisor watched any seat
of any live booking of the session, requested or not, whatever the session's state — and so
the expert of another session sitting there."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from evaluation_hub.api.keys import CLOCK
from evaluation_hub.evaluation.package import start_evaluation_in
from evaluation_hub.principal import Principal
from evaluation_hub.sessions import records, seat_requests, store
from tests.conftest import FakeClock
from tests.hub.helpers import problem
from tests.live.conftest import Rig, Viewer, eventually
from tests.security.story import bearer
from tests.support.services import services_for

Client = TestClient[Any, Any]
OFFER = {"type": "offer", "sdp": "v=0\r\n"}


async def _labels(client: Client, ids: dict[str, Any], user: str, now: Any) -> list[str]:
    resp = await client.get(
        f"/api/sessions/{ids['session']}/live/seats", headers=bearer(ids, user, now)
    )
    assert resp.status == 200, await resp.text()
    return [s["label"] for s in (await resp.json())["seats"]]


async def _act(client: Client, ids: dict[str, Any], action: str, now: Any, **extra: str) -> None:
    resp = await client.post(
        f"/api/sessions/{ids['session']}/actions",
        json={"action": action, **extra},
        headers=bearer(ids, "km_operator", now),
    )
    assert resp.status == 200, await resp.text()


async def _viewer(client: Client, ids: dict[str, Any], user: str, seat: str, now: Any) -> Any:
    return await client.post(
        f"/api/sessions/{ids['session']}/live/seats/{ids['seats'][seat]}/viewers",
        json=OFFER,
        headers=bearer(ids, user, now),
    )


async def test_a_seat_merely_requested_is_not_the_sessions_to_watch(
    client: Client, seated: dict[str, Any], clock: FakeClock
) -> None:
    """大理 has not confirmed: DL-01/DL-02 (experts E03/E04 placed there) are nobody's to watch
    for this session, though the request holds them."""
    now = clock()
    for action in ("confirm_seats", "open_check_in"):
        await _act(client, seated, action, now)
    assert await _labels(client, seated, "km_supervisor", now) == ["QJ-01", "QJ-02"]
    resp = await _viewer(client, seated, "km_supervisor", "DL-01", now)
    assert (await problem(resp, 404))["detail"] == (
        f"评标会 #{seated['session']} 中没有您可观看的工位 #{seated['seats']['DL-01']}"
    )
    # Nothing of the session is watchable at 大理, so its supervisor is not one of the session's.
    resp = await client.get(
        f"/api/sessions/{seated['session']}/live/seats",
        headers=bearer(seated, "dl_supervisor", now),
    )
    assert (await problem(resp, 403))["detail"] == (
        f"只有评标会 #{seated['session']} 主场或客场的监督人员可以观看工位音视频，"
        "当前用户 dl_supervisor（监督人员）无此权限"
    )


async def test_seats_are_watched_only_while_the_session_is_on(
    client: Client, seated: dict[str, Any], clock: FakeClock
) -> None:
    """From the opening of check-in until the session ends, by the session's state."""
    now = clock()
    # Before check-in opens, even a confirmed seat shows whoever else sits there now.
    assert await _labels(client, seated, "km_supervisor", now) == []
    resp = await _viewer(client, seated, "km_supervisor", "QJ-01", now)
    await problem(resp, 404)
    await _act(client, seated, "confirm_seats", now)
    assert await _labels(client, seated, "km_supervisor", now) == []
    await _act(client, seated, "open_check_in", now)
    assert await _labels(client, seated, "km_supervisor", now) == ["QJ-01", "QJ-02"]
    assert await _labels(client, seated, "qj_supervisor", now) == ["QJ-01", "QJ-02"]
    await _act(client, seated, "pause", now, reason="网络中断")
    assert await _labels(client, seated, "km_supervisor", now) == ["QJ-01", "QJ-02"]
    await _act(client, seated, "resume", now)
    await _act(client, seated, "cancel", now, reason="招标人决定不再继续")
    assert await _labels(client, seated, "km_supervisor", now) == []
    resp = await _viewer(client, seated, "km_supervisor", "QJ-01", now)
    await problem(resp, 404)
    # The away supervisor is still the session's (its seats were held at 曲靖): an empty wall
    # that says why, not a refusal as if they were nobody's.
    assert await _labels(client, seated, "qj_supervisor", now) == []
    resp = await client.get(
        f"/api/sessions/{seated['session']}/live/seats",
        headers=bearer(seated, "qj_supervisor", now),
    )
    body = await resp.json()
    assert (body["on"], body["state"], body["state_name"], body["scope"]) == (
        False,
        "cancelled",
        "已取消",
        "venue",
    )


async def test_a_supervisor_cannot_watch_another_sessions_expert_through_a_requested_seat(
    rig: Rig, viewers: Callable[[], Viewer]
) -> None:
    """The finding as it was made: 红河's HH-01 publishes (whoever sits there now, for whatever
    session); a session hosted at 曲靖, in check-in, merely *requested* HH-01 for another day.
    Its host supervisor neither sees HH-01 on the wall nor opens a viewer on it (before issue
    12: listed, 201, and the picture of the expert scoring a different session there)."""
    now = rig.app[CLOCK]()
    hub = services_for(rig.db)
    root = Principal("sysadmin", "system_admin", None)
    other = await records.create_session(
        hub,
        root,
        records.SessionDraft(
            project_code="YN-2026-QJ-0007",
            project_name="曲靖某项目",
            section="第 1 标段",
            host_venue_id=rig.ids["venues"]["QJ"],
            starts_at=now + timedelta(days=3),
            ends_at=now + timedelta(days=3, hours=8),
            committee_size=5,
        ),
        now=now,
    )
    qj_operator = Principal("qj_operator", "host_operator", rig.ids["venues"]["QJ"])
    await seat_requests.request_booking(
        hub,
        qj_operator,
        session_id=other.id,
        venue_id=rig.ids["venues"]["HH"],
        seat_count=1,
        seat_ids=[rig.ids["seats"]["HH-01"]],
        now=now,
    )
    for action in ("confirm_seats", "open_check_in"):
        await store.act(
            hub, qj_operator, other.id, action, reason=None, now=now, start=start_evaluation_in
        )

    await rig.publish("HH-01", "HH")
    await eventually(lambda: rig.live.status("HH.HH-01").state == "live", "HH-01 is live")
    headers = await rig.login("qj_supervisor")
    url = f"{rig.base}/api/sessions/{other.id}/live/seats"
    async with rig.http.get(url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["seats"] == []
    hh01 = rig.ids["seats"]["HH-01"]
    async with rig.http.post(
        f"{url}/{hh01}/viewers", json=await viewers().offer(), headers=headers
    ) as resp:
        assert resp.status == 404, await resp.text()
        assert (await resp.json())["detail"] == f"评标会 #{other.id} 中没有您可观看的工位 #{hh01}"
    assert rig.live.status("HH.HH-01").viewers == 0
