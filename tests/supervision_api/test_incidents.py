"""Incidents (监督事件): raised and handled by the host, read by the away site it concerns,
each change an audit event."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from tests.hub.helpers import login, problem

Client = TestClient[Any, Any]

NOT_HOST = (
    "只有主场「云南省公共资源交易中心（昆明）」的监督人员可以{action}，当前用户 {who}无此权限"
)


def incident_body(seated: dict[str, Any], code: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "评标期间使用手机",
        "severity": "serious",
        "expert_id": seated["experts"][code],
        "description": "监控画面显示专家在评标期间使用手机",
        "evidence": {
            "recording_segment_id": "seg-0412-QJ-01-0003",
            "offset_s": 754,
            "audit_seqs": [3],
        },
        **extra,
    }


async def raise_as_host(client: Client, seated: dict[str, Any], code: str) -> dict[str, Any]:
    headers = await login(client, "km_supervisor")
    resp = await client.post(
        f"/api/sessions/{seated['session']}/incidents",
        json=incident_body(seated, code),
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def test_host_supervisor_raises_handles_and_concludes(
    sup_client: Client, seated: dict[str, Any], database: Database
) -> None:
    headers = await login(sup_client, "km_supervisor")
    resp = await sup_client.post(
        f"/api/sessions/{seated['session']}/incidents",
        json=incident_body(seated, "E06", seat_id=seated["seats"]["QJ-01"]),
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    incident = await resp.json()
    assert incident["seat"] == {"id": seated["seats"]["QJ-01"], "label": "QJ-01"}
    assert incident["venue"]["venue_name"] == "曲靖市公共资源交易中心"
    assert incident["seated_away"] is True
    assert incident["state"] == "open"
    assert incident["severity_label"] == "较重"
    assert incident["evidence"]["offset_s"] == 754
    iid = incident["id"]

    resp = await sup_client.post(
        f"/api/incidents/{iid}/handling", json={"note": "已电话提醒曲靖现场"}, headers=headers
    )
    assert resp.status == 200
    handled = await resp.json()
    assert handled["state"] == "handling"
    assert [(h["note"], h["by"]) for h in handled["handling"]] == [
        ("已电话提醒曲靖现场", "km_supervisor")
    ]

    resp = await sup_client.post(
        f"/api/incidents/{iid}/conclude", json={"result": "给予警告并记录"}, headers=headers
    )
    assert resp.status == 200
    concluded = await resp.json()
    assert concluded["state"] == "concluded"
    assert concluded["result"] == "给予警告并记录"
    assert concluded["concluded_by"] == "km_supervisor"
    assert concluded["copy_notice_id"] is not None

    async with database.read() as s:
        events = await load_chain(s)
    mine = [(e.kind, e.subject) for e in events if e.kind.startswith("supervision.")]
    assert mine == [
        ("supervision.incident_raised", f"incident:{iid}"),
        ("supervision.incident_handled", f"incident:{iid}"),
        ("supervision.incident_concluded", f"incident:{iid}"),
        ("supervision.copy_notice_created", f"copy_notice:{concluded['copy_notice_id']}"),
    ]

    # A concluded case is closed to further handling and to a second conclusion.
    resp = await sup_client.post(
        f"/api/incidents/{iid}/conclude", json={"result": "x"}, headers=headers
    )
    body = await problem(resp, 409)
    assert body["detail"] == f"监督事件 #{iid} 已于 2026-11-30 09:00 结案，不能再结案"
    resp = await sup_client.post(
        f"/api/incidents/{iid}/handling", json={"note": "x"}, headers=headers
    )
    body = await problem(resp, 409)
    assert body["detail"] == f"监督事件 #{iid} 已于 2026-11-30 09:00 结案，不能再记录处理情况"


async def test_incident_about_a_host_expert_makes_no_copy_notice(
    sup_client: Client, seated: dict[str, Any]
) -> None:
    incident = await raise_as_host(sup_client, seated, "E01")
    assert incident["seated_away"] is False
    headers = await login(sup_client, "km_supervisor")
    resp = await sup_client.post(
        f"/api/incidents/{incident['id']}/conclude", json={"result": "提醒"}, headers=headers
    )
    assert (await resp.json())["copy_notice_id"] is None


async def test_only_the_host_supervisor_raises_handles_and_concludes(
    sup_client: Client, seated: dict[str, Any]
) -> None:
    incident = await raise_as_host(sup_client, seated, "E06")
    iid = incident["id"]
    create = f"/api/sessions/{seated['session']}/incidents"
    for user, role in (
        ("qj_supervisor", "监督人员"),
        ("hh_supervisor", "监督人员"),
        ("km_admin", "场地管理员"),
        ("km_operator", "主场业务人员"),
        ("sysadmin", "系统管理员"),
    ):
        headers = await login(sup_client, user)
        who = f"{user}（{role}）"
        for path, body, action in (
            (create, incident_body(seated, "E06"), "登记监督事件"),
            (f"/api/incidents/{iid}/handling", {"note": "x"}, "记录处理情况"),
            (f"/api/incidents/{iid}/conclude", {"result": "x"}, "结案"),
        ):
            got = await problem(await sup_client.post(path, json=body, headers=headers), 403)
            assert got["detail"] == NOT_HOST.format(action=action, who=who), path
    for path, body in (
        (create, incident_body(seated, "E06")),
        (f"/api/incidents/{iid}/handling", {"note": "x"}),
        (f"/api/incidents/{iid}/conclude", {"result": "x"}),
    ):
        got = await problem(await sup_client.post(path, json=body), 401)
        assert got["detail"] == "未登录：请先登录后再操作"


async def test_refused_incident_input(sup_client: Client, seated: dict[str, Any]) -> None:
    headers = await login(sup_client, "km_supervisor")
    sid = seated["session"]
    path = f"/api/sessions/{sid}/incidents"
    body = incident_body(seated, "E06")
    body["expert_id"] = 999
    got = await problem(await sup_client.post(path, json=body, headers=headers), 422)
    assert got["detail"] == f"专家 #999 不是评标会 #{sid} 的评委"
    body = incident_body(seated, "E06", seat_id=seated["seats"]["QJ-02"])
    got = await problem(await sup_client.post(path, json=body, headers=headers), 422)
    assert (
        got["detail"]
        == f"专家 E06 在本场评标会工位是 QJ-01，与所填工位 #{seated['seats']['QJ-02']} 不符"
    )
    body = incident_body(seated, "E05", seat_id=seated["seats"]["QJ-02"])
    got = await problem(await sup_client.post(path, json=body, headers=headers), 422)
    assert got["detail"] == (
        f"专家 E05 在本场评标会没有安排工位，与所填工位 #{seated['seats']['QJ-02']} 不符"
    )
    body = incident_body(seated, "E06", severity="fatal")
    got = await problem(await sup_client.post(path, json=body, headers=headers), 422)
    assert got["detail"]
    got = await problem(
        await sup_client.post(
            "/api/sessions/999/incidents", json=incident_body(seated, "E06"), headers=headers
        ),
        404,
    )
    assert got["detail"] == "评标会 #999 不存在"
    for suffix, payload in (("handling", {"note": "x"}), ("conclude", {"result": "x"})):
        got = await problem(
            await sup_client.post(f"/api/incidents/999/{suffix}", json=payload, headers=headers),
            404,
        )
        assert got["detail"] == "监督事件 #999 不存在"
    got = await problem(await sup_client.get("/api/incidents/999", headers=headers), 404)
    assert got["detail"] == "监督事件 #999 不存在"


async def test_away_supervisor_reads_only_incidents_about_their_venue(
    sup_client: Client, seated: dict[str, Any]
) -> None:
    at_qj = await raise_as_host(sup_client, seated, "E06")
    at_dl = await raise_as_host(sup_client, seated, "E03")
    at_host = await raise_as_host(sup_client, seated, "E01")
    listing = f"/api/sessions/{seated['session']}/incidents"
    for user, visible in (
        ("km_supervisor", [at_qj, at_dl, at_host]),
        ("sysadmin", [at_qj, at_dl, at_host]),
        ("qj_supervisor", [at_qj]),
        ("dl_supervisor", [at_dl]),
    ):
        headers = await login(sup_client, user)
        resp = await sup_client.get(listing, headers=headers)
        assert resp.status == 200
        assert [i["id"] for i in await resp.json()] == [i["id"] for i in visible], user
        for incident in (at_qj, at_dl, at_host):
            resp = await sup_client.get(f"/api/incidents/{incident['id']}", headers=headers)
            if incident in visible:
                assert resp.status == 200
                assert (await resp.json())["id"] == incident["id"]
            else:
                got = await problem(resp, 403)
                assert got["detail"] == (
                    f"监督事件 #{incident['id']} 不涉及在本场地就座的专家，无权查看"
                )
    for user, role in (
        ("hh_supervisor", "监督人员"),
        ("km_admin", "场地管理员"),
        ("km_operator", "主场业务人员"),
    ):
        headers = await login(sup_client, user)
        for path in (listing, f"/api/incidents/{at_qj['id']}"):
            got = await problem(await sup_client.get(path, headers=headers), 403)
            assert got["detail"] == (
                f"只有评标会 #{seated['session']} 主场或客场的监督人员可以查看其监督记录，"
                f"当前用户 {user}（{role}）无此权限"
            )
    for path in (listing, f"/api/incidents/{at_qj['id']}"):
        await problem(await sup_client.get(path), 401)
