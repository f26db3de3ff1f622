"""Administration over the API: the system administrator registers, changes and disables
venues (a disabled venue takes no new bookings); a venue admin manages the accounts of their
own venue only; a disabled user's token stops working at once; every change is on the audit
chain, which verifies, and on the audit page each venue admin sees their own venue's changes
only. Every refusal is problem+json with its exact message, and changes nothing."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evaluation_hub.audit.chain import AuditEvent, verify
from evaluation_hub.audit.store import load_chain, load_checkpoints
from evaluation_hub.db.engine import Database
from tests.hub.helpers import login, problem

Client = TestClient[Any, Any]
PASSWORD = "Qujing-2026!new"
_BAD_REGION = "行政区划代码「53010」无效：须为 6 位行政区划代码，例如 530100（昆明市）"


async def chain(db: Database) -> list[AuditEvent]:
    async with db.read() as s:
        events = await load_chain(s)
        checkpoints = await load_checkpoints(s)
    report = verify(events, checkpoints, Ed25519PrivateKey.generate().public_key())
    assert report.ok, report.summary()
    return events


async def test_venues_are_registered_changed_and_disabled_and_a_disabled_one_takes_no_bookings(
    client: Client, database: Database, seeded: dict[str, Any]
) -> None:
    root = await login(client, "sysadmin")
    resp = await client.post(
        "/api/venues",
        json={
            "code": "YX",
            "name": "玉溪市公共资源交易中心",
            "region_code": "530400",
            "supervising_department": "玉溪市发展和改革委员会",
            "contact_name": "白云",
            "contact_phone": "0877-0000005",
            "latitude": 24.352,
            "longitude": 102.543,
        },
        headers=root,
    )
    assert resp.status == 201, await resp.text()
    yuxi = await resp.json()
    assert {k: yuxi[k] for k in ("code", "region_code", "latitude", "longitude", "enabled")} == {
        "code": "YX",
        "region_code": "530400",
        "latitude": 24.352,
        "longitude": 102.543,
        "enabled": True,
    }
    # A region the region table does not hold, coordinates half given, out of range.
    for body, status, code, detail in (
        (
            {"region_code": "110100"},
            422,
            "unknown-region",
            "行政区划代码「110100」不在地区配置（configs/regions）中：请核对代码，"
            "或先在地区配置中补充该地区",
        ),
        (
            {"latitude": 25.0},
            422,
            "bad-coordinates",
            "坐标无效：纬度须在 -90 到 90 之间、经度须在 -180 到 180 之间，且两者须同时填写或同时留空",
        ),
        (
            {"supervising_department": "  "},
            422,
            "invalid-body",
            "字段 supervising_department 不能为空",
        ),
        ({"region_code": "53010"}, 422, "bad-region-code", _BAD_REGION),
    ):
        got = await problem(
            await client.patch(f"/api/venues/{yuxi['id']}", json=body, headers=root), status
        )
        assert (got["type"].rsplit("/", 1)[1], got["detail"]) == (code, detail)
    got = await problem(
        await client.post(
            "/api/venues",
            json={
                "code": "YX",
                "name": "x",
                "region_code": "530400",
                "supervising_department": "y",
            },
            headers=root,
        ),
        409,
    )
    assert got["detail"] == "场地代码「YX」已被使用，请换一个场地代码"
    # Only the system administrator administers venues, checked before the body's rules.
    qj_admin = await login(client, "qj_admin")
    qj = seeded["venues"]["QJ"]
    got = await problem(
        await client.patch(f"/api/venues/{qj}", json={"enabled": False}, headers=qj_admin), 403
    )
    assert got["detail"] == (
        "只有系统管理员可以修改场地「曲靖市公共资源交易中心」，当前用户 qj_admin（场地管理员）无此权限"
    )
    got = await problem(
        await client.post(
            "/api/venues",
            json={
                "code": "ZT",
                "name": "x",
                "region_code": "999999",
                "supervising_department": "y",
            },
            headers=qj_admin,
        ),
        403,
    )
    assert got["detail"] == "只有系统管理员可以登记场地，当前用户 qj_admin（场地管理员）无此权限"

    resp = await client.patch(
        f"/api/venues/{qj}",
        json={"contact_name": "张伟伟", "enabled": False},
        headers=root,
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["enabled"] is False
    # A disabled venue takes no new bookings: neither a request nor its seats as free ones.
    host = await login(client, "km_operator")
    body = {"session_id": seeded["session"], "venue_id": qj, "seat_count": 1}
    got = await problem(await client.post("/api/bookings", json=body, headers=host), 409)
    assert (got["type"].rsplit("/", 1)[1], got["detail"]) == (
        "venue-disabled",
        "场地「曲靖市公共资源交易中心」已停用，不接受新的预约",
    )
    free = await client.get(
        "/api/seats",
        params={
            "venue_id": str(qj),
            "free_from": "2030-01-01T09:00:00+08:00",
            "free_to": "2030-01-01T12:00:00+08:00",
        },
        headers=host,
    )
    assert free.status == 200 and await free.json() == []
    # Re-enabled, it takes bookings again.
    resp = await client.patch(f"/api/venues/{qj}", json={"enabled": True}, headers=root)
    assert resp.status == 200
    assert (await client.post("/api/bookings", json=body, headers=host)).status == 201

    admin_events = [
        (e.kind, e.subject, e.actor, e.payload.get("changed"))
        for e in await chain(database)
        if e.kind.startswith("admin.")
    ]
    assert admin_events == [
        ("admin.venue_added", "venue:YX", "sysadmin", None),
        (
            "admin.venue_changed",
            "venue:QJ",
            "sysadmin",
            {
                "contact_name": {"from": "张伟", "to": "张伟伟"},
                "enabled": {"from": True, "to": False},
            },
        ),
        ("admin.venue_changed", "venue:QJ", "sysadmin", {"enabled": {"from": False, "to": True}}),
    ]


async def test_a_venue_admin_manages_their_own_venue_accounts_and_a_disabled_token_dies_at_once(
    client: Client, database: Database, seeded: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        await _manage_accounts(client, database, seeded)
    # The passwords the admin set went to their hashes only: no log line holds them.
    for text in (repr(logs), caplog.text):
        assert PASSWORD not in text and "Reset-2026!x" not in text


async def _manage_accounts(client: Client, database: Database, seeded: dict[str, Any]) -> None:
    qj, km = seeded["venues"]["QJ"], seeded["venues"]["KM"]
    qj_admin = await login(client, "qj_admin")
    resp = await client.post(
        "/api/users",
        json={
            "username": "qj_operator2",
            "role": "host_operator",
            "venue_id": qj,
            "display_name": "曲靖业务员 赵六",
            "password": PASSWORD,
        },
        headers=qj_admin,
    )
    assert resp.status == 201, await resp.text()
    added = await resp.json()
    assert {k: added[k] for k in ("username", "role_name", "venue_code", "active")} == {
        "username": "qj_operator2",
        "role_name": "主场业务人员",
        "venue_code": "QJ",
        "active": True,
    }
    # Not another venue's accounts, not a system administrator's.
    got = await problem(
        await client.post(
            "/api/users",
            json={"username": "km_x", "role": "supervisor", "venue_id": km, "password": PASSWORD},
            headers=qj_admin,
        ),
        403,
    )
    assert got["detail"] == (
        "只有场地「云南省公共资源交易中心（昆明）」的管理员或系统管理员可以管理场地"
        "「云南省公共资源交易中心（昆明）」的用户账号，当前用户 qj_admin（场地管理员）无此权限"
    )
    got = await problem(
        await client.post(
            "/api/users",
            json={"username": "root2", "role": "system_admin", "password": PASSWORD},
            headers=qj_admin,
        ),
        403,
    )
    assert got["detail"] == (
        "只有系统管理员可以新增或管理系统管理员账号，当前用户 qj_admin（场地管理员）无此权限"
    )
    listed = await client.get("/api/users", params={"venue_id": str(qj)}, headers=qj_admin)
    assert [u["username"] for u in await listed.json()] == [
        "qj_admin",
        "qj_supervisor",
        "qj_operator2",
    ]
    got = await problem(await client.get("/api/users", headers=qj_admin), 403)
    assert (
        got["detail"] == "只有系统管理员可以管理用户账号，当前用户 qj_admin（场地管理员）无此权限"
    )
    km_users = await client.get("/api/users", params={"venue_id": str(km)}, headers=qj_admin)
    await problem(km_users, 403)

    # The new operator signs in; disabled, the token they hold stops working at once.
    operator = await login(client, "qj_operator2", PASSWORD)
    assert (await client.get("/api/me", headers=operator)).status == 200
    resp = await client.patch(f"/api/users/{added['id']}", json={"active": False}, headers=qj_admin)
    assert resp.status == 200 and (await resp.json())["active"] is False
    got = await problem(await client.get("/api/me", headers=operator), 401)
    assert got["detail"] == "登录凭证无效，请重新登录"
    got = await problem(
        await client.patch(f"/api/users/{added['id']}", json={"active": False}, headers=qj_admin),
        409,
    )
    assert got["detail"] == "用户「qj_operator2」已是停用状态，无需再停用"
    # Re-enabled with a password the admin sets; the old password no longer works.
    assert (
        await client.patch(f"/api/users/{added['id']}", json={"active": True}, headers=qj_admin)
    ).status == 200
    resp = await client.post(
        f"/api/users/{added['id']}/password", json={"password": "Reset-2026!x"}, headers=qj_admin
    )
    assert resp.status == 200, await resp.text()
    got = await problem(
        await client.post(
            "/api/auth/token", json={"username": "qj_operator2", "password": PASSWORD}
        ),
        401,
    )
    assert got["detail"] == "用户名或密码错误"
    await login(client, "qj_operator2", "Reset-2026!x")
    got = await problem(
        await client.post(
            f"/api/users/{added['id']}/password", json={"password": "short"}, headers=qj_admin
        ),
        422,
    )
    assert got["detail"] == "密码太短：至少需要 8 个字符，请换一个更长的密码"
    got = await problem(
        await client.patch("/api/users/999999", json={"active": False}, headers=qj_admin), 404
    )
    assert got["detail"] == "用户「#999999」不存在"

    events = [(e.kind, e.subject, e.actor) for e in await chain(database)]
    assert events == [
        ("admin.user_added", "user:qj_operator2", "qj_admin"),
        ("admin.user_disabled", "user:qj_operator2", "qj_admin"),
        ("admin.user_enabled", "user:qj_operator2", "qj_admin"),
        ("admin.password_reset", "user:qj_operator2", "qj_admin"),
    ]
    for event in await chain(database):
        assert PASSWORD not in repr(event) and "Reset-2026!x" not in repr(event)


async def test_the_audit_page_shows_all_changes_to_the_administrator_and_a_venue_its_own(
    client: Client, database: Database, seeded: dict[str, Any]
) -> None:
    root = await login(client, "sysadmin")
    qj, dl = seeded["venues"]["QJ"], seeded["venues"]["DL"]
    await client.patch(f"/api/venues/{qj}", json={"contact_phone": "0874-9999999"}, headers=root)
    await client.patch(f"/api/venues/{dl}", json={"contact_phone": "0872-9999999"}, headers=root)
    qj_admin = await login(client, "qj_admin")
    resp = await client.post(
        f"/api/venues/{qj}/seats", json={"label": "QJ-09", "room": "三楼"}, headers=qj_admin
    )
    assert resp.status == 201
    seat = await resp.json()
    resp = await client.patch(
        f"/api/seats/{seat['id']}", json={"status": "maintenance"}, headers=qj_admin
    )
    assert resp.status == 200
    await client.post(
        "/api/users",
        json={"username": "qj_sup2", "role": "supervisor", "venue_id": qj, "password": PASSWORD},
        headers=qj_admin,
    )
    dl_admin = await login(client, "dl_admin")
    dl_users = await (
        await client.get("/api/users", params={"venue_id": str(dl)}, headers=root)
    ).json()
    supervisor = next(u for u in dl_users if u["username"] == "dl_supervisor")
    await client.patch(f"/api/users/{supervisor['id']}", json={"active": False}, headers=dl_admin)

    everything = await (await client.get("/api/admin/changes", headers=root)).json()
    assert [(c["kind_name"], c["subject"], c["venue_code"]) for c in everything["changes"]] == [
        ("停用用户", "user:dl_supervisor", "DL"),
        ("新增用户", "user:qj_sup2", "QJ"),
        ("修改工位", f"seat:{seat['id']}", "QJ"),
        ("发布工位", f"seat:{seat['id']}", "QJ"),
        ("修改场地", "venue:DL", "DL"),
        ("修改场地", "venue:QJ", "QJ"),
    ]
    changed = everything["changes"][2]
    assert (changed["actor"], changed["before"], changed["after"], changed["field_names"]) == (
        "qj_admin",
        {"status": "available"},
        {"status": "maintenance"},
        {"status": "状态"},
    )
    own = await (
        await client.get("/api/admin/changes", params={"venue_id": str(qj)}, headers=qj_admin)
    ).json()
    assert [c["subject"] for c in own["changes"]] == [
        "user:qj_sup2",
        f"seat:{seat['id']}",
        f"seat:{seat['id']}",
        "venue:QJ",
    ]
    paged = await (
        await client.get(
            "/api/admin/changes", params={"venue_id": str(qj), "limit": "3"}, headers=qj_admin
        )
    ).json()
    assert len(paged["changes"]) == 3 and paged["next_before"] == paged["changes"][-1]["seq"]
    older = await (
        await client.get(
            "/api/admin/changes",
            params={"venue_id": str(qj), "before": str(paged["next_before"])},
            headers=qj_admin,
        )
    ).json()
    assert [c["subject"] for c in older["changes"]] == ["venue:QJ"]
    assert older["next_before"] is None
    # Another venue's changes, or all of them, are not a venue admin's to see.
    got = await problem(
        await client.get("/api/admin/changes", params={"venue_id": str(dl)}, headers=qj_admin),
        403,
    )
    assert got["detail"] == (
        "只有场地「大理州公共资源交易中心」的管理员或系统管理员可以查看场地「大理州公共资源交易中心」"
        "的操作日志，当前用户 qj_admin（场地管理员）无此权限"
    )
    got = await problem(await client.get("/api/admin/changes", headers=qj_admin), 403)
    assert (
        got["detail"]
        == "只有系统管理员可以查看全部操作日志，当前用户 qj_admin（场地管理员）无此权限"
    )
    operator = await login(client, "km_operator")
    await problem(await client.get("/api/admin/changes", headers=operator), 403)


async def test_the_allocator_seats_nobody_at_a_disabled_venue(
    client: Client, seeded: dict[str, Any]
) -> None:
    root = await login(client, "sysadmin")
    dl = seeded["venues"]["DL"]
    assert (
        await client.patch(f"/api/venues/{dl}", json={"enabled": False}, headers=root)
    ).status == 200
    host = await login(client, "km_operator")
    resp = await client.post(
        f"/api/sessions/{seeded['session']}/allocation", json={"policy": "nearest"}, headers=host
    )
    assert resp.status == 200, await resp.text()
    labels = {a["expert_code"]: a["seat_label"] for a in (await resp.json())["assignments"]}
    # 大理's experts would sit at home (tests/hub/test_allocation_api.py); 大理 is disabled.
    assert sorted(labels) == ["E03", "E04", "E05", "E06", "E07"]
    assert not any(label.startswith("DL-") for label in labels.values()), labels
