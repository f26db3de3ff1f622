"""Copy notices (抄送告知) and away-site handovers (客场资料移交): due dates on the Chinese
working-day calendar, overdue as the clock moves, acknowledgement by the away site.

Dates checked by hand against the State Council's 2026 arrangement (and the installed
chinesecalendar 1.11): National Day holiday Thu 2026-10-01 to Wed 2026-10-07; Sat 2026-10-10
is a make-up working day; Sun 2026-10-11 is a rest day. A case closed on Wed 2026-09-30 (day 0)
counts 1 = Thu 10-08, 2 = Fri 10-09, 3 = Sat 10-10 (make-up), 4 = Mon 10-12, 5 = Tue 10-13,
6 = Wed 10-14, 7 = Thu 10-15: the copy notice is due on 2026-10-15. December 2026 has no
holiday: a session ending Tue 2026-12-01 counts 12-02, 12-03, 12-04, 12-07, 12-08, so its
handovers are due on 2026-12-08.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from evaluation_hub.supervision.workdays import covered_years
from tests.conftest import FakeClock
from tests.hub.helpers import login, problem
from tests.supervision_api.test_incidents import raise_as_host

Client = TestClient[Any, Any]


async def _conclude(client: Client, incident_id: int) -> Any:
    headers = await login(client, "km_supervisor")
    return await client.post(
        f"/api/incidents/{incident_id}/conclude", json={"result": "警告"}, headers=headers
    )


async def _notices(client: Client, seated: dict[str, Any], user: str) -> list[dict[str, Any]]:
    headers = await login(client, user)
    resp = await client.get(f"/api/sessions/{seated['session']}/copy-notices", headers=headers)
    assert resp.status == 200, await resp.text()
    found: list[dict[str, Any]] = await resp.json()
    return found


async def test_copy_notice_due_seven_working_days_across_national_day(
    sup_client: Client, seated: dict[str, Any], clock: FakeClock
) -> None:
    incident = await raise_as_host(sup_client, seated, "E06")
    clock.now = datetime(2026, 9, 30, 8, 0, tzinfo=UTC)  # 16:00 Beijing, Wednesday
    assert (await _conclude(sup_client, incident["id"])).status == 200
    (notice,) = await _notices(sup_client, seated, "km_supervisor")
    assert notice["incident_id"] == incident["id"]
    assert notice["department"] == "曲靖市发展和改革委员会"
    assert notice["case_closed_on"] == "2026-09-30"
    assert notice["working_days"] == 7
    assert notice["due_on"] == "2026-10-15"
    assert notice["status"] == "pending"
    assert notice["working_days_left"] == 7

    # Still on time through the whole due date (Beijing time), overdue from the next day.
    clock.now = datetime(2026, 10, 15, 15, 59, tzinfo=UTC)  # 23:59 Beijing on 10-15
    (notice,) = await _notices(sup_client, seated, "qj_supervisor")
    assert (notice["status"], notice["status_label"], notice["overdue"]) == (
        "pending",
        "待接收",
        False,
    )
    clock.now = datetime(2026, 10, 15, 16, 0, tzinfo=UTC)  # 00:00 Beijing on 10-16
    (notice,) = await _notices(sup_client, seated, "qj_supervisor")
    assert (notice["status"], notice["status_label"], notice["overdue"]) == (
        "overdue",
        "已逾期",
        True,
    )
    assert notice["working_days_left"] == -1


async def test_away_supervisor_acknowledges_once(
    sup_client: Client, seated: dict[str, Any], clock: FakeClock, database: Database
) -> None:
    incident = await raise_as_host(sup_client, seated, "E06")
    notice_id = (await (await _conclude(sup_client, incident["id"])).json())["copy_notice_id"]
    path = f"/api/copy-notices/{notice_id}/acknowledge"
    venue = "曲靖市公共资源交易中心"
    for user, role in (
        ("km_supervisor", "监督人员"),
        ("dl_supervisor", "监督人员"),
        ("qj_admin", "场地管理员"),
        ("km_operator", "主场业务人员"),
        ("sysadmin", "系统管理员"),
    ):
        headers = await login(sup_client, user)
        got = await problem(await sup_client.post(path, headers=headers), 403)
        assert got["detail"] == (
            f"只有「{venue}」的监督人员可以确认接收该抄送告知，当前用户 {user}（{role}）无此权限"
        )
    assert (await problem(await sup_client.post(path), 401))["detail"] == (
        "未登录：请先登录后再操作"
    )
    clock.advance(days=1)
    headers = await login(sup_client, "qj_supervisor")
    resp = await sup_client.post(path, headers=headers)
    assert resp.status == 200, await resp.text()
    notice = await resp.json()
    assert notice["status"] == "acknowledged"
    assert notice["status_label"] == "已接收"
    assert notice["acknowledged_by"] == "qj_supervisor"
    assert notice["acknowledged_late"] is False
    got = await problem(await sup_client.post(path, headers=headers), 409)
    assert (
        got["detail"] == "该抄送告知已由 qj_supervisor 于 2026-12-01 09:00 确认接收，不能重复确认"
    )
    got = await problem(
        await sup_client.post("/api/copy-notices/999/acknowledge", headers=headers), 404
    )
    assert got["detail"] == "抄送告知 #999 不存在"
    async with database.read() as s:
        kinds = [e.kind for e in await load_chain(s)]
    assert kinds[-1] == "supervision.copy_notice_acknowledged"
    # The host supervisor sees the receipt; another away venue sees no notice at all.
    (seen,) = await _notices(sup_client, seated, "km_supervisor")
    assert seen["status"] == "acknowledged"
    assert await _notices(sup_client, seated, "dl_supervisor") == []
    headers = await login(sup_client, "hh_supervisor")
    resp = await sup_client.get(f"/api/sessions/{seated['session']}/copy-notices", headers=headers)
    await problem(resp, 403)


async def test_conclusion_refused_when_the_calendar_does_not_cover_the_due_date(
    sup_client: Client, seated: dict[str, Any], clock: FakeClock
) -> None:
    first, last = covered_years()
    assert last == 2026  # chinesecalendar 1.11; this test moves with the next release
    incident = await raise_as_host(sup_client, seated, "E06")
    clock.now = datetime(2026, 12, 28, 2, 0, tzinfo=UTC)  # 7 working days reach into 2027
    got = await problem(await _conclude(sup_client, incident["id"]), 409)
    assert got["detail"] == (
        f"无法计算抄送告知期限：节假日日历只覆盖 {first}–2026 年，不含 2027 年；"
        "请在国务院公布 2027 年节假日安排后，由系统管理员按通知添加 configs/holidays/2027.yaml，"
        "再试"
    )
    # Nothing was concluded: the case stays open, with no notice.
    headers = await login(sup_client, "km_supervisor")
    resp = await sup_client.get(f"/api/incidents/{incident['id']}", headers=headers)
    assert (await resp.json())["state"] == "open"
    assert await _notices(sup_client, seated, "km_supervisor") == []


async def test_handovers_due_five_working_days_after_the_session(
    sup_client: Client, seated: dict[str, Any], clock: FakeClock
) -> None:
    sid = seated["session"]
    path = f"/api/sessions/{sid}/handovers"
    headers = await login(sup_client, "km_supervisor")
    got = await problem(await sup_client.post(path, headers=headers), 409)
    assert got["detail"] == (
        f"评标会 #{sid} 尚未结束（结束时间 2026-12-01 17:30），结束后才能开启客场资料移交"
    )
    clock.now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 18:00 Beijing, after the session
    for user, role in (("qj_supervisor", "监督人员"), ("km_operator", "主场业务人员")):
        other = await login(sup_client, user)
        got = await problem(await sup_client.post(path, headers=other), 403)
        assert got["detail"] == (
            "只有主场「云南省公共资源交易中心（昆明）」的监督人员可以开启客场资料移交，"
            f"当前用户 {user}（{role}）无此权限"
        )
    headers = await login(sup_client, "km_supervisor")
    resp = await sup_client.post(path, headers=headers)
    assert resp.status == 201, await resp.text()
    opened = await resp.json()
    assert [(h["venue"]["venue_name"], h["due_on"], h["status"]) for h in opened] == [
        ("大理州公共资源交易中心", "2026-12-08", "pending"),
        ("曲靖市公共资源交易中心", "2026-12-08", "pending"),
    ]
    got = await problem(await sup_client.post(path, headers=headers), 409)
    assert got["detail"] == f"评标会 #{sid} 的客场资料移交已开启，不能重复开启"

    dl, qj = opened
    mark = f"/api/handovers/{dl['id']}/handed-over"
    other = await login(sup_client, "qj_supervisor")
    got = await problem(await sup_client.post(mark, headers=other), 403)
    assert got["detail"] == (
        "只有「大理州公共资源交易中心」的监督人员可以标记资料已移交，"
        "当前用户 qj_supervisor（监督人员）无此权限"
    )
    await problem(await sup_client.post(mark), 401)
    dl_headers = await login(sup_client, "dl_supervisor")
    resp = await sup_client.post(mark, headers=dl_headers)
    assert resp.status == 200
    assert ((await resp.json())["status"], (await resp.json())["status_label"]) == (
        "acknowledged",
        "已移交",
    )
    got = await problem(await sup_client.post(mark, headers=dl_headers), 409)
    assert got["detail"] == (
        f"资料移交 #{dl['id']} 已由 dl_supervisor 于 2026-12-01 18:00 标记为已移交，不能重复标记"
    )
    got = await problem(
        await sup_client.post("/api/handovers/999/handed-over", headers=dl_headers), 404
    )
    assert got["detail"] == "资料移交 #999 不存在"

    # 曲靖 has not handed over: overdue from 2026-12-09 (Beijing).
    clock.now = datetime(2026, 12, 8, 16, 0, tzinfo=UTC)
    headers = await login(sup_client, "qj_supervisor")
    resp = await sup_client.get(path, headers=headers)
    (only,) = await resp.json()
    assert (only["id"], only["status"], only["status_label"], only["overdue"]) == (
        qj["id"],
        "overdue",
        "已逾期",
        True,
    )
    headers = await login(sup_client, "km_supervisor")
    listed = await (await sup_client.get(path, headers=headers)).json()
    assert [h["status"] for h in listed] == ["acknowledged", "overdue"]
    headers = await login(sup_client, "hh_supervisor")
    await problem(await sup_client.get(path, headers=headers), 403)
    await problem(await sup_client.get(path), 401)
