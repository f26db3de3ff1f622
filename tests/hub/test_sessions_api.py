"""Sessions, experts and the venue timeline over HTTP, with every error's exact message."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from evaluation_hub.audit.store import load_chain
from tests.hub.helpers import login, problem

Client = TestClient[Any, Any]

SESSION = {
    "project_code": "YN-2026-SL-0001",
    "project_name": "某水库除险加固工程",
    "section": "第 1 标段",
    "starts_at": "2026-12-03T09:00:00+08:00",
    "ends_at": "2026-12-03T18:00:00+08:00",
    "committee_size": 5,
}


async def test_create_session_and_register_experts(
    client: Client, seeded: dict[str, Any], database: Any
) -> None:
    host = await login(client, "km_operator")
    resp = await client.post("/api/sessions", json=SESSION, headers=host)
    assert resp.status == 201, await resp.text()
    session = await resp.json()
    assert session["host_venue_id"] == seeded["venues"]["KM"]
    assert session["starts_at"] == "2026-12-03T01:00:00+00:00"
    assert session["state"] == "scheduled"
    async with database.read() as s:
        (created,) = [e for e in await load_chain(s) if e.kind == "session.created"]
    assert (created.actor, created.subject) == ("km_operator", f"session:{session['id']}")
    assert created.payload == {
        "project_code": "YN-2026-SL-0001",
        "section": "第 1 标段",
        "host_venue_id": seeded["venues"]["KM"],
        "starts_at": "2026-12-03T01:00:00+00:00",
        "ends_at": "2026-12-03T10:00:00+00:00",
        "committee_size": 5,
    }
    url = f"/api/sessions/{session['id']}/experts"
    for code in ("E01", "E02", "E03", "E04", "E05"):
        resp = await client.post(url, json={"expert_id": seeded["experts"][code]}, headers=host)
        assert resp.status == 201, await resp.text()
    resp = await client.post(url, json={"expert_id": seeded["experts"]["E05"]}, headers=host)
    assert (await problem(resp, 409))["detail"] == f"专家 E05 已在评标会 #{session['id']} 中"
    resp = await client.post(url, json={"expert_id": seeded["experts"]["E06"]}, headers=host)
    assert (await problem(resp, 409))["detail"] == f"评标会 #{session['id']} 的评标委员会已满 5 人"
    resp = await client.post(url, json={"expert_id": 999}, headers=host)
    assert (await problem(resp, 404))["detail"] == "专家 #999 不存在"
    resp = await client.post(
        url, json={"expert_id": seeded["experts"]["E06"], "placement": "roof"}, headers=host
    )
    assert (await problem(resp, 422))["detail"] == "字段 placement 必须是 host、away 之一"
    detail = await (await client.get(f"/api/sessions/{session['id']}", headers=host)).json()
    assert [e["code"] for e in detail["experts"]] == ["E01", "E02", "E03", "E04", "E05"]
    listed = await (await client.get("/api/sessions", headers=host)).json()
    assert [s["project_code"] for s in listed] == ["YN-2026-JS-0412", "YN-2026-SL-0001"]
    experts = await (await client.get("/api/experts", headers=host)).json()
    assert len(experts) == 7


async def test_session_rules(client: Client, seeded: dict[str, Any]) -> None:
    host = await login(client, "km_operator")
    cases = [
        ({"committee_size": 4}, 422, "评标委员会人数必须为 5 人以上的单数，当前为 4 人"),
        ({"committee_size": 3}, 422, "评标委员会人数必须为 5 人以上的单数，当前为 3 人"),
        (
            {"ends_at": "2026-12-04T01:00:00+08:00"},
            422,
            "评标时段必须在同一天内开始和结束：2026-12-03 09:00 至 2026-12-04 01:00 跨越了午夜，请拆分为两个时段（开评分离）",
        ),
        (
            {"starts_at": "2026-12-03T09:00:00"},
            422,
            "字段 starts_at 必须带时区，例如 2026-12-01T09:00:00+08:00",
        ),
        (
            {"starts_at": "tomorrow"},
            422,
            "字段 starts_at 必须是 ISO 8601 时间，例如 2026-12-01T09:00:00+08:00",
        ),
        (
            {"host_venue_id": seeded["venues"]["DL"]},
            403,
            "只有主场「大理州公共资源交易中心」的业务人员或系统管理员可以以「大理州公共资源交易中心」"
            "为主场创建评标会，当前用户 km_operator（主场业务人员）无此权限",
        ),
        ({"project_code": " "}, 422, "字段 project_code 不能为空"),
    ]
    for change, status, detail in cases:
        resp = await client.post("/api/sessions", json={**SESSION, **change}, headers=host)
        assert (await problem(resp, status))["detail"] == detail, change
    assert len(await (await client.get("/api/sessions", headers=host)).json()) == 1

    dali = await login(client, "dl_admin")
    resp = await client.post("/api/sessions", json=SESSION, headers=dali)
    assert (await problem(resp, 403))["detail"] == (
        "只有主场「大理州公共资源交易中心」的业务人员或系统管理员可以以「大理州公共资源交易中心」"
        "为主场创建评标会，当前用户 dl_admin（场地管理员）无此权限"
    )
    resp = await client.get(f"/api/sessions/{seeded['session']}", headers=dali)
    assert (await problem(resp, 403))[
        "detail"
    ] == f"评标会 #{seeded['session']} 不由本场地主办，无权查看"
    resp = await client.get("/api/sessions/999", headers=host)
    assert (await problem(resp, 404))["detail"] == "评标会 #999 不存在"
    admin = await login(client, "sysadmin")
    resp = await client.post("/api/sessions", json=SESSION, headers=admin)
    assert (await problem(resp, 422))["detail"] == "缺少字段 host_venue_id"
    resp = await client.post("/api/sessions", json={**SESSION, "host_venue_id": 999}, headers=admin)
    assert (await problem(resp, 404))["detail"] == "场地 #999 不存在"


async def test_timeline(client: Client, seeded: dict[str, Any]) -> None:
    host = await login(client, "km_operator")
    dali = await login(client, "dl_admin")
    seats = seeded["seats"]
    await client.post(
        "/api/bookings",
        json={
            "session_id": seeded["session"],
            "venue_id": seeded["venues"]["DL"],
            "seat_count": 1,
            "seat_ids": [seats["DL-03"]],
        },
        headers=host,
    )
    url = f"/api/venues/{seeded['venues']['DL']}/timeline"
    data = await (await client.get(f"{url}?date=2026-12-01", headers=dali)).json()
    holds = {s["label"]: s["holds"] for s in data["seats"]}
    assert [h["state_name"] for h in holds["DL-03"]] == ["待确认"]
    assert holds["DL-01"] == []
    data = await (await client.get(f"{url}?date=2026-12-02", headers=dali)).json()
    assert all(s["holds"] == [] for s in data["seats"])
    resp = await client.get(f"{url}?date=12/01", headers=dali)
    assert (await problem(resp, 422))["detail"] == "查询参数 date 必须是日期，例如 2026-12-01"
    resp = await client.get(f"{url}?date=2026-12-01", headers=host)
    assert (await problem(resp, 403))["detail"] == (
        "只有场地「大理州公共资源交易中心」的管理员可以管理场地「大理州公共资源交易中心」，"
        "当前用户 km_operator（主场业务人员）无此权限"
    )
    resp = await client.get("/api/venues/999/timeline?date=2026-12-01", headers=dali)
    assert (await problem(resp, 404))["detail"] == "场地 #999 不存在"
    resp = await client.patch("/api/seats/999", json={"room": "x"}, headers=dali)
    assert (await problem(resp, 404))["detail"] == "工位 #999 不存在"


async def test_the_system_administrator_creates_and_reads_sessions_but_forms_no_committee(
    client: Client, seeded: dict[str, Any]
) -> None:
    """三员分立: the system administrator creates sessions for any host and reads them, and does
    no host business: no committee, no seating, no PINs, no lifecycle move."""
    root = await login(client, "sysadmin")
    host_id = seeded["venues"]["KM"]
    resp = await client.post(
        "/api/sessions", json={**SESSION, "host_venue_id": host_id}, headers=root
    )
    assert resp.status == 201, await resp.text()
    sid = (await resp.json())["id"]
    assert (await client.get(f"/api/sessions/{sid}", headers=root)).status == 200
    listed = await (await client.get("/api/sessions", headers=root)).json()
    assert [s["id"] for s in listed] == [seeded["session"], sid]
    host_business = "只有主场「云南省公共资源交易中心（昆明）」的业务人员可以{}，当前用户 sysadmin（系统管理员）无此权限"
    resp = await client.post(
        f"/api/sessions/{sid}/experts", json={"expert_id": seeded["experts"]["E01"]}, headers=root
    )
    assert (await problem(resp, 403))["detail"] == host_business.format(
        f"办理评标会 #{sid} 的评标委员会组建"
    )
    resp = await client.post(
        f"/api/sessions/{seeded['session']}/committee/members/E01/decision",
        json={"decision": "confirmed"},
        headers=root,
    )
    assert (await problem(resp, 403))["detail"] == host_business.format(
        f"办理评标会 #{seeded['session']} 的评标委员会组建"
    )
    resp = await client.post(f"/api/sessions/{seeded['session']}/checkin-pins", headers=root)
    assert (await problem(resp, 403))["detail"] == host_business.format(
        f"安排评标会 #{seeded['session']} 的专家工位并发放签到码"
    )
    resp = await client.post(
        f"/api/sessions/{sid}/actions", json={"action": "confirm_seats"}, headers=root
    )
    assert (await problem(resp, 403))[
        "detail"
    ] == "只有主场可以确认工位，客场人员不能操作评标会进程"
    view = await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=root)).json()
    assert view["state"] == "scheduled"


async def test_the_committee_size_is_the_regulations(database: Any, seeded: dict[str, Any]) -> None:
    """The planned committee size follows ``Regulation.committee`` (odd, at least min_size)."""
    import dataclasses
    from datetime import datetime

    from evaluation_hub.principal import Principal
    from evaluation_hub.sessions import records
    from evaluation_hub.sessions.committee import CommitteeRules
    from evaluation_hub.sessions.errors import SessionRuleError
    from tests.hub.helpers import services_for

    hub = services_for(database)
    hub.config = dataclasses.replace(
        hub.config,
        regulation=dataclasses.replace(hub.config.regulation, committee=CommitteeRules(min_size=7)),
    )
    host = Principal("km_operator", "host_operator", seeded["venues"]["KM"])
    draft = records.SessionDraft(
        project_code="YN-2026-SL-0002",
        project_name="某水库除险加固工程",
        section="第 2 标段",
        starts_at=datetime.fromisoformat(SESSION["starts_at"]),
        ends_at=datetime.fromisoformat(SESSION["ends_at"]),
        committee_size=5,
    )
    now = datetime.fromisoformat("2026-11-30T09:00:00+08:00")
    with pytest.raises(SessionRuleError) as refused:
        await records.create_session(hub, host, draft, now=now)
    assert (refused.value.status, refused.value.detail) == (
        422,
        "评标委员会人数必须为 7 人以上的单数，当前为 5 人",
    )
    made = await records.create_session(
        hub, host, dataclasses.replace(draft, committee_size=7), now=now
    )
    assert (made.committee_size, made.host_venue_id) == (7, seeded["venues"]["KM"])
