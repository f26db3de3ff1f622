"""The supervision record (联合监督记录) and who may see which part of it."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.hub.helpers import login, problem

Client = TestClient[Any, Any]


def _by_code(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["expert"]["code"]: row for row in record["experts"]}


async def test_host_supervisor_sees_every_expert_with_both_sites(
    sup_client: Client, seated: dict[str, Any]
) -> None:
    headers = await login(sup_client, "km_supervisor")
    resp = await sup_client.get(f"/api/sessions/{seated['session']}/supervision", headers=headers)
    assert resp.status == 200, await resp.text()
    record = await resp.json()
    assert record["scope"] == "all"
    rows = _by_code(record)
    assert sorted(rows) == ["E01", "E02", "E03", "E04", "E05", "E06", "E07"]
    km = {
        "venue_id": seated["venues"]["KM"],
        "venue_name": "云南省公共资源交易中心（昆明）",
        "supervising_department": "云南省发展和改革委员会",
    }
    for row in rows.values():
        assert row["primary_site"] == km
    assert rows["E06"]["seat"]["label"] == "QJ-01"
    assert rows["E06"]["secondary_site"] == {
        "venue_id": seated["venues"]["QJ"],
        "venue_name": "曲靖市公共资源交易中心",
        "supervising_department": "曲靖市发展和改革委员会",
    }
    assert rows["E03"]["secondary_site"]["supervising_department"] == "大理州发展和改革委员会"
    # Host experts sit at the host venue; an away expert without a seat has no secondary site.
    assert rows["E01"]["placement"] == "host"
    assert rows["E01"]["seat"] is None
    assert rows["E01"]["secondary_site"] == km
    assert rows["E05"]["seat"] is None
    assert rows["E05"]["secondary_site"] is None


async def test_system_admin_sees_everything(sup_client: Client, seated: dict[str, Any]) -> None:
    headers = await login(sup_client, "sysadmin")
    resp = await sup_client.get(f"/api/sessions/{seated['session']}/supervision", headers=headers)
    assert resp.status == 200
    assert len((await resp.json())["experts"]) == 7


async def test_away_supervisor_sees_only_experts_seated_at_their_venue(
    sup_client: Client, seated: dict[str, Any]
) -> None:
    for user, venue, codes in (
        ("qj_supervisor", "QJ", ["E06", "E07"]),
        ("dl_supervisor", "DL", ["E03", "E04"]),
    ):
        headers = await login(sup_client, user)
        resp = await sup_client.get(
            f"/api/sessions/{seated['session']}/supervision", headers=headers
        )
        assert resp.status == 200
        record = await resp.json()
        assert record["scope"] == "venue"
        assert record["scope_venue_id"] == seated["venues"][venue]
        assert sorted(_by_code(record)) == codes


async def test_others_are_refused_the_record(sup_client: Client, seated: dict[str, Any]) -> None:
    path = f"/api/sessions/{seated['session']}/supervision"
    sid = seated["session"]
    for user, role in (
        ("hh_supervisor", "监督人员"),  # 红河 seats no expert of this session
        ("km_admin", "场地管理员"),
        ("km_operator", "主场业务人员"),
    ):
        headers = await login(sup_client, user)
        body = await problem(await sup_client.get(path, headers=headers), 403)
        assert body["detail"] == (
            f"只有评标会 #{sid} 主场或客场的监督人员可以查看其监督记录，当前用户 {user}（{role}）无此权限"
        )
    body = await problem(await sup_client.get(path), 401)
    assert body["detail"] == "未登录：请先登录后再操作"
    headers = await login(sup_client, "km_supervisor")
    body = await problem(
        await sup_client.get("/api/sessions/999/supervision", headers=headers), 404
    )
    assert body["detail"] == "评标会 #999 不存在"


async def test_supervised_sessions_by_role(sup_client: Client, seated: dict[str, Any]) -> None:
    for user, role in (("km_supervisor", "host"), ("qj_supervisor", "away"), ("sysadmin", "host")):
        headers = await login(sup_client, user)
        resp = await sup_client.get("/api/supervision/sessions", headers=headers)
        assert resp.status == 200
        sessions = await resp.json()
        assert [(s["id"], s["role"]) for s in sessions] == [(seated["session"], role)]
    headers = await login(sup_client, "hh_supervisor")
    assert await (await sup_client.get("/api/supervision/sessions", headers=headers)).json() == []
    headers = await login(sup_client, "km_operator")
    body = await problem(await sup_client.get("/api/supervision/sessions", headers=headers), 403)
    assert body["detail"] == (
        "只有监督人员可以查看监督记录，当前用户 km_operator（主场业务人员）无此权限"
    )
    await problem(await sup_client.get("/api/supervision/sessions"), 401)
