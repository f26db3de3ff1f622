"""Assistance requests (函告): the host asks an away venue in writing; that venue answers."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from tests.conftest import FakeClock
from tests.hub.helpers import login, problem

Client = TestClient[Any, Any]


async def _send(client: Client, seated: dict[str, Any], venue: str, user: str) -> Any:
    headers = await login(client, user)
    return await client.post(
        f"/api/sessions/{seated['session']}/assistance-requests",
        json={
            "venue_id": seated["venues"][venue],
            "content": "请协助调取 QJ-01 工位 10:05 起的现场录像",
        },
        headers=headers,
    )


async def test_host_asks_and_the_away_venue_answers(
    sup_client: Client, seated: dict[str, Any], clock: FakeClock, database: Database
) -> None:
    resp = await _send(sup_client, seated, "QJ", "km_supervisor")
    assert resp.status == 201, await resp.text()
    sent = await resp.json()
    assert sent["venue"]["venue_name"] == "曲靖市公共资源交易中心"
    assert sent["requested_by"] == "km_supervisor"
    assert sent["requested_at"] == "2026-11-30T01:00:00+00:00"
    assert sent["answered"] is False
    path = f"/api/assistance-requests/{sent['id']}/respond"
    for user, role in (
        ("km_supervisor", "监督人员"),
        ("dl_supervisor", "监督人员"),
        ("qj_admin", "场地管理员"),
        ("sysadmin", "系统管理员"),
    ):
        headers = await login(sup_client, user)
        got = await problem(
            await sup_client.post(path, json={"response": "x"}, headers=headers), 403
        )
        assert got["detail"] == (
            f"只有「曲靖市公共资源交易中心」的监督人员可以答复该函告，当前用户 {user}（{role}）无此权限"
        )
    await problem(await sup_client.post(path, json={"response": "x"}), 401)
    clock.advance(hours=2)
    headers = await login(sup_client, "qj_supervisor")
    resp = await sup_client.post(path, json={"response": "录像已调取并上传"}, headers=headers)
    assert resp.status == 200
    answered = await resp.json()
    assert (answered["response"], answered["responded_by"], answered["responded_at"]) == (
        "录像已调取并上传",
        "qj_supervisor",
        "2026-11-30T03:00:00+00:00",
    )
    got = await problem(await sup_client.post(path, json={"response": "y"}, headers=headers), 409)
    assert got["detail"] == (
        f"函告 #{sent['id']} 已由 qj_supervisor 于 2026-11-30 11:00 答复，不能重复答复"
    )
    got = await problem(
        await sup_client.post(
            "/api/assistance-requests/999/respond", json={"response": "y"}, headers=headers
        ),
        404,
    )
    assert got["detail"] == "函告 #999 不存在"
    async with database.read() as s:
        kinds = [e.kind for e in await load_chain(s) if e.kind.startswith("supervision.")]
    assert kinds == ["supervision.assistance_requested", "supervision.assistance_answered"]


async def test_only_the_host_sends_and_only_to_an_away_venue(
    sup_client: Client, seated: dict[str, Any]
) -> None:
    for user, role in (
        ("qj_supervisor", "监督人员"),
        ("km_admin", "场地管理员"),
        ("km_operator", "主场业务人员"),
        ("sysadmin", "系统管理员"),
    ):
        got = await problem(await _send(sup_client, seated, "DL", user), 403)
        assert got["detail"] == (
            "只有主场「云南省公共资源交易中心（昆明）」的监督人员可以发出函告，"
            f"当前用户 {user}（{role}）无此权限"
        )
    for venue, name in (("HH", "红河州公共资源交易中心"), ("KM", "云南省公共资源交易中心（昆明）")):
        got = await problem(await _send(sup_client, seated, venue, "km_supervisor"), 422)
        assert got["detail"] == f"「{name}」没有本场评标会的专家就座，不是其客场，不能向其发出函告"
    headers = await login(sup_client, "km_supervisor")
    resp = await sup_client.post(
        f"/api/sessions/{seated['session']}/assistance-requests",
        json={"venue_id": 999, "content": "x"},
        headers=headers,
    )
    assert (await problem(resp, 404))["detail"] == "场地 #999 不存在"
    resp = await sup_client.post(
        f"/api/sessions/{seated['session']}/assistance-requests",
        json={"venue_id": seated["venues"]["QJ"], "content": "x"},
    )
    await problem(resp, 401)


async def test_each_away_venue_lists_only_what_was_sent_to_it(
    sup_client: Client, seated: dict[str, Any]
) -> None:
    to_qj = await (await _send(sup_client, seated, "QJ", "km_supervisor")).json()
    to_dl = await (await _send(sup_client, seated, "DL", "km_supervisor")).json()
    path = f"/api/sessions/{seated['session']}/assistance-requests"
    for user, expected in (
        ("km_supervisor", [to_qj["id"], to_dl["id"]]),
        ("sysadmin", [to_qj["id"], to_dl["id"]]),
        ("qj_supervisor", [to_qj["id"]]),
        ("dl_supervisor", [to_dl["id"]]),
    ):
        headers = await login(sup_client, user)
        resp = await sup_client.get(path, headers=headers)
        assert [r["id"] for r in await resp.json()] == expected, user
    for user in ("hh_supervisor", "km_admin", "km_operator"):
        headers = await login(sup_client, user)
        await problem(await sup_client.get(path, headers=headers), 403)
    await problem(await sup_client.get(path), 401)
